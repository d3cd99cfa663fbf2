"""The demo's registry act: push the model to an OCI registry, verify it there, promote by digest.

A registry is started for the demo only: Debian's ``docker-registry`` (CNCF distribution) on a
free loopback port, storing in a temporary directory removed afterwards. Without that program
(or when it does not start) the demo says so plainly and goes on: nothing else depends on it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mlops_ci.demo import DEMO_MODEL

Say = Callable[[str], None]
REGISTRY_PROGRAM = "docker-registry"
_START_TIMEOUT_S = 15.0


class RegistryUnavailable(Exception):
    """The demo's registry could not be started (the reason is said, then the act skipped)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def loopback_registry() -> Iterator[str]:
    """A ``docker-registry`` on ``127.0.0.1:PORT`` for as long as the block runs; yields the host."""
    binary = shutil.which(REGISTRY_PROGRAM)
    if binary is None:
        raise RegistryUnavailable(
            f"`{REGISTRY_PROGRAM}` is not installed (Debian/Ubuntu: apt-get install docker-registry)"
        )
    with tempfile.TemporaryDirectory(prefix="mlops-ci-demo-registry-") as tmp:
        port = _free_port()
        config = Path(tmp) / "config.yml"
        settings = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": f"{tmp}/storage"}},
            "http": {"addr": f"127.0.0.1:{port}"},
        }
        config.write_text(json.dumps(settings))  # JSON is YAML: no YAML writer needed
        process = subprocess.Popen(
            [binary, "serve", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_up(port, process)
            yield f"127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RegistryUnavailable(f"`{REGISTRY_PROGRAM}` exited at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RegistryUnavailable(f"`{REGISTRY_PROGRAM}` did not start within {_START_TIMEOUT_S:.0f} s")


def registry_act(target: Path, say: Say, version: str, land: Callable[..., int]) -> int:
    """``push``, ``verify oci://``, then ``promote --to dev --artifact oci://...@sha256:...``
    (merged by ``land``); skipped, saying why, when no registry can be started."""
    say("\n# the same model in an OCI registry, promoted by digest")
    try:
        with loopback_registry() as host:
            return _push_verify_promote(target, say, host, version, land)
    except RegistryUnavailable as why:
        say(
            f"skipped: pushing to an OCI registry, verifying from it and promoting by digest,"
            f" because {why}"
        )
        return 0


def _push_verify_promote(
    target: Path, say: Say, host: str, version: str, land: Callable[..., int]
) -> int:
    from mlops_ci.config import load_config
    from mlops_ci.oci.errors import OciError
    from mlops_ci.oci.push import push_model
    from mlops_ci.oci.reference import parse_reference
    from mlops_ci.oci.verify import verify_artifact
    from mlops_ci.promote.service import PromoteRequest
    from mlops_ci.signing import policy_from_config

    loaded = load_config(cwd=target)
    destination = f"oci://{host}/models/{DEMO_MODEL}:{version}"
    say(f"$ mlops-ci push {DEMO_MODEL} --to {destination}")
    try:
        pushed = push_model(loaded, DEMO_MODEL, parse_reference(destination))
        for referrer in pushed.referrers:
            say(f"referrer: {referrer.role:<12} {referrer.digest}")
        say(f"digest: {pushed.digest}")
        pinned = str(pushed.reference)
        say(f"$ mlops-ci verify {pinned}")
        verified = verify_artifact(pushed.reference, policy_from_config(loaded))
    except OciError as exc:
        say(f"failed: {exc}")
        return 1
    for line in verified.lines:
        if line.verified is None:
            say(f"FAILED    {line.role:<12} {line.subject}: {line.reason}")
            return 1
        say(f"verified  {line.role:<12} {line.subject} ({line.verified.mode} mode)")
    command = f"mlops-ci promote {DEMO_MODEL} --to dev --artifact {pinned} --forge none"
    request = PromoteRequest(DEMO_MODEL, "dev", forge="none", artifact=pinned)
    return int(land(target, say, command, request))
