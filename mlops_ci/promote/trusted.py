"""The configuration ``promote verify`` trusts: the base branch's, never the pull request's.

A promotion PR is written by the party the check guards against, so everything that decides
the verdict comes from the base commit: ``mlops-ci.yaml`` (environments, ``state_dir``, model
paths, signing keys and identities, promotion policies) and the files it names (public key,
CA certificates, trust configuration, local policy packs, model cards). They are read from git
objects into a private directory; the checkout, which the PR controls, is never read.
``MLOPS_CI_*`` variables still apply: they are set by the runner, which is trusted.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from mlops_ci.config import LoadedConfig, config_from_document, parse_config_text
from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.promote.gitwork import PromotionRepo


def config_in_repository(repo: PromotionRepo, config_path: Path) -> str:
    """The repository-relative path of the configuration file (it must be in the repository)."""
    root = repo.root.resolve()
    try:
        return config_path.resolve().relative_to(root).as_posix()
    except ValueError:
        raise InputError(
            "promote verify reads the configuration from the base branch, so it must be a file"
            " in the repository; pass --config with a path inside it",
            SourcePosition(str(config_path)),
        ) from None


def base_config_path(repo: PromotionRepo, base: str, explicit: Path | None, cwd: Path) -> str:
    """Which configuration file of the base commit counts (never the PR's choice).

    ``--config``/``MLOPS_CI_CONFIG`` name it (set by the CI job, which is trusted); otherwise it
    is found in the base commit as ``mlops-ci`` finds it in a checkout: ``mlops-ci.yaml``, then
    ``mlops-ci.yml``, then a ``pyproject.toml`` with a ``[tool.mlops-ci]`` table, in the
    directory the command runs in, else in the nearest directory above it up to the repository
    root. A PR that renames, deletes or adds one cannot change which.
    """
    if explicit is not None:
        return config_in_repository(repo, explicit)
    folder = PurePosixPath(config_in_repository(repo, cwd / "mlops-ci.yaml")).parent
    for directory in (folder, *folder.parents):
        for name in ("mlops-ci.yaml", "mlops-ci.yml", "pyproject.toml"):
            relative = (directory / name).as_posix()
            raw = repo.git_bytes("cat-file", "blob", f"{base}:{relative}")
            if raw is not None and (name != "pyproject.toml" or b"[tool.mlops-ci" in raw):
                return relative
    raise InputError(
        f"the base commit has no mlops-ci.yaml in {folder.as_posix() or '.'} or above it:"
        " promote verify"
        " judges a PR only by the base branch's configuration; merge the configuration first",
        SourcePosition(f"{(folder / 'mlops-ci.yaml').as_posix()}@{base[:12]}"),
    )


@contextmanager
def base_config(
    repo: PromotionRepo, base: str, relative: str, environ: Mapping[str, str]
) -> Iterator[LoadedConfig]:
    """The configuration as committed at ``base``, with the files it names, in a private root."""
    raw = repo.git_bytes("cat-file", "blob", f"{base}:{relative}")
    shown = f"{relative}@{base[:12]}"
    if raw is None:
        raise InputError(
            f"the base commit has no {relative}: promote verify judges a PR only by the base"
            " branch's configuration; merge the configuration first",
            SourcePosition(shown),
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the configuration is not UTF-8 text", SourcePosition(shown)) from None
    document = parse_config_text(text, shown, pyproject=relative.endswith("pyproject.toml"))
    with tempfile.TemporaryDirectory(prefix="mlops-ci-base-") as tmp:
        root = Path(tmp)
        config_file = root / relative
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_bytes(raw)
        loaded = config_from_document(document, config_file, config_file.parent, environ=environ)
        wanted = [p for p in _named_files(loaded, relative) if _inside(p)]
        repo.extract(base, wanted, root)
        yield loaded


def _named_files(loaded: LoadedConfig, relative: str) -> list[str]:
    """Files the configuration names that a verification reads (keys, packs, cards)."""
    folder = PurePosixPath(relative).parent
    config = loaded.config
    signing = config.signing
    names = [signing.public_key, signing.trust_config, *signing.ca]
    for packs in config.promotion.policies.values():
        names += [p for p in packs if "/" in p or p.endswith((".yaml", ".yml"))]
    names += [m.card for m in config.models]
    return [(folder / n).as_posix() for n in names if n]


def _inside(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    return bool(parts) and not PurePosixPath(relative).is_absolute() and ".." not in parts
