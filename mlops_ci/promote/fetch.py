"""``mlops-ci fetch``: the exact bytes an environment's state entry names, verified, for a deploy.

An entry's bytes live at ``promoted_from.commit`` under ``artifact`` (never "this path on the
default branch", which may hold a newer model after a rollback). The files are taken from that
commit, which must be one the default branch holds; their OMS digest must equal the entry's and
the signature must verify under the configured identity policy, in a scratch directory first.
Only then are the model's files (the signed file set: a directory, or one ONNX file with its
external data) written under the destination, each write confined to it, and hashed again there.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mlops_ci.config import LoadedConfig
from mlops_ci.errors import InputError, MlopsCiError
from mlops_ci.fsutil import atomic_write
from mlops_ci.promote.state import StateEntry, parse_state, state_path


class FetchMismatch(MlopsCiError):
    """The bytes found are not the entry's (digest, signature, or a commit off the branch)."""

    exit_code = 1
    label = "refused"


@dataclass(frozen=True)
class Fetched:
    """What was written, and what it was checked against."""

    entry: StateEntry
    commit: str
    files: tuple[Path, ...]
    digest: str


def bytes_location(entry: StateEntry) -> str | None:
    """``COMMIT:PATH`` of the entry's bytes (``git show`` reads it as is); None without a commit.
    An artifact in a registry: its digest-pinned ``oci://`` reference."""
    if entry.artifact.startswith("oci://"):
        return entry.artifact
    commit = entry.promoted_from.get("commit")
    return f"{commit}:{entry.artifact}" if commit else None


def fetch_model(loaded: LoadedConfig, model: str, environment: str, destination: Path) -> Fetched:
    """Write ``model``'s files as ``environment`` runs them into ``destination``, verified."""
    from mlops_ci.promote.service import open_repo

    destination = destination.absolute()  # a flag: trusted, named from the working directory
    env = loaded.environment(environment)
    loaded.model_named(model)
    names = [m.name for m in loaded.config.models]
    path = state_path(loaded.config.state_dir, env)
    repo = open_repo(loaded)
    try:
        repo.fetch()
        where = f"{repo.remote}/{repo.default_branch}"
        state = parse_state(repo.read_at(repo.default_ref, path), env, path, models=names)
        entry = state.entry(model)
        if entry is None:
            raise InputError(f"{path}: {env} runs no {model} on {where}; nothing to fetch")
        if entry.artifact.startswith("oci://"):
            return _fetch_from_registry(loaded, model, entry, destination)
        commit = entry.promoted_from.get("commit")
        if not commit:
            raise InputError(
                f"{path}: the entry of {model} names no promoted_from.commit, so nothing says"
                " which bytes it means; promote it again"
            )
        if not repo.is_ancestor(commit, repo.default_ref):
            raise FetchMismatch(
                f"{path}: {model}'s commit {commit[:12]} is not in the history of {where};"
                " the entry cannot be trusted to name reviewed bytes"
            )
        with tempfile.TemporaryDirectory(prefix="mlops-ci-fetch-") as tmp:
            scratch = Path(tmp)
            files = _verified_files(loaded, repo, entry, commit, scratch)
            base = (scratch / entry.artifact).parent.resolve()
            written = _write(files, base, entry, destination)
    finally:
        repo.close()
    _check_written(entry, destination, written, Path(entry.artifact).name)
    return Fetched(entry, commit, tuple(written), entry.digest)


def _verified_files(
    loaded: LoadedConfig, repo: object, entry: StateEntry, commit: str, scratch: Path
) -> list[Path]:
    """Extract the entry's files at ``commit`` under ``scratch``; check digest and signature.

    Returns the model's own files (under ``scratch``), not the signature or attestation.
    """
    from mlops_ci.promote.evidence import _data_paths, _digest_of, _evidence_paths, _files
    from mlops_ci.promote.gitwork import PromotionRepo
    from mlops_ci.signing import VerificationError, policy_from_config, verify_model

    assert isinstance(repo, PromotionRepo)  # noqa: S101  (typed loosely to keep imports lazy)
    repo.extract(commit, [p for p in _evidence_paths(entry) if p], scratch)
    repo.extract(commit, _data_paths(entry, scratch), scratch)
    try:
        found = _digest_of(entry, scratch)
    except MlopsCiError as refused:
        raise FetchMismatch(f"{entry.artifact} at {commit[:12]}: {refused.message}") from None
    if found != entry.digest:
        raise FetchMismatch(
            f"{entry.artifact} at commit {commit[:12]} has digest {found}, not the entry's"
            f" {entry.digest}"
        )
    artifact, signature, _, ignore = _files(entry, scratch)
    try:
        verified = verify_model(
            artifact, signature, policy_from_config(loaded), allow=ignore, subject=entry.artifact
        )
    except VerificationError as exc:
        raise FetchMismatch(f"{entry.artifact} at commit {commit[:12]}: {exc}") from None
    if verified.digest != entry.digest:
        raise FetchMismatch(f"the signature vouches for {verified.digest}, not {entry.digest}")
    if artifact.is_dir():
        skip = {p.resolve() for p in ignore}
        return sorted(
            p for p in artifact.rglob("*") if p.is_file() and not p.is_symlink() and p not in skip
        )
    return [artifact, *(scratch / p for p in _data_paths(entry, scratch))]


def _fetch_from_registry(
    loaded: LoadedConfig, model: str, entry: StateEntry, destination: Path
) -> Fetched:
    """An entry whose artifact is in a registry: pulled and verified in a scratch directory
    (``oci_entry.pull_verified``), then its model files written as from a commit."""
    from mlops_ci.promote.oci_entry import pull_verified

    with tempfile.TemporaryDirectory(prefix="mlops-ci-fetch-") as tmp:
        found = pull_verified(loaded, model, entry, Path(tmp), FetchMismatch)
        base = found.model_path.parent.resolve()
        written = _write(list(found.files), base, entry, destination)
        name = found.model_path.name
    _check_written(entry, destination, written, name)
    return Fetched(entry, "", tuple(written), entry.digest)


def _write(files: list[Path], base: Path, entry: StateEntry, destination: Path) -> list[Path]:
    """Copy ``files`` (under ``base``, the artifact's directory) under ``destination``."""
    try:
        destination.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where the directory belongs, no permission, a full disk
        raise InputError(
            f"--to {destination}: cannot create the directory ({exc.strerror})"
        ) from None
    written: list[Path] = []
    try:
        _copy(files, base, entry, destination, written)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise InputError(f"--to {destination}: cannot write the model ({exc.strerror})") from None
    return written


def _copy(
    files: list[Path], base: Path, entry: StateEntry, destination: Path, written: list[Path]
) -> None:
    """Write each of ``files`` (under ``base``) below ``destination``, appending to ``written``."""
    from mlops_ci.safepath import output_path

    for source in files:
        try:
            relative = source.resolve().relative_to(base)
        except ValueError:  # a data file beside, not under, the model: no place in the layout
            raise FetchMismatch(
                f"{entry.artifact}: a file of the model lies outside its directory"
            ) from None
        target = output_path(destination / relative, destination, what="fetch destination")
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, source.read_bytes())
        written.append(target)


def _check_written(entry: StateEntry, destination: Path, written: list[Path], name: str) -> None:
    """Hash what landed in ``destination`` (the model is ``name`` there); remove it and refuse
    when it is not the entry's."""
    from mlops_ci.signing import model_digest

    artifact = destination / name
    try:
        found = model_digest(artifact)
    except MlopsCiError as exc:  # a failure to hash is a mismatch, reported
        found = f"unreadable ({exc.message[:120]})"
    if found != entry.digest:
        for path in written:
            path.unlink(missing_ok=True)
        if artifact.is_dir():
            shutil.rmtree(artifact, ignore_errors=True)
        raise FetchMismatch(
            f"{destination}: the files written hash to {found}, not {entry.digest}; removed them"
        )
