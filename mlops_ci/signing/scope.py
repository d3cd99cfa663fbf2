"""What a model signature covers: every byte that changes the model's behaviour.

- **A directory model**: every file under it, dotfiles (``.gitattributes``, ``.github/...``)
  included. Only the evidence files mlops-ci writes (``PATH.sig``, attestations, SBOM and report
  bundles when they lie inside) and ``signing.ignore`` are left out, and the signature lists them
  in its manifest's ignore list. Symlinks and special files (FIFOs, devices) are refused.
- **A single file**: the file. When it is an ONNX file (``.onnx``) whose tensors keep their data
  in external files, those data files are part of the model too: the manifest is then one of the
  file's directory restricted to the ``.onnx`` and its data files (identifiers relative to that
  directory), which the upstream tool checks with
  ``model_signing verify ... DIR --ignore_unsigned_files``.
- An external-data location that is not a regular file beside the model, reached without ``..``
  and without a symlink, is refused (:class:`ExternalDataError`): never signed around.

At verification a signature must cover exactly this scope (:func:`scope_problem`): the data files
the ``.onnx`` names, and, for a directory, every file present except the evidence it may leave out.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mlops_ci.errors import InputError, SourcePosition

# What model_signing leaves out by default (its ``ignore_git_paths``), without the signer asking:
# present in a model, such a file is outside its signature, so verification fails.
IMPLICIT_IGNORES = frozenset(
    PurePosixPath(p) for p in (".git", ".gitattributes", ".github", ".gitignore")
)
# Names mlops-ci gives its own evidence files; a data file may never be one of them.
EVIDENCE_SUFFIXES = (".sig", ".sigstore.json")


class ExternalDataError(InputError):
    """An ONNX model's external data cannot be covered by a signature: refused (fail closed)."""

    def __init__(self, model: Path, tensor: str, location: str, reason: str) -> None:
        self.reason = (
            f"external data of tensor {tensor[:60]!r} at {location[:120]!r} is refused ({reason});"
            " keep every data file as a regular file beside the .onnx, named without '..'"
        )
        super().__init__(self.reason, SourcePosition(str(model)))


@dataclass(frozen=True)
class ModelScope:
    """What to hash for a model: ``root`` (a file or directory), restricted to ``files`` when set.

    ``ignore`` holds paths relative to ``root`` (directories) or to the file's directory.
    """

    model: Path
    root: Path
    files: tuple[Path, ...] | None
    ignore: tuple[Path, ...]

    def identifiers(self) -> frozenset[str] | None:
        """The manifest identifiers of ``files`` (None when the whole root is hashed)."""
        if self.files is None:
            return None
        return frozenset(f.relative_to(self.root).as_posix() for f in self.files)


def is_onnx_file(path: Path) -> bool:
    """Whether ``path`` is a regular (non-symlink) file named ``*.onnx``: mlops-ci's ONNX rule."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and path.suffix.lower() == ".onnx"


def _load_graph(model_file: Path) -> Any | None:
    """The ONNX protobuf of a regular ``*.onnx`` file, without its external data; else None."""
    import onnx
    from google.protobuf.message import DecodeError

    if not is_onnx_file(model_file):
        return None
    try:
        return onnx.load(str(model_file), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError, OSError, MemoryError):
        return None


def declared_data_paths(model_file: Path) -> list[PurePosixPath]:
    """The external data locations an ONNX file declares that could be inside its directory
    (relative, no ``..``); nothing is checked on disk. For fetching them from another commit."""
    from mlops_ci.scan.onnx_scan import external_locations

    model = _load_graph(model_file)
    found: set[PurePosixPath] = set()
    for _, location in external_locations(model) if model is not None else ():
        relative = PurePosixPath(location)
        unsafe = "\\" in location or "\x00" in location or ".." in relative.parts
        if location and not relative.is_absolute() and not unsafe:
            found.add(relative)
    return sorted(found)


def external_data_files(model_file: Path, ignore: Sequence[Path] = ()) -> tuple[Path, ...]:
    """The external data files an ONNX file names, in path order; refused ones raise.

    Reads the protobuf only (``load_external_data=False``); a file that does not parse has none
    (the ``onnx-model`` check reports it). ``ignore``: evidence paths, relative to the file's
    directory, that a data file may not be.
    """
    from mlops_ci.scan.onnx_scan import external_locations, location_problem

    model = _load_graph(model_file)
    if model is None:
        return ()
    directory = model_file.parent
    evidence = {PurePosixPath(p.as_posix()) for p in ignore}
    found: dict[str, Path] = {}
    for tensor, location in external_locations(model):
        reason = location_problem(location, directory)
        relative = PurePosixPath(location)
        if reason is None and (relative in evidence or location.endswith(EVIDENCE_SUFFIXES)):
            reason = "an evidence file mlops-ci writes (a signature or bundle)"
        if reason is not None:
            raise ExternalDataError(model_file, tensor, location, reason)
        if directory / relative != model_file:
            found.setdefault(relative.as_posix(), directory / relative)
    return tuple(found[key] for key in sorted(found))


def model_scope(path: Path, ignore: Sequence[Path] = ()) -> ModelScope:
    """The scope of ``path``'s signature (see the module docstring); refused data raises."""
    if path.is_dir() and not path.is_symlink():
        return ModelScope(path, path, None, tuple(ignore))
    data = external_data_files(path, ignore)
    if not data:
        return ModelScope(path, path, None, ())
    return ModelScope(path, path.parent, (path, *data), tuple(ignore))


def scope_problem(
    scope: ModelScope, statement: dict[str, Any], allowed: Iterable[Path]
) -> str | None:
    """Why a verified statement does not cover ``scope`` exactly, or None when it does.

    The signed files must be exactly the model file and its data files. For a directory, the
    files model-signing leaves out by default (``.gitattributes``, ``.github/``, ...; older
    mlops-ci signatures did too) may exist only if ``allowed`` (``signing.ignore``, ``--ignore``):
    paths the signer named explicitly are the signer's (signed) choice.
    """
    predicate = statement.get("predicate") or {}
    resources = predicate.get("resources") or []
    signed = {str(r.get("name")) for r in resources if isinstance(r, dict)}
    expected = scope.identifiers()
    if expected is not None and signed != expected:
        missing = sorted(expected - signed)
        return (
            "the signature does not cover the model's external data files"
            + (f" ({', '.join(missing)[:200]})" if missing else "")
            + "; sign the model again"
        )
    if expected is None and scope.root.is_file() and len(signed) != 1:
        return "the signature covers other files than the model file; sign the model again"
    if not scope.root.is_dir() or expected is not None:
        return None
    serialization = predicate.get("serialization") or {}
    permitted = {PurePosixPath(p.as_posix()) for p in (*scope.ignore, *allowed)}
    left_out = sorted(
        str(entry)
        for entry in serialization.get("ignore_paths") or []
        if PurePosixPath(str(entry)) in IMPLICIT_IGNORES
        and PurePosixPath(str(entry)) not in permitted
        and os.path.lexists(scope.root / str(entry))
    )
    if left_out:
        return (
            f"the signature leaves out {', '.join(left_out)[:200]}, which is in the model and is"
            " not a file mlops-ci writes; sign the model again (every file counts)"
        )
    return None
