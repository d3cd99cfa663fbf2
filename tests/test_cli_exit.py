"""``exit_now``: the console script skips the interpreter's teardown, and loses nothing a normal
exit would have done (issue 16): the exit code, buffered output, atexit handlers, temporary
directories' cleanup, threads still working, an executor left open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROGRAM = r"""
import atexit, concurrent.futures, sys, tempfile, threading, time
from pathlib import Path
from mlops_ci.cli import exit_now

out = Path(sys.argv[1])
atexit.register(lambda: (out / "atexit").write_text("ran"))
scratch = tempfile.TemporaryDirectory(dir=out)  # removed by its finaliser at exit
(out / "scratch").write_text(scratch.name)

def slow() -> None:
    time.sleep(0.3)
    (out / "thread").write_text("finished")

threading.Thread(target=slow).start()
pool = concurrent.futures.ThreadPoolExecutor(2)  # never shut down: exit must not hang on it
pool.submit(lambda: None).result()
sys.stdout.write("x" * 200_000)  # more than a pipe holds: flushed, not lost
exit_now(3)
"""


def test_exit_now_does_what_a_normal_exit_does(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout == "x" * 200_000
    assert (tmp_path / "atexit").read_text() == "ran"
    assert (tmp_path / "thread").read_text() == "finished"
    assert not Path((tmp_path / "scratch").read_text()).exists()


def test_the_console_script_exits_with_mains_code(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "mlops-ci"
    version = subprocess.run(
        [str(script), "--version"], check=False, capture_output=True, text=True
    )
    assert (version.returncode, version.stdout.startswith("mlops-ci ")) == (0, True)
    usage = subprocess.run(
        [str(script), "check", "--only", "nosuch"],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
    )
    assert usage.returncode == 2 and "no mlops-ci.yaml" in usage.stderr
    module = subprocess.run(
        [sys.executable, "-m", "mlops_ci", "--version"], check=False, capture_output=True, text=True
    )
    assert module.returncode == 0 and module.stdout == version.stdout
