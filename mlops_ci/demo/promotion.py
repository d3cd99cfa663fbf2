"""The demo's GitOps part: commit the evidence, promote dev -> staging, merge like a reviewer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlops_ci.demo import DEMO_MODEL


def promote_demo(target: Path, say: Callable[[str], None]) -> int:
    """Promote the demo model to dev, then staging, against the local bare origin (forge none).

    Each promotion pushes a branch; the demo merges it the way a reviewer would and pushes the
    default branch, then shows ``mlops-ci status``. Returns 0, or 1 if a promotion was refused.
    """
    from mlops_ci.commands.promote_views import render_status
    from mlops_ci.config import load_config
    from mlops_ci.gitops import commit_all, merge_and_push, push_current
    from mlops_ci.promote.plan import PromotionRefused
    from mlops_ci.promote.service import PromoteRequest, promote

    commit_all(target, f"Sign {DEMO_MODEL}: model signature and gate-report attestation")
    push_current(target)
    say("$ git commit -m 'Sign fraud-detector' && git push   # the evidence travels with the model")
    loaded = load_config(cwd=target)
    for environment in loaded.config.environments[:2]:
        say(f"\n$ mlops-ci promote {DEMO_MODEL} --to {environment} --forge none")
        try:
            outcome = promote(loaded, PromoteRequest(DEMO_MODEL, environment, forge="none"), {})
        except PromotionRefused as exc:
            say(f"refused: {exc}")
            return 1
        landed = outcome.landed
        assert landed is not None and landed.plan is not None  # noqa: S101  (not a dry run)
        say(f"{landed.outcome}: {landed.plan.title} ({landed.plan.branch})")
        say(
            f"$ git merge origin/{landed.plan.branch} && git push   # a reviewer approves and merges"
        )
        merge_and_push(target, landed.plan.branch, f"Merge {landed.plan.title}")
    say("\n$ mlops-ci status")
    say(render_status(load_config(cwd=target), "text").rstrip())
    return 0
