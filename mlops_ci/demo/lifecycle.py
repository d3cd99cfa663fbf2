"""The demo as a model's life: the first release, a retrained second one, a rollback and a roll-forward.

Every step is the command a user runs (``check`` then ``sign``, ``promote``, ``rollback``,
``promote --unpin``), called in-process and printed as that command; a reviewer's merge is
``git merge`` of the pushed branch. Everything runs offline against the demo's bare origin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlops_ci.demo import DEMO_MODEL, RETRAIN_JITTER

Say = Callable[[str], None]
SECOND_VERSION = "1.1.0"


def check_and_sign(target: Path, say: Say, *, show_report: bool) -> int:
    """``mlops-ci check`` (writing the JSON report), then ``mlops-ci sign`` and ``verify``."""
    from mlops_ci.commands.common import emit_report
    from mlops_ci.commands.sign import print_signed, print_verified
    from mlops_ci.demo.signing import REPORT, sign_demo, verify_demo
    from mlops_ci.outputs import parse_format_specs
    from mlops_ci.pipeline import CheckRequest, run_check

    # Every format goes to a file: the text summary still prints (unless quiet), as for a user.
    quiet = "" if show_report else " --quiet"
    say(f"$ mlops-ci check{quiet} --format json={REPORT}\n")
    report = run_check(CheckRequest(cwd=target, offline=True))
    specs = parse_format_specs([f"json={target / REPORT}"])
    code = emit_report(report, specs, quiet=not show_report)
    if not show_report:
        say(f"verdict: {report.verdict}")
    if code:
        return code
    say("$ mlops-ci sign    # the model, its gate-report attestation, SBOM and report")
    print_signed(sign_demo(target))
    say("\n$ mlops-ci verify")
    return print_verified(verify_demo(target))


def _land(target: Path, say: Say, command: str, request: object) -> int:
    """Run one promotion request, then merge its branch the way a reviewer would."""
    from mlops_ci.config import load_config
    from mlops_ci.gitops import merge_and_push
    from mlops_ci.promote.plan import PromotionRefused
    from mlops_ci.promote.service import PromoteRequest, promote

    assert isinstance(request, PromoteRequest)  # noqa: S101  (internal call)
    say(f"\n$ {command}")
    try:
        outcome = promote(load_config(cwd=target), request, {})
    except PromotionRefused as exc:
        say(f"refused: {exc}")
        return 1
    landed = outcome.landed
    assert landed is not None and landed.plan is not None  # noqa: S101  (not a dry run)
    say(f"{landed.outcome}: {landed.plan.title} ({landed.plan.branch})")
    say(f"$ git merge origin/{landed.plan.branch} && git push   # a reviewer approves and merges")
    merge_and_push(target, landed.plan.branch, f"Merge {landed.plan.title}")
    return 0


def promote_step(target: Path, say: Say, environment: str, *, unpin: bool = False) -> int:
    """``mlops-ci promote MODEL --to ENV --forge none [--unpin]``, merged."""
    from mlops_ci.promote.service import PromoteRequest

    flag = " --unpin" if unpin else ""
    command = f"mlops-ci promote {DEMO_MODEL} --to {environment} --forge none{flag}"
    request = PromoteRequest(DEMO_MODEL, environment, forge="none", unpin=unpin)
    return _land(target, say, command, request)


def rollback_step(target: Path, say: Say, environment: str, version: str) -> int:
    """``mlops-ci rollback MODEL --env ENV --to VERSION --forge none``, merged."""
    from mlops_ci.promote.service import PromoteRequest

    command = f"mlops-ci rollback {DEMO_MODEL} --env {environment} --to {version} --forge none"
    request = PromoteRequest(DEMO_MODEL, environment, forge="none", rollback_to=version)
    return _land(target, say, command, request)


def retrain(target: Path, say: Say) -> None:
    """Write a retrained model (the first one's weights moved a little) and bump the card's
    version, then commit."""
    from mlops_ci.demo.model import save_mlp
    from mlops_ci.gitops import commit_all, push_current

    card = target / "models" / DEMO_MODEL / "README.md"
    card.write_text(card.read_text().replace("version: 1.0.0", f"version: {SECOND_VERSION}", 1))
    model = target / "models" / DEMO_MODEL / "model.onnx"
    save_mlp(model, (64, 32, 2), seed=7, jitter=RETRAIN_JITTER, name=DEMO_MODEL)
    commit_all(target, f"Retrain {DEMO_MODEL} to {SECOND_VERSION}")
    push_current(target)
    say(f"\n# retrain: new weights, version {SECOND_VERSION} in the card")
    say(f"$ git commit -am 'Retrain {DEMO_MODEL} to {SECOND_VERSION}' && git push")


def commit_evidence(target: Path, say: Say, version: str) -> None:
    """Commit and push the signatures, as CI's evidence step does."""
    from mlops_ci.gitops import commit_all, push_current

    commit_all(target, f"Sign {DEMO_MODEL} {version}: model signature and gate-report attestation")
    push_current(target)
    say(f"$ git commit -m 'Sign {DEMO_MODEL} {version}' && git push   # the evidence travels")


def _commit_evidence_step(target: Path, say: Say, version: str) -> int:
    commit_evidence(target, say, version)
    return 0


def show_state(target: Path, say: Say) -> None:
    """``mlops-ci status`` and ``mlops-ci history MODEL``."""
    from mlops_ci.commands.promote_views import render_history, render_status
    from mlops_ci.config import load_config

    loaded = load_config(cwd=target)
    say("\n$ mlops-ci status")
    say(render_status(loaded, "text").rstrip())
    say(f"\n$ mlops-ci history {DEMO_MODEL}")
    say(render_history(loaded, DEMO_MODEL, None, None, "text").rstrip())


def first_release(target: Path, say: Say) -> int:
    """1.0.0: check, sign, verify, commit the evidence, promote to dev and staging."""
    code = check_and_sign(target, say, show_report=True)
    if code:
        return code
    commit_evidence(target, say, "1.0.0")
    for environment in ("dev", "staging"):
        code = promote_step(target, say, environment)
        if code:
            return code
    return 0


def second_release(target: Path, say: Say) -> int:
    """1.1.0 through dev and staging, staging rolled back to 1.0.0, then forward again; then
    1.1.0 pushed to a loopback OCI registry, verified there and promoted to dev by digest."""
    retrain(target, say)
    steps: list[Callable[[], int]] = [
        lambda: check_and_sign(target, say, show_report=False),
        lambda: _commit_evidence_step(target, say, SECOND_VERSION),
        lambda: promote_step(target, say, "dev"),
        lambda: promote_step(target, say, "staging"),
        lambda: rollback_step(target, say, "staging", "1.0.0"),
        lambda: promote_step(target, say, "staging", unpin=True),
    ]
    for step in steps:
        code = step()
        if code:
            return code
    from mlops_ci.demo.registry import registry_act

    code = registry_act(target, say, SECOND_VERSION, _land)
    if code:
        return code
    show_state(target, say)
    return 0
