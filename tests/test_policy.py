"""Policy packs in CEL: loading errors, evaluation, shipped packs and their tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_ci.demo.model import save_mlp
from mlops_ci.errors import InputError
from mlops_ci.findings import Report
from mlops_ci.policy.engine import evaluate_packs
from mlops_ci.policy.facts import empty_facts
from mlops_ci.policy.pack import load_pack, load_pack_text, shipped_pack_names
from tests.conftest import CliResult

Cli = Callable[..., CliResult]
ROOT = Path(__file__).resolve().parent.parent
COMPLETE = (Path(__file__).parent / "data" / "cards" / "complete.md").read_text()
GOVERNANCE_RULES = {
    "version": "STRICT-VERSION",
    "owners": "STRICT-OWNERS",
    "intended_use": "STRICT-INTENDED-USE",
    "out_of_scope_use": "STRICT-OUT-OF-SCOPE",
    "limitations": "STRICT-LIMITATIONS",
    "risk_level": "STRICT-RISK-LEVEL",
    "training_data": "STRICT-TRAINING-LINEAGE",
    "evaluation_data": "STRICT-EVALUATION-DATA",
    "evaluation_metrics": "STRICT-EVALUATION-METRICS",
    "fairness": "STRICT-FAIRNESS",
    "explainability": "STRICT-EXPLAINABILITY",
    "approvals": "STRICT-APPROVALS",
}


def make_repo(root: Path, card: str, policies: str = "[strict]") -> Path:
    save_mlp(root / "model.onnx", (8, 4, 2))
    (root / "card.md").write_text(card)
    (root / "mlops-ci.yaml").write_text(
        f"models:\n  - {{name: m, path: model.onnx, card: card.md}}\npolicies: {policies}\n"
    )
    return root


def run_json(cli: Cli, repo: Path, *args: str) -> tuple[int, Report]:
    result = cli("check", "--only", "card", "--only", "policy", "--format", "json", *args, cwd=repo)
    assert "Traceback" not in result.stderr
    return result.exit_code, Report.from_dict(json.loads(result.stdout))


def test_shipped_packs_pass_their_tests(cli: Cli) -> None:
    result = cli("policy", "test", str(ROOT / "policies" / "tests"))
    assert result.exit_code == 0, result.stdout
    assert "0 failed" in result.stdout
    assert set(shipped_pack_names()) == {"baseline", "strict", "production"}


def test_policy_test_reports_a_wrong_expectation(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "x_test.yaml").write_text(
        "pack: production\ncases:\n  - name: unsigned\n    facts: {}\n    expect: {PROD-SIGNED: pass}\n"
    )
    result = cli("policy", "test", str(tmp_path))
    assert result.exit_code == 1
    assert "PROD-SIGNED: expected pass, got fail" in result.stdout


def test_policy_test_rejects_an_unknown_rule_id(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "x_test.yaml").write_text(
        "pack: production\ncases:\n  - name: c\n    expect: {PROD-SIGNDE: pass}\n"
    )
    result = cli("policy", "test", str(tmp_path))
    assert result.exit_code == 2
    assert "did you mean 'PROD-SIGNED'?" in result.stderr
    assert ":4:14:" in result.stderr


def test_complete_card_passes_strict(cli: Cli, tmp_path: Path) -> None:
    code, report = run_json(cli, make_repo(tmp_path, COMPLETE))
    assert code == 0, [f.message for _, f in report.all_findings()]
    (policy,) = [r for r in report.results if r.check == "policy"]
    assert policy.facts["packs"] == [{"name": "strict", "version": "1.0.0"}]
    assert policy.facts["failed"] == 0


@pytest.mark.parametrize("field", sorted(GOVERNANCE_RULES))
def test_each_missing_governance_field_is_one_finding(cli: Cli, tmp_path: Path, field: str) -> None:
    lines = COMPLETE.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {field}:"))
    end = start + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    governance_line = next(i for i, line in enumerate(lines) if line.startswith("governance:")) + 1
    code, report = run_json(cli, make_repo(tmp_path, "".join(lines[:start] + lines[end:])))
    findings = [f for _, f in report.all_findings()]
    assert code == 1
    assert [f.rule_id for f in findings] == [GOVERNANCE_RULES[field]]
    assert findings[0].location is not None
    assert (findings[0].location.path, findings[0].location.line) == ("card.md", governance_line)


def test_findings_point_at_the_field(cli: Cli, tmp_path: Path) -> None:
    card = COMPLETE.replace("  version: 2.1.0", '  version: ""')
    _, report = run_json(cli, make_repo(tmp_path, card))
    (finding,) = [f for _, f in report.all_findings()]
    assert finding.rule_id == "STRICT-VERSION"
    assert finding.location is not None and finding.location.line == 17


def test_cel_syntax_error_names_pack_rule_and_column(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlops_ci.pipeline

    repo = make_repo(tmp_path, COMPLETE, "[./local.yaml]")
    (repo / "local.yaml").write_text(
        "name: local\nversion: '1'\ndescription: d\nrules:\n"
        "  - id: LOCAL-1\n    description: d\n    severity: high\n"
        "    expr: card.valid && (\n    message: m\n    remediation: r\n"
    )

    def no_gate_may_run(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a broken pack is refused before the gates run, not after them")

    monkeypatch.setattr(mlops_ci.pipeline, "run_checks", no_gate_may_run)
    result = cli("check", cwd=repo)
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(
        "error: ./local.yaml:8:11: rule LOCAL-1: CEL syntax error in 'expr' at column"
    )
    with pytest.raises(InputError, match=r"rule LOCAL-1: CEL syntax error in 'message' at column"):
        load_pack_text(
            "name: l\nversion: '1'\ndescription: d\nrules:\n  - {id: LOCAL-1, description: d, "
            "severity: low, expr: 'true', message: 'x {{ 1 + }}', remediation: r}\n",
            "l.yaml",
        )


def test_rule_on_a_missing_fact_is_a_finding_not_a_crash(cli: Cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, COMPLETE, "[./local.yaml]")
    (repo / "local.yaml").write_text(
        "name: local\nversion: '1'\ndescription: d\nrules:\n"
        "  - id: LOCAL-SIGNED\n    description: the model is signed\n    severity: high\n"
        "    expr: signature.verified\n    message: unsigned\n    remediation: sign it\n"
    )
    code, report = run_json(cli, repo)
    assert code == 1
    (finding,) = [f for _, f in report.all_findings()]
    assert finding.rule_id == "LOCAL-SIGNED"
    assert "could not be evaluated: no such fact 'verified'" in finding.message


def test_non_boolean_rule_fails_closed() -> None:
    pack = load_pack_text(
        "name: l\nversion: '1'\ndescription: d\nrules:\n  - {id: L-1, description: d,"
        " severity: low, expr: '1 + 1', message: m, remediation: r}\n",
        "l.yaml",
    )
    (outcome,) = evaluate_packs([pack], empty_facts())
    assert outcome.outcome == "error" and "not a boolean" in outcome.message


def test_production_blocks_unsigned_and_passes_signed() -> None:
    pack = load_pack("production", ROOT)
    facts = empty_facts()
    facts["checks"] = {"deps": {"findings": {"critical": 0, "high": 0}}}
    outcomes = {o.rule.id: o.outcome for o in evaluate_packs([pack], facts)}
    assert outcomes["PROD-SIGNED"] == "fail"
    facts["signature"] = {"signed": True, "verified": True, "digest": "sha256:ab"}
    outcomes = {o.rule.id: o.outcome for o in evaluate_packs([pack], facts)}
    assert set(outcomes.values()) <= {"pass", "skip"}


def test_message_interpolates_facts() -> None:
    pack = load_pack("strict", ROOT)
    facts = empty_facts()
    facts["card"]["governance"] = {"risk_level": "high", "approvals": [{"name": "a"}]}
    (outcome,) = [o for o in evaluate_packs([pack], facts) if o.rule.id == "STRICT-APPROVALS"]
    assert outcome.message == "1 approval(s) recorded; risk level 'high' needs more"


def test_unknown_pack_name_hints(cli: Cli, tmp_path: Path) -> None:
    repo = make_repo(tmp_path, COMPLETE, "[strikt]")
    result = cli("check", cwd=repo)
    assert result.exit_code == 2
    assert "unknown policy pack 'strikt'; did you mean 'strict'?" in result.stderr


def test_policy_facts_prints_the_document(cli: Cli, demo_repo: Path) -> None:
    result = cli("policy", "facts", "--model", "fraud-detector", cwd=demo_repo)
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["model"]["name"] == "fraud-detector"
    assert facts["card"]["governance"]["risk_level"] == "limited"
    assert facts["onnx_model"]["valid"] is True
    assert facts["git"]["branch"] == "main"
    assert facts["checks"]["card"]["status"] == "passed"
    assert facts["bench"] == {} or "p50_ms" in facts["bench"]


def _literal(n: int) -> str:
    return "[" + ",".join(str(i) for i in range(1, n + 1)) + "]"


def _pack(expr: str, extra: str = "") -> str:
    return (
        "name: local\nversion: '1'\ndescription: d\nrules:\n"
        f"  - id: LOCAL-RULE\n    description: d\n    severity: low\n    expr: '{expr}'\n"
        "    message: m\n    remediation: r\n" + extra
    )


BUSTERS = {
    "nested literals": f"{_literal(500)}.all(x, {_literal(500)}.all(y, {_literal(500)}"
    ".exists(z, x+y+z < 0)))",
    "map of maps": f"{_literal(300)}.map(x, {_literal(300)}.map(y, {_literal(30)})).size() > 0",
    "facts squared": 'lookup("card.licenses", []).all(x, card.licenses.all(y,'
    " card.licenses.all(z, x == y || y == z)))",
    "concatenated ranges": f"({_literal(900)} + {_literal(900)}).all(x, ({_literal(900)}"
    f" + {_literal(900)}).all(y, {_literal(20)}.all(z, x != z)))",
    "in the message": "false",
}


@pytest.mark.parametrize("name", sorted(BUSTERS))
def test_rules_over_the_cost_budget_are_refused_fast_and_named(name: str) -> None:
    import time

    from mlops_ci.policy.engine import Budget

    extra = ""
    expr = BUSTERS[name]
    if name == "in the message":
        expr = "false"
        big = BUSTERS["nested literals"].replace("'", '"')
        pack = _pack(expr).replace("message: m", f"message: 'x {{{{ {big} }}}}'")
    else:
        pack = _pack(expr, extra)
    facts = empty_facts()
    facts["card"] = {"licenses": [f"l{i}" for i in range(400)]}
    start = time.process_time()
    (outcome,) = evaluate_packs([load_pack_text(pack, "local.yaml")], facts, Budget())
    assert time.process_time() - start < 1.0
    assert outcome.outcome == "error" and outcome.over_budget
    assert "LOCAL-RULE" in outcome.message and "policy.max_cost" in outcome.message


def test_shipped_rules_are_cheap_and_run_in_process() -> None:
    from mlops_ci.policy.celcost import CostModel
    from mlops_ci.policy.engine import IN_PROCESS_COST, rule_cost

    facts = empty_facts()
    facts["card"] = {
        "licenses": ["mit"] * 50,
        "governance": {"owners": [{"name": "a", "contact": "b"}] * 50},
    }
    costs = CostModel(facts)
    for name in shipped_pack_names():
        for rule in load_pack(name, ROOT).rules:
            cost = rule_cost(rule, costs)
            assert cost is not None and cost <= IN_PROCESS_COST, (rule.id, cost)
            exact = [costs.estimate(source) for source in rule.sources()]
            assert all(c is not None and c < 10_000 for c in exact), (rule.id, exact)


@pytest.mark.parametrize(
    ("expr", "low", "high"),
    [
        ("true", 1, 1),
        (f"{_literal(60)}.all(x, {_literal(60)}.all(y, x + y > 0))", 60 * 60, 60 * 60 * 30),
        ('card.licenses.all(l, l in ["mit"])', 400, 400 * 30),
        ('lookup("card.licenses", []).exists(l, l == "x")', 400, 400 * 30),
        (f"{_literal(1000)}.map(x, x).size() > 0", 1000 * 1000 // 2, 1000 * 1000 * 4),
    ],
)
def test_cost_estimate_tracks_iterations(expr: str, low: int, high: int) -> None:
    from mlops_ci.policy.celcost import estimate

    facts = empty_facts()
    facts["card"] = {"licenses": [f"l{i}" for i in range(400)]}
    cost = estimate(expr, facts)
    assert cost is not None and low <= cost <= high, cost


@pytest.mark.parametrize("expr", ["r'a\\' == 'b'", "unknownFunction(1)", "a."])
def test_expressions_the_estimate_cannot_model_have_no_estimate(expr: str) -> None:
    from mlops_ci.policy.celcost import estimate

    assert estimate(expr, empty_facts()) is None


def test_guarded_evaluation_agrees_with_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_ci.policy import engine

    packs = [load_pack(name, ROOT) for name in shipped_pack_names()]
    facts = empty_facts()
    facts["card"] = {"valid": True, "licenses": ["gpl-3.0"], "governance": {"owners": []}}
    direct = [(o.rule.id, o.outcome, o.message) for o in engine.evaluate_packs(packs, facts)]
    monkeypatch.setattr(engine, "IN_PROCESS_COST", -1)  # every rule through the forked guard
    guarded = [(o.rule.id, o.outcome, o.message) for o in engine.evaluate_packs(packs, facts)]
    assert guarded == direct


def test_guard_stops_a_rule_the_estimate_let_through(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from mlops_ci.policy import engine

    monkeypatch.setattr(engine, "IN_PROCESS_COST", -1)
    expr = f"{_literal(400)}.all(x, {_literal(400)}.all(y, {_literal(400)}.all(z, x+y+z > 0)))"
    pack = load_pack_text(_pack(expr), "local.yaml")
    start = time.perf_counter()
    budget = engine.Budget(max_cost=10**12, timeout_s=0.3)
    (outcome,) = engine.evaluate_packs([pack], empty_facts(), budget)
    # Wall time on purpose (the guard is a wall-clock timeout); the bound leaves room for a
    # loaded machine while the expression itself would run for hours.
    assert time.perf_counter() - start < 5.0
    assert outcome.over_budget and "policy.timeout_s (0.3 s)" in outcome.message
    assert "LOCAL-RULE" in outcome.message


def test_unparsable_here_but_valid_cel_runs_under_the_guard() -> None:
    pack = load_pack_text(_pack('r"a\\\\" != "b" && [1, 2].all(x, x > 0)'), "local.yaml")
    (outcome,) = evaluate_packs([pack], empty_facts())
    assert outcome.outcome == "pass", outcome.message


def test_a_pack_with_zero_rules_is_refused() -> None:
    with pytest.raises(InputError, match="rules"):
        load_pack_text("name: n\nversion: '1'\ndescription: d\nrules: []\n", "p.yaml")


def test_policy_check_with_no_rule_applied_is_skipped_not_passed(cli: Cli, tmp_path: Path) -> None:
    pack = _pack("true").replace("    expr:", "    when: 'false'\n    expr:")
    (tmp_path / "p.yaml").write_text(pack)
    make_repo(tmp_path, COMPLETE, policies="[p.yaml]")
    result = cli("check", "--only", "policy", "--offline", cwd=tmp_path)
    assert result.exit_code == 2, result.stdout
    assert "nothing to check" in result.stderr and "no rule applied" in result.stderr


def test_many_rules_under_the_budget_still_stop_in_total() -> None:
    from mlops_ci.policy import engine

    expr = f"{_literal(40)}.all(x, {_literal(40)}.all(y, {_literal(40)}.all(z, x+y+z > 0)))"
    rules = "".join(
        f"  - id: LOCAL-{i}\n    description: d\n    severity: low\n    expr: '{expr}'\n"
        "    message: m\n    remediation: r\n"
        for i in range(30)
    )
    pack = load_pack_text(f"name: l\nversion: '1'\ndescription: d\nrules:\n{rules}", "l.yaml")
    budget = engine.Budget(timeout_s=0.05)  # all rules together: 4 x 0.05 s
    outcomes = engine.evaluate_packs([pack], empty_facts(), budget)
    assert outcomes[0].outcome == "pass"
    stopped = [o for o in outcomes if o.over_budget]
    assert stopped and "ran past 0.2 s in total" in stopped[-1].message
    assert stopped[-1].rule.id == "LOCAL-29"


def test_a_regular_expression_over_a_long_fact_costs_its_length() -> None:
    from mlops_ci.policy.celcost import estimate

    facts = {"card": {"text": "x" * 100_000}}
    assert estimate('card.text.matches("^a+$")', facts) >= 100_000 * 5
    assert estimate('"abc".matches("^a")', facts) < 100


@pytest.mark.parametrize(
    "expr",
    [
        "-" * 100_000 + "1 > 0",  # a segmentation fault in the cel crate's parser, measured
        "1" + " + 1" * 20_000 + " > 0",  # compiles, then overflows the evaluator's stack
        "(" * 3_000 + "true" + ")" * 3_000,
        "a" + ".b" * 3_000,
    ],
)
def test_expressions_deep_enough_to_crash_cel_are_refused_at_load(expr: str) -> None:
    text = json.dumps(
        {
            "name": "l",
            "version": "1",
            "description": "d",
            "rules": [
                {
                    "id": "L-1",
                    "description": "d",
                    "severity": "low",
                    "expr": expr,
                    "message": "m",
                    "remediation": "r",
                }
            ],
        }
    )
    with pytest.raises(InputError, match="rule L-1: .*(characters long|more than 2,000)"):
        load_pack_text(text, "l.yaml")


def test_a_guarded_rule_fails_closed_when_no_process_can_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from mlops_ci.policy import engine

    def no_fork() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(engine, "IN_PROCESS_COST", -1)
    monkeypatch.setattr(os, "fork", no_fork)
    pack = load_pack_text(_pack("true"), "local.yaml")
    (outcome,) = engine.evaluate_packs([pack], empty_facts())
    assert outcome.outcome == "error" and not outcome.over_budget
    assert "cannot start the evaluator" in outcome.message
