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
# The first byte of a serialised ModelProto: the tag of one of its fields (ir_version=1,
# producer_name=2, producer_version=3, domain=4, model_version=5, doc_string=6, graph=7,
# opset_import=8, metadata_props=14; fields 20 and up take two bytes and start 0xa2..0xd2).
MODEL_PROTO_TAGS = frozenset({0x08, 0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72}) | frozenset(
    range(0xA0, 0xD8)
)
PROTOBUF_LIMIT = 2 << 30
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

    def plain_files(self) -> list[Path] | None:
        """The files in model-signing's manifest order (by relative path) when they are all
        regular files, not symlinks: these mlops-ci may hash itself. None for a directory, or
        anything model-signing must judge (and refuse) itself."""
        if self.files is None:
            if self.root.is_dir() or self.root.is_symlink():
                return None
            listed = [(PurePosixPath(self.root.name), self.root)]
        else:
            listed = [(PurePosixPath(f.relative_to(self.root).as_posix()), f) for f in self.files]
        try:
            if not all(stat.S_ISREG(os.lstat(file).st_mode) for _, file in listed):
                return None
        except OSError:
            return None  # gone or unreadable: model-signing reports it as before
        return [file for _, file in sorted(listed, key=lambda item: item[0])]


def is_onnx_file(path: Path) -> bool:
    """Whether ``path`` is a regular (non-symlink) file named ``*.onnx``: mlops-ci's ONNX rule."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and path.suffix.lower() == ".onnx"


def may_be_onnx(path: Path) -> bool:
    """Whether a single model file may be an ONNX protobuf whatever its name (onnxruntime does
    not look at names): ``*.onnx``, or a regular file under 2 GiB starting with a ``ModelProto``
    field tag."""
    if is_onnx_file(path):
        return True
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > PROTOBUF_LIMIT:
            return False
        with path.open("rb") as handle:
            head = handle.read(1)
    except OSError:
        return False
    return bool(head) and head[0] in MODEL_PROTO_TAGS


def _load_graph(model_file: Path, *, sniff: bool = False) -> Any | None:
    """The ONNX protobuf of a model file, without its external data; None when it is not one.

    A file that does not parse has no data files here: the ``onnx-model`` check refuses it, and
    onnxruntime cannot load it either.
    """
    from mlops_ci.onnx_graph import load_graph

    if not (may_be_onnx(model_file) if sniff else is_onnx_file(model_file)):
        return None
    try:
        return load_graph(model_file)  # the run's one parse, without tensor data
    except Exception:  # any protobuf or onnx parse failure (DecodeError, ValueError, ...)
        return None


def declared_data_paths(model_file: Path) -> list[PurePosixPath]:
    """The external data locations an ONNX file declares that could be inside its directory
    (relative, no ``..``); nothing is checked on disk. For fetching them from another commit."""
    from mlops_ci.scan.onnx_scan import external_locations

    model = _load_graph(model_file, sniff=True)
    found: set[PurePosixPath] = set()
    for _, location in external_locations(model) if model is not None else ():
        relative = PurePosixPath(location)
        unsafe = "\\" in location or "\x00" in location or ".." in relative.parts
        if location and not relative.is_absolute() and not unsafe:
            found.add(relative)
    return sorted(found)


def external_data_files(
    model_file: Path, ignore: Sequence[Path] = (), *, root: Path | None = None, sniff: bool = False
) -> tuple[Path, ...]:
    """The external data files an ONNX file names, in path order; refused ones raise.

    Reads the protobuf only (``load_external_data=False``). ``root`` is the model directory
    (default: the file's directory) and ``ignore`` the evidence paths relative to it, which a
    data file may not be. ``sniff``: recognise an ONNX file by content, not only by name.
    """
    from mlops_ci.scan.onnx_scan import external_locations, location_problem

    model = _load_graph(model_file, sniff=sniff)
    if model is None:
        return ()
    directory = model_file.parent
    root = root or directory
    evidence = {PurePosixPath(p.as_posix()) for p in ignore}
    found: dict[str, Path] = {}
    for tensor, location in external_locations(model):
        reason = location_problem(location, directory)
        target = directory / PurePosixPath(location)
        if reason is None and (
            location.endswith(EVIDENCE_SUFFIXES)
            or PurePosixPath(target.relative_to(root).as_posix()) in evidence
        ):
            reason = "an evidence file mlops-ci writes (a signature or bundle)"
        if reason is not None:
            raise ExternalDataError(model_file, tensor, location, reason)
        if target != model_file:
            found.setdefault(target.relative_to(root).as_posix(), target)
    return tuple(found[key] for key in sorted(found))


def _onnx_files_under(directory: Path) -> list[Path]:
    """The ``*.onnx`` regular files under ``directory``, never following a symlink."""
    found = []
    for parent, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames.sort()
        found += [Path(parent, name) for name in sorted(filenames)]
    return [path for path in found if is_onnx_file(path)]


def model_scope(path: Path, ignore: Sequence[Path] = ()) -> ModelScope:
    """The scope of ``path``'s signature (see the module docstring); refused data raises.

    In a directory every file is hashed anyway; its ONNX files' data locations are still checked,
    so that weights kept outside the directory (or in an evidence file) are refused.
    """
    if path.is_dir() and not path.is_symlink():
        for onnx_file in _onnx_files_under(path):
            external_data_files(onnx_file, ignore, root=path)
        return ModelScope(path, path, None, tuple(ignore))
    data = external_data_files(path, ignore, sniff=True)
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
