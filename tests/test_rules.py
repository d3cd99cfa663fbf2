"""The rule catalog is documented and docs/rules.md is current."""

from __future__ import annotations

import os
import re
from pathlib import Path

from mlops_ci.rules import CATEGORIES, RULES, all_rules, category, describe, rules_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def test_docs_rules_md_is_current() -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        DOC.write_text(rules_markdown())
    assert DOC.read_text() == rules_markdown(), "run: mlops-ci rules > docs/rules.md"


def test_every_rule_is_documented() -> None:
    for rule in all_rules():
        assert re.fullmatch(r"[A-Z][A-Z0-9-]*\*?", rule.id), rule.id
        assert rule.description.endswith(".") and rule.remediation.endswith(".")
    assert describe("ONNX001") is RULES["ONNX001"]
    assert describe("NOPE-1") is None


def test_every_rule_has_a_code_quality_category() -> None:
    for rule in all_rules():
        assert category(rule.id) in CATEGORIES, rule.id
        assert rule.category is None or rule.category in CATEGORIES, rule.id
    assert category("ONNX001") == "Bug Risk" and category("CARD003") == "Clarity"
    assert category("DEP-GHSA-xxxx") == "Security"  # a family member
    assert category("PACK-RULE", "policy") == "Compatibility"  # a policy pack rule
    assert category("NOPE-1") == "Bug Risk"  # unknown, from no known check
