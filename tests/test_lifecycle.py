"""A model's life as a Hypothesis state machine (issue 13, acceptance 1).

Random sequences of retrain, check, sign, promote, merge, close without merging, rollback (which
pins), promote over a pin (refused) and ``--unpin``, and concurrent promotions from two other
clones run against the demo repository's real bare origin and a GitHub or GitLab stand-in. The
machine keeps its own model of what each environment should run, built from what it asked for
(never from the product's state files), and after every step it asserts:

- every merged state verifies with ``promote verify`` against the previous default branch, and
  a PR/MR whose CI run of ``promote verify`` fails is one the model says went stale;
- ``mlops-ci status`` equals the model;
- every requested transition opened or updated a PR/MR naming what was asked, said "already
  promoted" only when the environment runs exactly that, or exited non-zero (never 3);
- ``mlops-ci fetch`` writes bytes whose digest is the entry's;
- after ``promote tag``, GTO agrees with ``status`` and ``history`` (``assert_gto_agrees``).

The checks that read only the default branch (verify, fetch, GTO) depend on nothing but its
commit, so they run once per new commit of ``main``; status and the forge's requests are
compared after every step.

Each run is derandomized: ``EXAMPLES`` lives of ``STEPS`` operations per forge. The first life
is Hypothesis's simplest example (the first choice everywhere), which ``operations`` orders
as the release loop: climb dev -> staging -> prod, retrain, check, sign, climb again, roll back,
roll forward with ``--unpin``; the others are random. ``LIFECYCLE_EXAMPLES=N`` runs more lives
and ``LIFECYCLE_LOG=FILE`` writes what each did.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from pytest_httpserver import HTTPServer

from mlops_ci.demo import DEMO_MODEL, create_demo
from mlops_ci.gitops import commit_all, merge_and_push, push_current
from mlops_ci.signing import model_digest
from tests.conftest import CliResult, copy_demo
from tests.forges import FakeGitHub, FakeGitLab
from tests.gitrepos import git as run_git
from tests.test_promote_e2e import _signed_template, sign_and_commit, signed_repo

pytest.importorskip("gto.api", reason="gto is a dev dependency: pip install -e '.[dev]'")
from tests.test_gto_tags import assert_gto_agrees

ENVS = ("dev", "staging", "prod")
MODEL_FILE = "models/fraud-detector/model.onnx"
CARD = "models/fraud-detector/README.md"
NUMBER = re.compile(r"/(?:pull|merge_requests)/(\d+)$")  # the PR/MR the command names
STEPS = 30
MAX_RETRAINS = 2
__all__ = ["_signed_template", "signed_repo"]  # fixtures shared with test_promote_e2e
EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "2"))  # more lives: LIFECYCLE_EXAMPLES=N


def quiet_cli(*args: str, cwd: Path) -> CliResult:
    """``mlops-ci ARGS`` in-process (the machine outlives pytest's per-test capture)."""
    from mlops_ci.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return CliResult(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class Entry:
    """What the model says an environment runs."""

    version: str
    digest: str
    pinned: bool


@dataclass
class Request:
    """An open PR/MR the machine asked for: its environment, kind, target and when it forked."""

    env: str
    kind: str
    version: str
    digest: str
    generations: dict[str, int]


@dataclass
class Life:
    """The machine's model of the repository: what it expects, built from what it asked."""

    state: dict[str, Entry | None] = field(default_factory=lambda: dict.fromkeys(ENVS))
    history: dict[str, list[Entry]] = field(default_factory=lambda: {e: [] for e in ENVS})
    generation: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ENVS, 0))
    digests: dict[str, str] = field(default_factory=dict)  # version -> digest, once committed
    committed: str = "1.0.0"  # the version at the default branch's head
    minor: int = 0
    retrained: bool = False  # the checkout holds new, uncommitted bytes
    checked: bool = False  # and a passing report for them
    requests: dict[str, Request] = field(default_factory=dict)  # head branch -> request


_TEMPLATE: dict[str, Path] = {}
LIVES: list[tuple[str, int]] = []  # (forge, operations) of each life that ended


def signed_template() -> Path:
    """The demo, signed and committed (1.0.0), built once per session."""
    if "repo" not in _TEMPLATE:
        root = Path(tempfile.mkdtemp(prefix="lifecycle-"))
        repo = create_demo(root / "repo")
        sign_and_commit(repo)
        _TEMPLATE["repo"] = repo
    return _TEMPLATE["repo"]


class Lifecycle(RuleBasedStateMachine):
    """One repository, one forge stand-in, one random life."""

    forge_kind = "github"

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="life-"))
        self.repo = copy_demo(signed_template(), self.tmp / "repo")
        self.origin = self.repo / ".git" / "mlops-ci-demo-origin.git"
        self.server = HTTPServer()
        self.server.start()
        kind = self.forge_kind
        self.fake: Any = (FakeGitHub if kind == "github" else FakeGitLab)(self.server).install()
        name = self.fake.repository if kind == "github" else self.fake.project
        config = self.repo / "mlops-ci.yaml"
        config.write_text(
            config.read_text().replace(
                "forge: {kind: none}",
                f"forge: {{kind: {kind}, repository: {name}, api_url: '{self.fake.url}'}}",
            )
        )
        commit_all(self.repo, f"use {kind}")
        push_current(self.repo)
        self.token_var = "GITHUB_TOKEN" if kind == "github" else "GITLAB_TOKEN"
        self.saved = os.environ.get(self.token_var)
        os.environ[self.token_var] = self.fake.token
        self.clones = [self.tmp / "job-a", self.tmp / "job-b"]
        for clone in (*self.clones, self.tmp / "ci"):
            run_git(self.tmp, "clone", "--quiet", str(self.origin), str(clone))
        self.life = Life()
        self.life.digests["1.0.0"] = model_digest(self.repo / MODEL_FILE)
        self.checked_main: str | None = None
        self.main = self.head()
        self.log: list[str] = []
        self.steps = 0

    def teardown(self) -> None:
        if os.environ.get("LIFECYCLE_LOG"):  # what the life did, for the curious
            with Path(os.environ["LIFECYCLE_LOG"]).open("a") as log:
                log.write(f"== {self.forge_kind}\n" + "\n".join(self.log) + "\n")
        self.server.clear()
        if self.server.is_running():
            self.server.stop()
        if self.saved is None:
            os.environ.pop(self.token_var, None)
        else:
            os.environ[self.token_var] = self.saved
        shutil.rmtree(self.tmp, ignore_errors=True)
        LIVES.append((self.forge_kind, self.steps))

    # -- helpers -----------------------------------------------------------------------------

    def cli(self, *args: str, cwd: Path | None = None) -> CliResult:
        return quiet_cli(*args, cwd=cwd or self.repo)

    def head(self) -> str:
        return run_git(self.origin, "rev-parse", "main")

    def forge_requests(self) -> list[dict[str, Any]]:
        return list(self.fake.pulls if self.forge_kind == "github" else self.fake.mrs)

    def head_of(self, request: dict[str, Any]) -> str:
        if self.forge_kind == "github":
            return str(request["head"]["ref"])
        return str(request["source_branch"])

    def is_open(self, request: dict[str, Any]) -> bool:
        return bool(request["state"] == ("open" if self.forge_kind == "github" else "opened"))

    def open_numbers(self) -> list[int]:
        return [n for n, r in enumerate(self.forge_requests(), 1) if self.is_open(r)]

    def source_of(self, env: str, *, clean_checkout: bool) -> tuple[str, str] | None:
        """(version, digest) a promotion to ``env`` asks for, by the model; None: nothing."""
        if env == "dev":
            if not clean_checkout:
                return None
            return self.life.committed, self.life.digests[self.life.committed]
        upstream = self.life.state[ENVS[ENVS.index(env) - 1]]
        return (upstream.version, upstream.digest) if upstream else None

    def requested(
        self, result: CliResult, env: str, kinds: tuple[str, ...], want: tuple[str, str] | None
    ) -> None:
        """Every requested transition produced a PR/MR, or said why not (non-zero, one line)."""
        self.log.append(f"  -> exit {result.exit_code}: {(result.stdout + result.stderr)[:200]!r}")
        assert result.exit_code != 3, result.stderr
        if result.exit_code != 0:
            assert result.stderr.strip() and "Traceback" not in result.stderr, result.stderr
            return
        if result.stdout.startswith("already promoted"):
            current = self.life.state[env]
            assert want is not None and current is not None, result.stdout
            assert current.digest == want[1], (result.stdout, current, want)
            return
        assert result.stdout.startswith(("opened: ", "updated: ")), result.stdout
        found = NUMBER.search(result.stdout.splitlines()[0])
        assert found, result.stdout
        request = self.forge_requests()[int(found.group(1)) - 1]
        branch = self.head_of(request)
        assert self.is_open(request), (branch, self.forge_requests())
        opened = [r for r in self.forge_requests() if self.is_open(r) and self.head_of(r) == branch]
        assert len(opened) == 1, (branch, self.forge_requests())
        env_part, rest = branch.removeprefix(f"mlops-ci/promote/{DEMO_MODEL}/").split("/", 1)
        version, kind, digest12 = rest.split("-")[:3]
        assert env_part == env and kind in kinds, branch
        assert want is not None, ("a transition the model says cannot be asked", branch)
        assert (version, digest12) == (want[0], want[1].removeprefix("sha256:")[:12]), branch
        self.life.requests[branch] = Request(
            env, kind, want[0], want[1], dict(self.life.generation)
        )

    def promote(self, env: str, *extra: str, cwd: Path | None = None) -> CliResult:
        return self.cli("promote", DEMO_MODEL, "--to", env, *extra, cwd=cwd)

    def needs(self, env: str) -> bool:
        """Whether promoting ``env`` would change what it runs (by the model)."""
        want = self.source_of(env, clean_checkout=not self.life.retrained)
        current = self.life.state[env]
        if current is not None and current.pinned:
            return False  # only --unpin moves it
        return want is not None and (current is None or current.digest != want[1])

    def rollback_targets(self) -> list[tuple[str, str]]:
        """(environment, version) pairs a rollback may ask for: versions it ran, not the current."""
        return sorted(
            {
                (env, h.version)
                for env in ENVS
                if (current := self.life.state[env])
                for h in self.life.history[env]
                if h.version != current.version
            }
        )

    def envs_by_need(self) -> list[str]:
        """The environments, those whose promotion would change them first."""
        return sorted(ENVS, key=lambda env: not self.needs(env))

    def operations(self) -> list[Callable[[st.DataObject], None]]:
        """The operations possible now (their preconditions), the release loop's next step first.

        Hypothesis's first example draws the first choice everywhere: ordered like this, it is a
        life of its own (climb the ladder, retrain, check, sign, climb again, roll back, ...)
        rather than one operation thirty times.
        """
        life = self.life
        waiting = bool(self.open_numbers())
        pinned = any(e and e.pinned for e in life.state.values())
        loop: list[tuple[bool, Callable[[st.DataObject], None]]] = [
            (waiting, self.merge),
            (life.retrained and not life.checked, self.check),
            (life.checked, self.sign),
            (self.needs_promotion(), self.promote_next),
            (not pinned and bool(self.rollback_targets()), self.rollback),
            (pinned, self.unpin),
            (not life.retrained and life.minor < MAX_RETRAINS, self.retrain),
            (True, self.rollback),  # now and then to a version never run
            (True, self.promote_next),  # also refused or "already promoted" ones
            (waiting, self.close_without_merging),
            (not life.retrained, self.concurrent_promotions),
            (waiting, self.merge),  # reviews happen more often than retrains
        ]
        return [op for possible, op in loop if possible]

    def needs_promotion(self) -> bool:
        return any(self.needs(env) for env in ENVS)

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One operation of the life, drawn among those possible now.

        One rule that draws the operation, rather than one rule per operation: with two or three
        sequences per run, Hypothesis's swarm testing (which switches rules off per sequence)
        would leave most lives without merges or promotions.
        """
        operation = data.draw(st.sampled_from(self.operations()))
        operation(data)
        self.steps += 1

    # -- rules -------------------------------------------------------------------------------

    def retrain(self, data: st.DataObject) -> None:
        """New weights (the first release's, moved a little as a retrain moves them, so the eval
        gate passes) and a version bump in the card; nothing committed yet."""
        from mlops_ci.demo import RETRAIN_JITTER
        from mlops_ci.demo.model import save_mlp

        self.life.minor += 1
        seed = 1000 * self.life.minor + data.draw(st.integers(0, 999))  # always new bytes
        version = f"1.{self.life.minor}.0"
        self.log.append(f"retrain {version}")
        card = self.repo / CARD
        text = card.read_text()
        old = next(line for line in text.splitlines() if line.strip().startswith("version:"))
        card.write_text(text.replace(old, old.split(":")[0] + f": {version}", 1))
        save_mlp(
            self.repo / MODEL_FILE,
            (64, 32, 2),
            seed=7,
            jitter=RETRAIN_JITTER,
            jitter_seed=seed,
            name=DEMO_MODEL,
        )
        self.life.retrained, self.life.checked = True, False
        self.retrained_version = version

    def check(self, data: st.DataObject) -> None:
        """``check`` passes on a retrained model: stale evidence says "unsigned", no failure."""
        from mlops_ci.demo.signing import REPORT
        from mlops_ci.outputs import OutputSpec, deliver
        from mlops_ci.pipeline import CheckRequest, run_check

        self.log.append("check")
        (self.repo / REPORT).unlink(missing_ok=True)
        report = run_check(CheckRequest(cwd=self.repo, offline=True))
        assert report.verdict == "pass", [f.message for _, f in report.all_findings()]
        (signature,) = [r for r in report.results if r.check == "signature"]
        assert signature.facts["signed"] is False and signature.facts["stale_digest"]
        deliver(report, [OutputSpec("json", self.repo / REPORT)])
        self.life.checked = True

    def sign(self, data: st.DataObject) -> None:
        """Sign the checked bytes, commit and push the model with its evidence."""
        from mlops_ci.demo.signing import sign_demo

        self.log.append("sign + commit")
        sign_demo(self.repo)
        commit_all(self.repo, f"Model {self.retrained_version}")
        push_current(self.repo)
        self.life.committed = self.retrained_version
        self.life.digests[self.retrained_version] = model_digest(self.repo / MODEL_FILE)
        self.life.retrained = self.life.checked = False

    def promote_next(self, data: st.DataObject) -> None:
        """Promote to an environment from the one before it (dev: from the checkout's commit);
        environments whose source runs something else come first (the simplest life climbs)."""
        env = data.draw(st.sampled_from(self.envs_by_need()))
        self.log.append(f"promote --to {env}")
        want = self.source_of(env, clean_checkout=not self.life.retrained)
        before = self.open_numbers()
        result = self.promote(env)
        self.requested(result, env, ("promote",), want)
        current = self.life.state[env]
        if current is not None and current.pinned and result.exit_code == 0:
            assert result.stdout.startswith("already promoted"), result.stdout
        if want is None or (current is not None and current.pinned):
            assert result.exit_code != 0 or result.stdout.startswith("already"), result.stdout
            assert self.open_numbers() == before
        elif current is None or current.digest != want[1]:
            assert result.exit_code == 0, result.stderr  # nothing stands in its way

    def unpin(self, data: st.DataObject) -> None:
        """Roll a pinned environment forward with ``promote --unpin``."""
        pinned = [env for env, e in self.life.state.items() if e and e.pinned]
        env = data.draw(st.sampled_from(pinned))
        self.log.append(f"promote --to {env} --unpin")
        want = self.source_of(env, clean_checkout=not self.life.retrained)
        result = self.promote(env, "--unpin")
        self.requested(result, env, ("unpin", "promote"), want)
        current = self.life.state[env]
        if want is not None and current is not None and current.digest != want[1]:
            assert result.exit_code == 0, result.stderr

    def rollback(self, data: st.DataObject) -> None:
        """Roll an environment back (and pin it) to a version it ran before; now and then to
        one it never ran, which is refused with nothing opened."""
        choices = self.rollback_targets()
        never = data.draw(st.integers(0, 5)) == 5 or not choices
        if never:
            env = data.draw(st.sampled_from(ENVS))
            version = data.draw(st.sampled_from(["0.9.0", "7.7.7"]))
        else:
            env, version = data.draw(st.sampled_from(choices))
        self.log.append(f"rollback --env {env} --to {version}")
        before = len(self.forge_requests())
        result = self.cli("rollback", DEMO_MODEL, "--env", env, "--to", version)
        if never:
            self.requested(result, env, ("rollback",), None)
            assert result.exit_code in (1, 2) and len(self.forge_requests()) == before
            return
        self.requested(result, env, ("rollback",), (version, self.life.digests[version]))
        assert result.exit_code == 0, result.stderr

    def concurrent_promotions(self, data: st.DataObject) -> None:
        """Two CI jobs in two clones promote at once (the same or different environments)."""
        envs = data.draw(st.tuples(st.sampled_from(ENVS), st.sampled_from(ENVS)))
        self.log.append(f"concurrent promote --to {envs[0]} | --to {envs[1]}")
        for clone in self.clones:
            run_git(clone, "pull", "--quiet", "--ff-only", "origin", "main")
        wants = [self.source_of(env, clean_checkout=True) for env in envs]
        environ = dict(os.environ)

        def job(i: int) -> CliResult:
            """What ``mlops-ci promote`` does in that clone (the CLI's chdir is process-wide)."""
            from mlops_ci.commands.promote import _report
            from mlops_ci.config import load_config
            from mlops_ci.errors import MlopsCiError
            from mlops_ci.promote.service import PromoteRequest, promote

            request = PromoteRequest(DEMO_MODEL, envs[i], None, None, False, False)
            try:
                outcome = promote(load_config(self.clones[i] / "mlops-ci.yaml"), request, environ)
            except MlopsCiError as exc:
                return CliResult(exc.exit_code, "", f"{exc}\n")
            out = io.StringIO()
            with redirect_stdout(out):  # only _report writes; the other thread is done or silent
                code = _report(outcome)
            return CliResult(code, out.getvalue(), "")

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(job, range(2)))
        for env, want, result in zip(envs, wants, results, strict=True):
            self.requested(result, env, ("promote", "unpin"), want)

    def merge(self, data: st.DataObject) -> None:
        """CI runs ``promote verify`` on the PR/MR; green: merge it, red: it went stale."""
        number = data.draw(st.sampled_from(self.open_numbers()))
        branch = self.head_of(self.forge_requests()[number - 1])
        request = self.life.requests[branch]
        self.log.append(f"merge #{number} {branch}")
        gen = self.life.generation
        stale = gen[request.env] != request.generations[request.env]
        if request.kind != "rollback" and request.env != "dev":
            upstream = ENVS[ENVS.index(request.env) - 1]
            stale = stale or gen[upstream] != request.generations[upstream]
        ci_clone = self.tmp / "ci"  # a clean checkout: the work tree may hold a retrained model
        run_git(ci_clone, "fetch", "--quiet", "origin")
        run_git(ci_clone, "checkout", "--quiet", "--detach", f"origin/{branch}")
        ci = self.cli("promote", "verify", "--base", "origin/main", cwd=ci_clone)
        self.log.append(f"  -> CI verify {ci.exit_code} (stale: {stale})")
        assert ci.exit_code != 3 and (ci.exit_code == 0) == (not stale), ci.stdout + ci.stderr
        if stale:
            self._close(number)
            return
        base = self.head()
        merge_and_push(self.repo, branch, f"Merge {branch}")
        self.fake.merge(number)
        after = self.cli("promote", "verify", "--base", base)  # the merged state, on main
        assert after.exit_code == 0, after.stdout + after.stderr
        entry = Entry(request.version, request.digest, request.kind == "rollback")
        self.life.state[request.env] = entry
        self.life.history[request.env].append(entry)
        self.life.generation[request.env] += 1

    def close_without_merging(self, data: st.DataObject) -> None:
        """A reviewer closes a PR/MR: nothing changes, and asking again opens a new one."""
        number = data.draw(st.sampled_from(self.open_numbers()))
        self.log.append(f"close #{number}")
        self._close(number)

    def _close(self, number: int) -> None:
        request = self.forge_requests()[number - 1]
        request["state"] = "closed"

    # -- invariants --------------------------------------------------------------------------

    @invariant()
    def status_is_the_model(self) -> None:
        result = self.cli("status", "--format", "json")
        assert result.exit_code == 0, result.stderr
        table = json.loads(result.stdout)[DEMO_MODEL]
        for env in ENVS:
            want = self.life.state[env]
            row = table.get(env)
            if want is None:
                assert not row, (env, row)
                continue
            assert row and row["version"] == want.version, (env, row, want, self.log)
            assert row["digest"] == want.digest, (env, row, want)
            assert bool(row.get("pinned")) == want.pinned, (env, row, want)

    @invariant()
    def every_open_request_is_one_the_machine_asked_for(self) -> None:
        for number in self.open_numbers():
            assert self.head_of(self.forge_requests()[number - 1]) in self.life.requests

    @invariant()
    def the_default_branch_delivers_and_gto_agrees(self) -> None:
        """fetch and GTO read only ``main``: checked once per new commit of it."""
        head = self.head()
        if head == self.checked_main:
            return
        for env in ENVS:
            want = self.life.state[env]
            if want is None:
                continue
            out = self.tmp / f"fetch-{env}"
            shutil.rmtree(out, ignore_errors=True)
            fetched = self.cli("fetch", DEMO_MODEL, "--env", env, "--to", str(out))
            assert fetched.exit_code == 0, fetched.stderr
            assert model_digest(out / "model.onnx") == want.digest, env
        tagged = self.cli("promote", "tag")
        assert tagged.exit_code == 0, tagged.stdout + tagged.stderr
        if any(self.life.state.values()):
            assert_gto_agrees(quiet_cli_bound(self.repo), self.repo)
        self.checked_main = head


def quiet_cli_bound(repo: Path) -> Callable[..., CliResult]:
    """``assert_gto_agrees`` calls ``cli(*args, cwd=repo)``."""

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        return quiet_cli(*args, cwd=cwd or repo)

    return run


class GitHubLife(Lifecycle):
    forge_kind = "github"


class GitLabLife(Lifecycle):
    forge_kind = "gitlab"


LIFE_SETTINGS = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],  # a shrink of 30 slow steps: minutes; the log says
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("machine", [GitHubLife, GitLabLife], ids=["github", "gitlab"])
def test_a_models_life(machine: type[Lifecycle]) -> None:
    """Random lives of at least 30 operations each keep every invariant, on both forges."""
    from hypothesis.stateful import run_state_machine_as_test

    LIVES.clear()
    run_state_machine_as_test(machine, settings=LIFE_SETTINGS)
    assert len(LIVES) == EXAMPLES and set(LIVES) == {(machine.forge_kind, STEPS)}, LIVES


def test_a_roll_forward_names_the_commit_its_bytes_were_promoted_from(
    cli: Callable[..., CliResult], signed_repo: Path
) -> None:
    """Found by the machine above: dev 1.1.0, rolled back to 1.0.0, then ``--unpin`` named the
    checkout's HEAD (a later merge commit) as 1.1.0's commit, so 1.1.0 was "promoted from two
    commits" and ``promote tag`` exited 2: GTO could not show it. Same bytes, same commit."""
    from tests.test_gto_tags import land, retrain

    land(cli, signed_repo, "promote", DEMO_MODEL, "--to", "dev")
    retrain(signed_repo, "1.1.0", seed=8)
    land(cli, signed_repo, "promote", DEMO_MODEL, "--to", "dev")
    first = state_of(signed_repo, "dev").promoted_from["commit"]
    land(cli, signed_repo, "rollback", DEMO_MODEL, "--env", "dev", "--to", "1.0.0")
    run_git(signed_repo, "pull", "--quiet", "origin", "main")  # HEAD is now a merge commit
    land(cli, signed_repo, "promote", DEMO_MODEL, "--to", "dev", "--unpin")
    entry = state_of(signed_repo, "dev")
    assert (entry.version, entry.pinned) == ("1.1.0", False)
    assert entry.promoted_from["commit"] == first
    tagged = cli("promote", "tag", cwd=signed_repo)
    assert tagged.exit_code == 0, tagged.stderr
    assert_gto_agrees(cli, signed_repo)


def state_of(repo: Path, env: str) -> Any:
    from tests.test_promote_e2e import state_on_main

    return state_on_main(repo, env)[DEMO_MODEL]
