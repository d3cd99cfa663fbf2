"""The software part of the SBOM: ``cyclonedx-py`` (``cyclonedx-bom``) run on requirements files
or on a Python environment.

cyclonedx-bom has no public Python API, so its command line is the interface: it runs once per
requirements file (or once for the environment) with ``--no-validate`` (the whole document is
validated once, in-process, after the ML-BOM part is added) and ``--output-reproducible``.

One inventory per distinct requirements set per process: models sharing requirements files (a
monorepo's 20 models, checked in parallel) wait for one cyclonedx-py run, keyed by the bytes of
every file it reads (includes followed) and how they are named in the document.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mlops_ci.errors import ConfigError, SourcePosition
from mlops_ci.sbom.requirements import check_requirements_file
from mlops_ci.scrub import excerpt, subprocess_environ

SourceKind = Literal["requirements", "environment"]
CYCLONEDX_TIMEOUT_S = 900
_REQUIREMENTS_REF = "requirements-L"
# Environment inventories of the running interpreter, by installed distributions (never mutated).
_environment_parts: dict[tuple[str, ...], SoftwarePart] = {}
_environment_lock = threading.Lock()
# Requirements inventories by the content of the files read; a Future so parallel models wait.
_requirements_parts: dict[tuple[object, ...], Future[SoftwarePart]] = {}
_requirements_lock = threading.Lock()
_MEMO_LIMIT = 64


class CycloneDxError(RuntimeError):
    """cyclonedx-py exited with an error the input checks did not foresee (an internal error)."""


@dataclass(frozen=True)
class SoftwareSource:
    """What the software components are read from."""

    kind: SourceKind
    requirements: tuple[Path, ...] = ()
    python: str | None = None
    root: Path | None = None  # the repository: where -r/-c includes must stay


@dataclass(frozen=True)
class SoftwarePart:
    """Components, dependency graph and tool entries produced by cyclonedx-py."""

    components: list[dict[str, Any]]
    dependencies: list[dict[str, Any]]
    tools: list[dict[str, Any]]


def software_source(
    source: str,
    requirements: Sequence[str],
    python: str | None,
    resolve: Callable[[str], Path],
    config_position: SourcePosition,
    root: Path | None = None,
    python_trusted: bool = False,
) -> SoftwareSource:
    """Decide the source from the ``sbom:`` settings (``auto``: requirements when there are any).

    ``python_trusted``: the interpreter came from the pipeline (``MLOPS_CI_SBOM_PYTHON``), not
    from the repository's configuration, so it may be any file.
    """
    kind = source
    if kind == "auto":
        kind = "requirements" if requirements else "environment"
    if kind == "requirements":
        if not requirements:
            raise ConfigError(
                "sbom.source is 'requirements' but no requirements files are configured;"
                " set sbom.requirements (or scan.requirements)",
                config_position,
            )
        for name in requirements:
            if Path(name).name == "pyproject.toml":
                raise ConfigError(
                    f"the SBOM is made from requirements files, not {name}; list a requirements"
                    " file in sbom.requirements, or set sbom.source: environment",
                    config_position,
                )
        paths = tuple(resolve(name) for name in requirements)
        return SoftwareSource("requirements", paths, root=root)
    interpreter = None
    if python is not None:
        candidate = resolve(python)
        if not candidate.exists():
            raise ConfigError(
                f"sbom.python {python!r} does not exist; give a Python interpreter or a virtualenv",
                config_position,
            )
        if not python_trusted and root is not None and _committed(root, python, candidate):
            # cyclonedx-py runs the interpreter it inventories: a committed one is the PR's code.
            raise ConfigError(
                "sbom.python names a file committed to the repository, which mlops-ci would run;"
                " name an interpreter the pipeline installed, or set MLOPS_CI_SBOM_PYTHON",
                config_position,
            )
        interpreter = str(candidate)
    return SoftwareSource("environment", python=interpreter)


def _committed(root: Path, configured: str, resolved: Path) -> bool:
    """Whether the configured interpreter, or what it resolves to, is a file git tracks."""
    from mlops_ci.gitops import is_tracked

    base = root.resolve()
    unresolved = Path(os.path.normpath(base / configured))
    return is_tracked(base, unresolved) or is_tracked(base, resolved.resolve())


def build_software_part(source: SoftwareSource, display: Callable[[Path], str]) -> SoftwarePart:
    """Run cyclonedx-py and merge its output (one run per requirements file); the same files,
    byte for byte, are inventoried once per process (see the module's description)."""
    if source.kind == "environment":
        return _environment_part(source.python)
    key = _requirements_key(source, display)
    if key is None:
        return _requirements_part(source, display)
    with _requirements_lock:
        future = _requirements_parts.get(key)
        owner = future is None
        if future is None:
            if len(_requirements_parts) >= _MEMO_LIMIT:
                _requirements_parts.clear()
            future = _requirements_parts[key] = Future()
    if owner:
        try:
            future.set_result(_requirements_part(source, display))
        except BaseException as exc:
            with _requirements_lock:  # a failure is reported to this run's waiters, not kept
                _requirements_parts.pop(key, None)
            future.set_exception(exc)
    return future.result()


def _requirements_key(
    source: SoftwareSource, display: Callable[[Path], str]
) -> tuple[object, ...] | None:
    """The content of every file cyclonedx-py would read for ``source``, and their names in the
    document; None when the bytes do not decide (``${VAR}``, a local package): no memo."""
    from mlops_ci.scan.requirements import requirement_files

    files = requirement_files(list(source.requirements), source.root)
    if files is None:
        return None
    digest = hashlib.sha256()
    try:
        for file in files:
            digest.update(f"{file.resolve()}\0".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    except OSError:
        return None
    shown = tuple((str(p.resolve()), display(p)) for p in source.requirements)
    return (shown, str(source.root), digest.hexdigest())


def _requirements_part(source: SoftwareSource, display: Callable[[Path], str]) -> SoftwarePart:
    for path in source.requirements:
        check_requirements_file(path, display, source.root)
    components: list[dict[str, Any]] = []
    dependencies: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    for path in source.requirements:
        bom = _run_cyclonedx(["requirements", str(path.resolve())])
        tools = tools or _tools(bom)
        rename = _ref_renamer(display(path))
        for component in bom.get("components", []):
            components.append(_with_ref(component, rename))
        for dependency in bom.get("dependencies", []):
            entry: dict[str, Any] = {"ref": rename(dependency["ref"])}
            if dependency.get("dependsOn"):
                entry["dependsOn"] = [rename(ref) for ref in dependency["dependsOn"]]
            dependencies.append(entry)
    return SoftwarePart(components, dependencies, tools)


def _environment_part(python: str | None) -> SoftwarePart:
    """The environment's components; the running interpreter's are computed once per set of
    installed distributions (every model of a run shares them)."""
    key = None if python else _installed_distributions()
    with _environment_lock:  # models checked in parallel wait for one inventory
        if key is not None and key in _environment_parts:
            return _environment_parts[key]
        bom = _run_cyclonedx(["environment"] + ([python] if python else []))
        part = SoftwarePart(
            components=list(bom.get("components", [])),
            dependencies=list(bom.get("dependencies", [])),
            tools=_tools(bom),
        )
        if key is not None:
            _environment_parts[key] = part
        return part


def _installed_distributions() -> tuple[str, ...]:
    import importlib.metadata

    found = {f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()}
    return (sys.executable, *sorted(found))


def _ref_renamer(shown: str) -> Callable[[str], str]:
    """bom-refs unique across files: ``requirements-L3`` of ``a/req.txt`` is ``a/req.txt:L3``."""

    def rename(ref: str) -> str:
        if ref.startswith(_REQUIREMENTS_REF):
            return f"{shown}:L{ref.removeprefix(_REQUIREMENTS_REF)}"
        return f"{shown}:{ref}"

    return rename


def _with_ref(component: dict[str, Any], rename: Callable[[str], str]) -> dict[str, Any]:
    renamed = dict(component)
    if "bom-ref" in renamed:
        renamed["bom-ref"] = rename(str(renamed["bom-ref"]))
    return renamed


def _tools(bom: dict[str, Any]) -> list[dict[str, Any]]:
    """cyclonedx-py's tool entries, without their project links (noise in a model's SBOM, and
    each URL costs the strict validator ~20 ms of IRI parsing)."""
    tools = bom.get("metadata", {}).get("tools", {})
    listed = tools.get("components", []) if isinstance(tools, dict) else []
    keep = ("type", "group", "name", "version", "description", "licenses")
    return [{k: tool[k] for k in keep if k in tool} for tool in listed]


def _run_cyclonedx(args: list[str]) -> dict[str, Any]:
    # -P keeps the working directory off sys.path, so the inventory is the environment's alone.
    command = [
        sys.executable,
        "-P",
        "-m",
        "cyclonedx_py",
        *args,
        "--spec-version",
        "1.6",
        "--output-format",
        "JSON",
        "--output-reproducible",
        "--no-validate",
        "--output-file",
        "-",
    ]
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=CYCLONEDX_TIMEOUT_S,
            check=False,
            env=subprocess_environ(),  # pip's parser expands ${VAR}: no secret to expand
        )
    except subprocess.TimeoutExpired:
        raise CycloneDxError(
            f"cyclonedx-py {args[0]} did not finish in {CYCLONEDX_TIMEOUT_S} s"
        ) from None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        last = lines[-1].replace("|n", " ") if lines else f"exit status {proc.returncode}"
        raise CycloneDxError(f"cyclonedx-py {args[0]} failed: {excerpt(last, 300)}")
    try:
        bom: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise CycloneDxError(f"cyclonedx-py {args[0]} wrote no JSON ({exc.msg})") from None
    return bom
