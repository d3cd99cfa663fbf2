"""What ran where, and when: read from the git log of the state files on the default branch.

History is the git log of ``<state_dir>/<env>.yaml`` on the default branch: every merged
promotion or rollback is a commit there, so "what ran in prod on date X" is the state file at the
last commit before X. Nothing else has to be kept in sync, and the log cannot be edited without
rewriting the protected default branch.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from mlops_ci.errors import InputError
from mlops_ci.promote.gitwork import PromotionRepo
from mlops_ci.promote.state import EnvironmentState, StateEntry, parse_state, state_path


@dataclass(frozen=True)
class Change:
    """One change of one model in one environment."""

    environment: str
    model: str
    commit: str
    date: str
    author: str
    entry: StateEntry | None  # None: the model was removed


def read_states(
    repo: PromotionRepo,
    ref: str,
    state_dir: str,
    environments: Sequence[str],
    *,
    models: Collection[str] | None,
) -> dict[str, EnvironmentState]:
    """Every environment's state at ``ref`` (strictly parsed; ``models``: the configured names)."""
    states = {}
    for env in environments:
        path = state_path(state_dir, env)
        states[env] = parse_state(repo.read_at(ref, path), env, path, models=models)
    return states


def changes(
    repo: PromotionRepo,
    ref: str,
    state_dir: str,
    environment: str,
    model: str | None = None,
    *,
    models: Collection[str] | None,
) -> list[Change]:
    """Changes to ``environment`` (of ``model``, or every model), newest first.

    The file as it is at ``ref`` must parse (an error names its line); older versions that do
    not parse under today's schema are skipped: they cannot be rolled back to.
    """
    path = state_path(state_dir, environment)
    parse_state(repo.read_at(ref, path), environment, path, models=models)
    log = repo.log(ref, path)
    found: list[Change] = []
    older: dict[str, StateEntry] = {}
    for item in reversed(log):  # oldest first, to compare each version with the one before
        text = repo.read_at(item.commit, path)
        try:
            state = parse_state(text, environment, f"{path}@{item.commit[:10]}", models=None)
        except InputError:
            continue  # a broken historical version tells nothing; later ones still count
        for name in sorted(set(state.models) | set(older)):
            if model is not None and name != model:
                continue
            now = state.models.get(name)
            if now != older.get(name):
                found.append(Change(environment, name, item.commit, item.date, item.author, now))
        older = dict(state.models)
    return list(reversed(found))


def history_entries(changes_newest_first: Sequence[Change]) -> list[tuple[str, StateEntry]]:
    """``(commit, entry)`` of every release an environment ran, newest first (for rollbacks)."""
    return [(c.commit, c.entry) for c in changes_newest_first if c.entry is not None]


def running_at(changes_newest_first: Sequence[Change], when: str) -> Change | None:
    """The change in force at ISO date/time ``when`` (the newest one not after it)."""
    for change in changes_newest_first:
        if change.date[: len(when)] <= when:
            return change
    return None
