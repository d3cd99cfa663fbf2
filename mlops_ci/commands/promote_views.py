"""Tables for ``mlops-ci status`` and ``mlops-ci history``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mlops_ci.config import LoadedConfig
from mlops_ci.errors import UsageError


def _ref(repo: Any) -> str:
    """The default branch as the remote has it (after a fetch), else the local HEAD."""
    try:
        repo.fetch()
    except Exception:  # offline or no remote branch yet: fall back to what is checked out
        return "HEAD"
    return repo.default_ref if repo.resolve(repo.default_ref) else "HEAD"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


def _markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _with_bytes(entry: Any) -> dict[str, Any]:
    """The entry as data, plus ``bytes``: ``COMMIT:PATH`` of its exact files (for a deploy)."""
    from mlops_ci.promote.fetch import bytes_location

    return {**entry.to_mapping(), "bytes": bytes_location(entry)}


def _short_bytes(entry: Any) -> str:
    if entry.artifact.startswith("oci://"):  # the reference is digest-pinned: it names the bytes
        return str(entry.artifact)
    commit = entry.promoted_from.get("commit")
    return f"{commit[:10]}:{entry.artifact}" if commit else f"?:{entry.artifact}"


STATUS_FORMATS = ("text", "json", "markdown")
HISTORY_FORMATS = ("text", "json", "markdown")


def render_status(loaded: LoadedConfig, output_format: str) -> str:
    """Models x environments: version, digest prefix, where its bytes are, when and by whom."""
    return render_status_all(loaded, [output_format])[0]


def render_status_all(loaded: LoadedConfig, formats: Sequence[str]) -> list[str]:
    """:func:`render_status` in each of ``formats`` (the state files are read once)."""
    from mlops_ci.promote.history import read_states
    from mlops_ci.promote.service import open_repo

    _known(formats, STATUS_FORMATS)
    repo = open_repo(loaded)
    try:
        ladder = loaded.config.environments
        names = [m.name for m in loaded.config.models]
        states = read_states(repo, _ref(repo), loaded.config.state_dir, ladder, models=names)
    finally:
        repo.close()
    data: dict[str, dict[str, Any]] = {}
    rows = []
    for model in loaded.config.models:
        data[model.name] = {}
        for env in ladder:
            entry = states[env].entry(model.name)
            data[model.name][env] = None if entry is None else _with_bytes(entry)
            if entry is None:
                rows.append([model.name, env, "-", "", "", "", ""])
                continue
            pin = " (pinned)" if entry.pinned else ""
            rows.append(
                [
                    model.name,
                    env,
                    entry.version + pin,
                    entry.digest.split(":")[-1][:12],
                    _short_bytes(entry),
                    (entry.promoted_at or "")[:16],
                    entry.promoted_by or "",
                ]
            )
    # One value per column, so every column lines up (a version and a digest shared one).
    headers = ["MODEL", "ENVIRONMENT", "VERSION", "DIGEST", "BYTES (COMMIT:PATH)", "PROMOTED", "BY"]
    return [_render(fmt, data, headers, rows) for fmt in formats]


def _render(fmt: str, data: Any, headers: list[str], rows: list[list[str]]) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return _markdown(headers, rows) if fmt == "markdown" else _table(headers, rows)


def _known(formats: Sequence[str], known: Sequence[str]) -> None:
    for fmt in formats:
        if fmt not in known:
            raise UsageError(f"--format {fmt!r}: unknown format (formats: {', '.join(known)})")


def render_history(
    loaded: LoadedConfig, model: str, env: str | None, at: str | None, output_format: str
) -> str:
    """The changes of ``model``, newest first; with ``at``, only what ran on that date."""
    return render_history_all(loaded, model, env, at, [output_format])[0]


def render_history_all(
    loaded: LoadedConfig, model: str, env: str | None, at: str | None, formats: Sequence[str]
) -> list[str]:
    """:func:`render_history` in each of ``formats`` (the git log is read once)."""
    from mlops_ci.promote.history import changes, running_at
    from mlops_ci.promote.service import open_repo

    _known(formats, HISTORY_FORMATS)
    loaded.model_named(model)
    envs = [loaded.environment(env)] if env else list(loaded.config.environments)
    repo = open_repo(loaded)
    try:
        ref = _ref(repo)
        names = [m.name for m in loaded.config.models]
        found = {
            e: changes(repo, ref, loaded.config.state_dir, e, model, models=names) for e in envs
        }
    finally:
        repo.close()
    if at is not None:
        found = {e: [c] for e, cs in found.items() if (c := running_at(cs, at)) is not None}
    items = [c for e in envs for c in found.get(e, [])]
    data = [
        {
            "environment": c.environment,
            "commit": c.commit,
            "date": c.date,
            "author": c.author,
            "entry": None if c.entry is None else _with_bytes(c.entry),
        }
        for c in items
    ]
    rows = [
        [
            c.environment,
            c.date[:19],
            "removed" if c.entry is None else c.entry.version,
            "" if c.entry is None else c.entry.digest.split(":")[-1][:12],
            c.commit[:10],
            "" if c.entry is None else _short_bytes(c.entry),
            "" if c.entry is None else (c.entry.promoted_by or ""),
            "rollback" if c.entry is not None and c.entry.pinned else "",
        ]
        for c in items
    ]
    headers = ["ENVIRONMENT", "DATE", "VERSION", "DIGEST", "COMMIT", "BYTES", "BY", ""]
    return [_render(fmt, data, headers, rows) for fmt in formats]
