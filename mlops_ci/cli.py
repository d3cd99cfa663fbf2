"""The command line. The only module (with its command groups) that prints, reads argv or exits.

Exit codes: 0 all gates passed; 1 a gate failed; 2 usage, configuration or input error (one line
on stderr naming the file and line); 3 internal error. The typer app lives in
:mod:`mlops_ci.commands.root` and is imported only when a command runs: ``mlops-ci --version``
answers from here, without typer, click or rich, so it costs little more than the interpreter.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from mlops_ci import __version__

EXIT_OK, EXIT_FAILED, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map every outcome to an exit code.

    Standard output and standard error pass through :mod:`mlops_ci.scrub` for the whole run:
    whatever a command prints, the value of a secret variable never reaches a CI log.
    """
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        # The same line as typer's eager --version option; a constant, so nothing to scrub.
        sys.stdout.write(f"mlops-ci {__version__}\n")
        sys.stdout.flush()
        return EXIT_OK
    from mlops_ci.scrub import ScrubbingStream

    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbingStream(sys.stdout), ScrubbingStream(sys.stderr)
    try:
        return _run(args)
    finally:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = saved


def run() -> NoReturn:
    """The ``mlops-ci`` console script: :func:`main`, then an exit without the interpreter's
    teardown (:func:`exit_now`)."""
    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """Exit with ``code`` as a normal exit would, less the interpreter's finalisation.

    Tearing down what a ``check`` has loaded (onnxruntime, pyarrow, pandas, numpy and ~2,000
    modules) takes ~0.5 s on 2 cores after the work is done (measured: 0.42-0.77 s; 0.02-0.06 s
    this way). Everything a normal exit does that can matter is done first, in its order:
    threading's own shutdown (executors told to stop, every non-daemon thread joined), the
    ``atexit`` handlers (logging's flush, ``weakref.finalize`` callbacks such as temporary
    directories' removal, a coverage tool's data), and the standard streams flushed. Files are
    written inside ``with`` blocks or atomically (:mod:`mlops_ci.fsutil`), never left to a
    finaliser to close.
    """
    import atexit
    import contextlib
    import threading

    shutdown = getattr(threading, "_shutdown", None)  # what Py_FinalizeEx calls first
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: a normal exit ignores it too
            stream.flush()
    os._exit(code)


def _run(argv: list[str]) -> int:
    import typer
    from typer.exceptions import TyperException

    from mlops_ci.commands.root import app
    from mlops_ci.errors import MlopsCiError
    from mlops_ci.scrub import excerpt, scrub_line

    try:
        result = app(args=argv, prog_name="mlops-ci", standalone_mode=False)
    except MlopsCiError as exc:
        print(f"{exc.label}: {scrub_line(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return int(exc.exit_code)
    except TyperException as exc:  # typer's (vendored click's) usage errors
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(f"error: {scrub_line(exc.format_message())}", file=sys.stderr)
        return EXIT_INPUT
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("MLOPS_CI_DEBUG"):
            raise
        hint = "set MLOPS_CI_DEBUG=1 for a traceback"
        # An exception's text may quote input: a short, scrubbed excerpt only.
        shown = excerpt(str(exc), limit=200)
        print(f"internal error: {exc.__class__.__name__}: {shown} ({hint})", file=sys.stderr)
        return EXIT_INTERNAL
    return result if isinstance(result, int) else EXIT_OK
