"""Promotion planning and state files, without git or network."""

from __future__ import annotations

import pytest

from mlops_ci.errors import InputError
from mlops_ci.promote.plan import (
    Candidate,
    PromotionRefused,
    branch_name,
    plan_promotion,
    plan_rollback,
    transition_origin,
)
from mlops_ci.promote.state import EnvironmentState, StateEntry, parse_state, set_entry

LADDER = ["dev", "staging", "prod"]
CANDIDATE = Candidate(
    "models/m.onnx",
    "sha256:aa",
    "models/m.onnx.sig",
    "models/m.onnx.attestation.sigstore.json",
    "c0ffee",
)


def entry(version: str = "1.0", digest: str = "sha256:aa", **kwargs: object) -> StateEntry:
    return StateEntry(version=version, artifact="models/m.onnx", digest=digest, **kwargs)  # type: ignore[arg-type]


def states(**models: dict[str, StateEntry]) -> dict[str, EnvironmentState]:
    return {env: EnvironmentState(env, f"deploy/{env}.yaml", models.get(env, {})) for env in LADDER}


def plan(env: str, current: dict[str, EnvironmentState], **kwargs: object):  # type: ignore[no-untyped-def]
    args = {"version": None, "candidate": CANDIDATE, "unpin": False}
    args.update(kwargs)
    return plan_promotion(
        model="m",
        environment=env,
        ladder=LADDER,
        state_dir="deploy/",
        states=current,
        actor="me",
        now_iso="2026-11-22T00:00:00+00:00",
        **args,  # type: ignore[arg-type]
    )


def test_first_environment_takes_the_repository_model() -> None:
    result = plan("dev", states(), version="1.0")
    assert result is not None
    assert result.entry.digest == "sha256:aa" and result.entry.promoted_from == {"commit": "c0ffee"}
    assert result.branch == "mlops-ci/promote/m/dev/1.0-promote-aa-new"
    assert result.state_file == "deploy/dev.yaml"


def test_later_environment_takes_what_the_previous_runs() -> None:
    result = plan("staging", states(dev={"m": entry(promoted_from={"commit": "c0ffee"})}))
    assert result is not None
    assert result.entry.same_release(entry())
    assert result.entry.promoted_from == {"environment": "dev", "commit": "c0ffee"}


def test_skipping_an_environment_is_refused() -> None:
    with pytest.raises(
        PromotionRefused, match="staging does not run m; promote it to staging first"
    ):
        plan("prod", states(dev={"m": entry()}))


def test_version_the_previous_does_not_run_is_refused() -> None:
    with pytest.raises(PromotionRefused, match="dev runs m 1.0, not 2.0"):
        plan("staging", states(dev={"m": entry()}), version="2.0")


def test_already_promoted_is_nothing_to_do() -> None:
    assert plan("staging", states(dev={"m": entry()}, staging={"m": entry()})) is None


def test_pinned_environment_refuses_without_unpin() -> None:
    current = states(dev={"m": entry("2.0", "sha256:bb")}, staging={"m": entry(pinned=True)})
    with pytest.raises(PromotionRefused, match="pinned to m 1.0 by a rollback; pass --unpin"):
        plan("staging", current)
    result = plan("staging", current, unpin=True)
    assert result is not None and result.entry.pinned is False


def test_rollback_pins_a_release_from_history() -> None:
    history = [("c2", entry("2.0", "sha256:bb")), ("c1", entry("1.0", "sha256:aa"))]
    result = plan_rollback(
        model="m",
        environment="prod",
        state_dir="deploy",
        current=entry("2.0", "sha256:bb"),
        history=history,
        version="1.0",
        actor="me",
        now_iso="t",
    )
    assert result.entry.pinned and result.entry.rollback_of == "2.0"
    assert result.entry.promoted_from == {
        "environment": "prod",
        "commit": "c1",
    }  # no artifact commit recorded
    with pytest.raises(
        PromotionRefused, match="never ran m 3.0; versions in its history: 2.0, 1.0"
    ):
        plan_rollback(
            model="m",
            environment="prod",
            state_dir="deploy",
            current=None,
            history=history,
            version="3.0",
            actor="me",
            now_iso="t",
        )


def test_branch_names_are_safe() -> None:
    assert branch_name("m", "prod", "1.0 rc:1") == "mlops-ci/promote/m/prod/1.0-rc-1-promote-new"
    assert (
        branch_name("m/x", "prod", "1", kind="rollback", digest="sha256:" + "ab" * 32, since="c0")
        == "mlops-ci/promote/m-x/prod/1-rollback-abababababab-c0"
    )


def test_state_round_trip_keeps_comments_and_order() -> None:
    zz, z3, zero = ("sha256:" + c * 64 for c in "fe0")
    text = (
        "# prod: reviewed by the platform team\nmodels:\n  # flagship\n  zeta:  # keep me\n"
        f"    version: '2'\n    artifact: z.onnx\n    digest: {zz}  # old\n    pinned: false\n"
        f"  alpha:\n    version: '1'\n    artifact: a.onnx\n    digest: {zero}\n"
    )
    updated = set_entry(text, "zeta", StateEntry("3", "z.onnx", z3))
    assert updated.startswith(
        "# prod: reviewed by the platform team\nmodels:\n  # flagship\n  zeta:  # keep me\n"
    )
    assert f"    digest: {z3}  # old\n" in updated
    assert updated.index("zeta") < updated.index("alpha")
    assert f"alpha:\n    version: '1'\n    artifact: a.onnx\n    digest: {zero}\n" in updated
    state = parse_state(updated, "prod", "deploy/prod.yaml", models=["zeta", "alpha"])
    assert state.entry("zeta") == StateEntry("3", "z.onnx", z3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: [a]\n", "'models:' must be a mapping"),
        ("models:\n  m: {version: '1'}\n", "models.m: missing required key 'artifact'"),
        (
            "models:\n  m: {version: 1, artifact: a, digest: d, colour: red}\n",
            "unknown key 'colour'",
        ),
        ("models:\n  m: [\n", "invalid YAML"),
    ],
)
def test_malformed_state_file_names_file_and_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        parse_state(text, "prod", "deploy/prod.yaml", models=None)
    assert str(err.value).startswith("deploy/prod.yaml:")


def test_each_requested_transition_has_its_own_branch() -> None:
    """Same rollback asked from two different states: two branches; same request twice: one."""
    newer, older = entry("2.0", "sha256:" + "b" * 64), entry("1.0", "sha256:" + "a" * 64)
    history = [("c3" + "0" * 38, newer), ("c2" + "0" * 38, older), ("c1" + "0" * 38, newer)]

    def rollback(since: list[tuple[str, StateEntry]]) -> str:
        return plan_rollback(
            model="m",
            environment="prod",
            state_dir="deploy",
            current=newer,
            history=since,
            version="1.0",
            actor="me",
            now_iso="t",
        ).branch

    first, second = rollback([*history[2:], ("c0" + "0" * 38, older)]), rollback(history)
    assert first != second and rollback(history) == second
    assert second == "mlops-ci/promote/m/prod/1.0-rollback-aaaaaaaaaaaa-c300000000"
    pinned = states(dev={"m": newer}, staging={"m": entry("1.0", older.digest, pinned=True)})
    unpin = plan("staging", pinned, unpin=True)
    assert unpin is not None and unpin.kind == "unpin" and "-unpin-" in unpin.branch
    assert transition_origin(None, None) == "new"
    assert transition_origin(newer, None) != transition_origin(older, None)


def test_the_same_bytes_moved_into_a_registry_are_a_change() -> None:
    """Issue 17: same version and digest, but the entry now names a registry artifact (no
    commit): a promotion with its own PR, and then, asked again, nothing to do."""
    ref = "oci://127.0.0.1:5000/models/m@sha256:" + "b" * 64
    in_registry = Candidate(ref, "sha256:aa", None, None, None)
    running = states(dev={"m": entry(promoted_from={"commit": "c0ffee"})})
    result = plan("dev", running, version="1.0", candidate=in_registry)
    assert result is not None
    assert (result.entry.artifact, dict(result.entry.promoted_from)) == (ref, {})
    assert (result.entry.signature, result.entry.attestation) == (None, None)
    assert f"Bytes: {ref}" in result.commit_message
    moved = states(dev={"m": result.entry})
    assert plan("dev", moved, version="1.0", candidate=in_registry) is None
