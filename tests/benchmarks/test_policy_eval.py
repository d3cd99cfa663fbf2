"""Evaluating 50 rules x 20 models must take under 0.5 s (issue 3).

Run: ``.venv/bin/python -m pytest tests/benchmarks/test_policy_eval.py --benchmarks -s``.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from mlops_ci.policy.engine import evaluate_packs
from mlops_ci.policy.facts import empty_facts
from mlops_ci.policy.pack import PolicyPack, load_pack

ROOT = Path(__file__).resolve().parents[2]


def fifty_rules() -> list[PolicyPack]:
    shipped = [load_pack(n, ROOT) for n in ("baseline", "strict", "production")]
    rules = [r for p in shipped for r in p.rules]  # 22 real rules
    packs = list(shipped)
    copies = 0
    while sum(len(p.rules) for p in packs) < 50:
        packs.append(shipped[copies % 3])
        copies += 1
    while sum(len(p.rules) for p in packs) > 50:
        last = packs.pop()
        keep = 50 - sum(len(p.rules) for p in packs)
        packs.append(PolicyPack(last.name, last.version, "", "", last.rules[:keep]))
    assert sum(len(p.rules) for p in packs) == 50 and len(rules) == 22
    return packs


def model_facts(index: int) -> dict:  # type: ignore[type-arg]
    facts = empty_facts()
    facts["model"] = {"name": f"model-{index}"}
    facts["card"] = {
        "valid": True,
        "licenses": ["apache-2.0"],
        "governance": {
            "version": "1.0",
            "owners": [{"name": "t", "contact": "t@example.com"}],
            "risk_level": "high" if index % 2 else "limited",
            "evaluation_metrics": [
                {"name": "auc", "value": 0.9, "threshold": 0.8, "higher_is_better": True}
            ],
            "approvals": [{"name": "a"}, {"name": "b"}],
            "latency_budget": {"p90_ms": 20},
        },
    }
    facts["bench"] = {"p50_ms": 1.5, "p90_ms": 2.5 + index}
    facts["signature"] = {"signed": True, "verified": index % 3 != 0, "digest": "sha256:aa"}
    facts["checks"] = {"deps": {"findings": {"critical": 0, "high": index % 4 == 0}}}
    facts["target"] = {"environment": "prod", "previous": "staging", "previous_digest": "sha256:aa"}
    return facts


def test_fifty_rules_by_twenty_models(benchmark) -> None:  # type: ignore[no-untyped-def]
    packs = fifty_rules()
    documents = [model_facts(i) for i in range(20)]

    def run() -> int:
        return sum(len(evaluate_packs(packs, facts)) for facts in documents)

    assert run() == 1000
    samples = []
    for _ in range(20):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    median = statistics.median(samples)
    print(
        f"\n50 rules x 20 models: median {median * 1000:.1f} ms over 20 runs (max {max(samples) * 1000:.1f} ms)"
    )
    benchmark(run)
    assert median < 0.5
