"""GTO-compatible tags that mirror the default branch's promotions, rollbacks and roll-forwards.

GTO (iterative/gto, and DVC Studio) reads a model registry from annotated git tags:

- ``NAME@vX.Y.Z`` registers version X.Y.Z at the commit the tag points to (the commit that holds
  the version's bytes: the state entry's ``promoted_from.commit``);
- ``NAME#STAGE#N`` assigns STAGE to the version registered at the tag's commit, and
  ``NAME#STAGE!#N`` unassigns it. GTO numbers N per artifact, across every stage and action: one
  more than the largest counter of any tag of that artifact (``gto/tag.py``, ``name_tag``), so gaps
  are kept and never refilled. Lightweight tags count for the numbering but are no events.

GTO orders events by the tagger date, so each tag carries the date of the state commit that made
the change (strictly increasing per model, so that changes merged within one second keep their
order): the tags say *when* the environment changed, not when this command ran, and a catch-up
run over a long history gives the same registry as tagging after each merge.

A change of version in an environment is an unassignment of the version that leaves it and an
assignment of the one that enters: then exactly one version is active per stage, so ``gto show``
agrees with ``mlops-ci status`` whatever GTO's sort order, and ``gto history`` lists the
environment's changes in the same order as ``mlops-ci history``.

Idempotence and coexistence with tags GTO wrote: an event counts as tagged when the repository
already holds as many annotated tags that say the same thing (same action, stage and commit) as
the history asks for, whoever wrote them; only the missing, newest ones are written. The state
files stay the source of truth: tags only mirror what the default branch already says.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from mlops_ci.errors import InputError
from mlops_ci.promote.gitwork import _PLAIN_GIT, Author, GitError, PromotionRepo
from mlops_ci.promote.history import changes
from mlops_ci.promote.state import StateEntry

# GTO's grammar (gto/constants.py: name, semver, tag_re), kept verbatim in meaning.
_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
_SEMVER = (
    r"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)"
    r"(?:-(?:(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+(?:[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_TAG_RE = re.compile(
    rf"^(?P<artifact>(?:[a-zA-Z0-9\-_./]+=)?{_NAME})"
    rf"(?:(?:#(?P<stage>{_NAME})|@(?P<version>v{_SEMVER}))(?P<cancel>!?)"
    r"|@(?:deprecated|created))(?:#(?P<counter>[0-9]+))?$"
)
_NAME_RE = re.compile(rf"^{_NAME}$")
_VERSION_RE = re.compile(rf"^v?{_SEMVER}$")


@dataclass(frozen=True)
class GtoTag:
    """An existing tag, as GTO reads its name (``target``: None for a lightweight tag)."""

    name: str
    artifact: str
    action: str  # register, deregister, assign, unassign, other
    version: str | None
    stage: str | None
    counter: int | None
    target: str | None


@dataclass(frozen=True)
class Event:
    """One tag the history asks for: a registration, an assignment or an unassignment."""

    model: str
    action: str  # register, assign, unassign
    version: str  # with its leading "v", as in the tag
    stage: str | None
    commit: str  # the commit that holds the version's bytes
    when: int  # tagger date, seconds since the epoch
    why: str  # the state commit that made the change (for the message)


@dataclass(frozen=True)
class TagOutcome:
    """What ``promote tag`` wrote, and what it could not mirror (one line each, with why)."""

    created: tuple[str, ...]
    skipped: tuple[str, ...]


def parse_gto_name(name: str) -> GtoTag | None:
    """The tag ``name`` as GTO parses it, or None when GTO ignores it (target left empty)."""
    match = _TAG_RE.match(name)
    if match is None:
        return None
    cancel = match["cancel"] == "!"
    if match["version"]:
        action = "deregister" if cancel else "register"
    elif match["stage"]:
        action = "unassign" if cancel else "assign"
    else:
        action = "other"
    counter = int(match["counter"]) if match["counter"] else None
    artifact = match["artifact"].replace("=", ":")
    return GtoTag(name, artifact, action, match["version"], match["stage"], counter, None)


def existing_tags(repo: PromotionRepo) -> list[GtoTag]:
    """Every tag GTO would parse, with the commit an annotated one points to."""
    out = repo.git_bytes(
        "for-each-ref", "--format=%(refname)%00%(objecttype)%00%(object)", "refs/tags/"
    )
    found = []
    for line in (out or b"").decode("utf-8", "replace").splitlines():
        ref, kind, target = [*line.split("\0"), "", ""][:3]
        parsed = parse_gto_name(ref.removeprefix("refs/tags/"))
        if parsed is not None:
            annotated = kind == "tag" and bool(target)
            found.append(replace(parsed, target=target if annotated else None))
    return found


def _epoch(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).timestamp())


def _gto_version(version: str) -> str:
    return version if version.startswith("v") else f"v{version}"


def planned_events(
    repo: PromotionRepo, ref: str, state_dir: str, environments: Sequence[str]
) -> tuple[list[Event], list[str]]:
    """The registrations, assignments and unassignments the history at ``ref`` asks for.

    Returns the events (registrations first, then each model's changes oldest first) and one
    line for each thing GTO cannot express, which is left untagged.
    """
    skipped: list[str] = []
    bad_envs = [env for env in environments if not _NAME_RE.match(env)]
    skipped += [f"environment {env!r}: not a GTO stage name" for env in bad_envs]
    moves: list[tuple[int, int, str, str, StateEntry | None, StateEntry | None, str]] = []
    commits: dict[tuple[str, str], str] = {}
    twice: set[tuple[str, str]] = set()
    for rank, env in enumerate(environments):
        if env in bad_envs:
            continue
        before: dict[str, StateEntry | None] = {}
        for change in reversed(changes(repo, ref, state_dir, env, models=None)):
            old, new = before.get(change.model), change.entry
            before[change.model] = new
            if new is not None:
                key = (change.model, new.version)
                explicit = new.promoted_from.get("commit")
                if explicit and commits.setdefault(key, explicit) != explicit:
                    twice.add(key)  # the same version from other bytes: GTO holds one commit
                commits.setdefault(key, change.commit)  # an entry without one: where it landed
            if _release(old) != _release(new):
                moves.append(
                    (_epoch(change.date), rank, env, change.model, old, new, change.commit)
                )
    unusable = _unusable(repo, commits, twice, skipped)
    events: list[Event] = []
    last: dict[str, int] = {}
    line = (repo.git_bytes("rev-list", "--first-parent", ref) or b"").decode().split()
    position = {sha: -i for i, sha in enumerate(line)}  # merge order, even within one second
    moves.sort(key=lambda m: (position.get(m[6], m[0]), m[1]))
    for date, _, env, model, old, new, why in moves:
        for action, entry in (("unassign", old), ("assign", new)):
            if entry is None or (model, entry.version) in unusable:
                continue
            when = max(date, last.get(model, date - 1) + 1)  # GTO orders by the second
            last[model] = when
            commit = commits[(model, entry.version)]
            version = _gto_version(entry.version)
            events.append(Event(model, action, version, env, commit, when, why))
    registrations = [
        Event(
            model, "register", _gto_version(version), None, commit, _commit_time(repo, commit), ""
        )
        for (model, version), commit in sorted(commits.items())
        if (model, version) not in unusable
    ]
    return registrations + events, skipped


def _release(entry: StateEntry | None) -> str | None:
    """What GTO sees of an entry: its version (the commit is the registration's)."""
    return entry.version if entry is not None else None


def _unusable(
    repo: PromotionRepo,
    commits: dict[tuple[str, str], str],
    twice: set[tuple[str, str]],
    skipped: list[str],
) -> set[tuple[str, str]]:
    """The (model, version) pairs GTO cannot hold; each gets a line in ``skipped``."""
    bad = set()
    for model, version in sorted(commits):
        reason = None
        if not _NAME_RE.match(model):
            reason = "the model name is not a GTO artifact name (letters, digits, - _ /)"
        elif not _VERSION_RE.match(version):
            reason = "the version is not SemVer (GTO registers vMAJOR.MINOR.PATCH)"
        elif (model, version) in twice:
            reason = "this version was promoted from two commits (GTO: one commit per version)"
        elif repo.resolve(commits[(model, version)]) is None:
            reason = f"its commit {commits[(model, version)][:12]} is not in this clone"
        if reason:
            skipped.append(f"{_shown(model)} {_shown(version)}: {reason}")
            bad.add((model, version))
    return bad


def _shown(text: str) -> str:
    """A name or version from a state file, short and printable (never a long blob)."""
    short = text if len(text) <= 40 else text[:37] + "..."
    return short if short.isprintable() and " " not in short else repr(short)


def _commit_time(repo: PromotionRepo, commit: str) -> int:
    out = repo.git_bytes("show", "-s", "--format=%ct", commit)
    return int(out.strip()) if out and out.strip().isdigit() else 0


def _conflicts(events: Sequence[Event], tags: Sequence[GtoTag]) -> dict[tuple[str, str], str]:
    """Versions whose registration in git says something else than the history (and why)."""
    found: dict[tuple[str, str], str] = {}
    registered: dict[tuple[str, str], GtoTag] = {}
    at_commit: dict[tuple[str, str], set[str]] = {}
    for tag in tags:
        if tag.action == "register" and tag.version:
            if tag.target is None:
                found[(tag.artifact, tag.version)] = (
                    f"tag {tag.name} is lightweight (GTO ignores it)"
                )
                continue
            registered[(tag.artifact, tag.version)] = tag
            at_commit.setdefault((tag.artifact, tag.target), set()).add(tag.version)
    for event in events:
        if event.action != "register":
            continue
        key = (event.model, event.version)
        known = registered.get(key)
        if known is not None and known.target != event.commit:
            found[key] = (
                f"tag {known.name} points to {str(known.target)[:12]}, not {event.commit[:12]}"
            )
        others = at_commit.get((event.model, event.commit), set()) - {event.version}
        if others:
            found[key] = f"GTO registered {', '.join(sorted(others))} at {event.commit[:12]}"
    return found


def plan_tags(
    repo: PromotionRepo, state_dir: str, environments: Sequence[str], *, commit: str = "HEAD"
) -> tuple[list[tuple[str, Event]], list[str]]:
    """The tags to write (name, event) so that GTO says what the history at ``commit`` says."""
    sha = repo.resolve(commit)
    if sha is None:
        raise InputError(f"{commit}: not a commit in this repository")
    events, skipped = planned_events(repo, sha, state_dir, environments)
    tags = existing_tags(repo)
    conflicts = _conflicts(events, tags)
    for (model, version), why in sorted(conflicts.items()):
        skipped.append(f"{model} {version}: {why}; fix or delete that tag to mirror it")
    events = [e for e in events if (e.model, e.version) not in conflicts]
    have = Counter(
        (t.artifact, t.action, t.version if t.action == "register" else t.stage, t.target)
        for t in tags
        if t.target is not None
    )
    wanted = Counter(
        (e.model, e.action, e.version if e.action == "register" else e.stage, e.commit)
        for e in events
    )
    counters: dict[str, int] = {}
    for tag in tags:  # GTO counts every tag of the artifact, lightweight ones included
        counters[tag.artifact] = max(counters.get(tag.artifact, 0), tag.counter or 0)
    missing: list[Event] = []
    for event in reversed(events):  # the newest events are the ones not tagged yet
        key = (
            event.model,
            event.action,
            event.version if event.action == "register" else event.stage,
            event.commit,
        )
        if wanted[key] > have[key]:
            wanted[key] -= 1
            missing.append(event)
    plan = []
    for event in reversed(missing):
        if event.action == "register":
            plan.append((f"{event.model}@{event.version}", event))
            continue
        counters[event.model] = counters.get(event.model, 0) + 1
        bang = "!" if event.action == "unassign" else ""
        plan.append((f"{event.model}#{event.stage}{bang}#{counters[event.model]}", event))
    return plan, skipped


def _message(event: Event) -> str:
    """The annotation, in GTO's wording (``gto/registry.py``), plus where the change was made."""
    name = event.model
    if event.action == "register":
        return f"Registering artifact {name} version {event.version}"
    if event.action == "assign":
        text = f"Assigning stage {event.stage} to artifact {name} version {event.version}"
    else:
        text = f"Unassigning stage '{event.stage}' to artifact '{name}' version '{event.version}'"
    return f"{text}\n\nmlops-ci: state commit {event.why}"


def tag_promotions(
    repo: PromotionRepo,
    state_dir: str,
    environments: Sequence[str],
    author: Author,
    *,
    commit: str = "HEAD",
    push: bool = False,
    attempts: int = 3,
) -> TagOutcome:
    """Write the missing GTO tags for the history at ``commit`` (fetching and pushing with ``push``).

    With ``push``, the remote's tags decide the numbering and what is already there; when another
    job pushed tags in between (a name taken), the local ones are dropped and the plan is redone.
    """
    for attempt in range(1, attempts + 1):
        if push:
            _run(repo, ["fetch", "--quiet", "--no-tags", repo.remote, "refs/tags/*:refs/tags/*"])
        plan, skipped = plan_tags(repo, state_dir, environments, commit=commit)
        for name, event in plan:
            identity = {
                "GIT_COMMITTER_NAME": author.name,
                "GIT_COMMITTER_EMAIL": author.email,
                "GIT_COMMITTER_DATE": f"{event.when} +0000",
            }
            _run(repo, ["tag", "-a", name, event.commit, "-m", _message(event)], identity)
        names = [name for name, _ in plan]
        if not (push and names):
            return TagOutcome(tuple(names), tuple(skipped))
        try:
            _run(
                repo,
                ["push", "--quiet", "--atomic", repo.remote, *(f"refs/tags/{n}" for n in names)],
            )
            return TagOutcome(tuple(names), tuple(skipped))
        except GitError:
            _run(repo, ["tag", "--delete", *names])  # ours only: never a tag someone pushed
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _run(repo: PromotionRepo, args: list[str], env: dict[str, str] | None = None) -> None:
    import git

    try:
        repo.repo.git.execute(["git", *args], env={**os.environ, **_PLAIN_GIT, **(env or {})})
    except git.GitCommandError as exc:
        detail = " ".join(str(exc.stderr or "").split())[:300].strip("' ")
        raise GitError(f"git {args[0]} failed: {detail}") from None
