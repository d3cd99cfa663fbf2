"""Model cards: Hugging Face metadata, the governance block, sections and parse errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_ci.card.schema import card_schema
from mlops_ci.card.validate import markdown_sections, validate_card
from mlops_ci.errors import InputError
from tests.conftest import CliResult
from tests.test_yamlio import BILLION_LAUGHS

Cli = Callable[..., CliResult]
CARDS = Path(__file__).parent / "data" / "cards"
HF_CARDS = sorted((CARDS / "hf").glob("*.md"))
COMPLETE = (CARDS / "complete.md").read_text()


@pytest.mark.parametrize("card", HF_CARDS, ids=[p.stem for p in HF_CARDS])
def test_hugging_face_cards_are_valid(cli: Cli, card: Path) -> None:
    result = cli("card", "validate", str(card))
    assert result.exit_code == 0, result.stdout + result.stderr
    validated = validate_card(card.read_text(), str(card))
    assert [i.rule_id for i in validated.issues] == ["CARD006"]  # only the "no governance" note
    assert validated.metadata is not None


def test_at_least_five_hugging_face_cards() -> None:
    assert len(HF_CARDS) >= 5


def test_complete_card_is_valid_and_exposes_facts() -> None:
    card = validate_card(COMPLETE, "card.md")
    assert card.issues == ()
    facts = card.facts()
    assert facts["valid"] is True
    assert facts["licenses"] == ["apache-2.0"]
    assert facts["governance"]["risk_level"] == "high"
    assert facts["governance"]["approvals"][0]["date"] == "2026-11-01"
    assert "Ethical considerations" in facts["sections"]


def test_unknown_governance_key_hints(tmp_path: Path) -> None:
    card = validate_card(COMPLETE.replace("  limitations:", "  limitatons:"), "card.md")
    (issue,) = [i for i in card.issues if i.rule_id == "CARD004"]
    assert issue.message == "governance: unknown key 'limitatons'; did you mean 'limitations'?"
    assert (issue.position.line, issue.position.column) == (24, 3)


def test_unknown_hugging_face_keys_are_accepted() -> None:
    card = validate_card("---\nlicense: mit\nwidget: [{text: hi}]\nthumbnail: x.png\n---\n", "c.md")
    assert [i.rule_id for i in card.issues] == ["CARD006"]


def test_bad_values_name_line_and_column() -> None:
    text = COMPLETE.replace("risk_level: high", "risk_level: extreme").replace(
        "date: 2026-11-02", "date: yesterday"
    )
    card = validate_card(text, "card.md")
    by_rule = {(i.rule_id, i.position.line) for i in card.issues}
    assert ("CARD003", 26) in by_rule  # risk_level
    messages = " ".join(i.message for i in card.issues)
    assert (
        "governance.risk_level: input should be 'minimal', 'limited', 'high' or 'unacceptable'"
        in messages
    )
    assert "governance.approvals[1].date: expected a date (YYYY-MM-DD)" in messages


def test_owner_without_contact_is_a_missing_field() -> None:
    text = COMPLETE.replace("      contact: risk-ml@example.com\n", "")
    (issue,) = validate_card(text, "card.md").issues
    assert issue.rule_id == "CARD005"
    assert issue.message == "governance.owners[0]: missing required key 'contact'"


def test_required_sections_follow_the_risk_level() -> None:
    text = COMPLETE.replace("## Ethical considerations", "## Ethics")
    (issue,) = validate_card(text, "card.md").issues
    assert issue.rule_id == "CARD007"
    assert "'## Ethical considerations'" in issue.message
    custom = validate_card(text, "card.md", {"high": ["Ethics"]})
    assert custom.issues == ()


def test_unacceptable_risk_is_critical() -> None:
    card = validate_card(COMPLETE.replace("risk_level: high", "risk_level: unacceptable"), "c.md")
    assert [i.rule_id for i in card.issues] == ["CARD008"]


def test_sections_ignore_code_fences() -> None:
    body = "# Title\n```\n# not a heading\n```\n## Limitations ##\n"
    assert markdown_sections(body) == ("Title", "Limitations")


def test_unclosed_front_matter_exits_2(cli: Cli, tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    card.write_text("---\nlicense: mit\n# Title\n")
    result = cli("card", "validate", str(card))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"error: {card}:1:1: the YAML front matter opened on line 1 is never closed;"
        " add a line with '---' after it"
    )


def test_validate_exit_1_with_findings(cli: Cli, tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    card.write_text(COMPLETE.replace("  limitations:", "  limitatons:"))
    result = cli("card", "validate", str(card))
    assert result.exit_code == 1
    assert f"{card}:24:3: CARD004 [high]" in result.stdout


def test_alias_bomb_in_front_matter_is_refused_fast(cli: Cli, tmp_path: Path) -> None:
    card = tmp_path / "bomb.md"
    card.write_text(f"---\n{BILLION_LAUGHS}\n---\n")
    start = time.process_time()
    result = cli("card", "validate", str(card))
    assert time.process_time() - start < 1.0
    assert result.exit_code == 2
    assert "alias bomb" in result.stderr


def test_huge_front_matter_is_refused_fast(cli: Cli, tmp_path: Path) -> None:
    card = tmp_path / "huge.md"
    card.write_text("---\n" + "k: " + "x" * (20 * 1024 * 1024) + "\n---\n")
    start = time.process_time()
    result = cli("card", "validate", str(card))
    assert time.process_time() - start < 1.0
    assert result.exit_code == 2
    assert "over the 2 MiB limit" in result.stderr


def test_card_init_writes_a_valid_template(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "MODEL_CARD.md"
    assert cli("card", "init", str(target)).exit_code == 0
    assert validate_card(target.read_text(), str(target)).issues == ()
    result = cli("card", "init", str(target))
    assert result.exit_code == 2 and "--force" in result.stderr


def test_schema_card(cli: Cli) -> None:
    result = cli("schema", "card")
    assert result.exit_code == 0
    assert "governance" in card_schema()["properties"]
    assert "model-index" in card_schema()["properties"]


def test_non_mapping_front_matter_is_an_input_error() -> None:
    with pytest.raises(InputError, match="must be a mapping"):
        validate_card("---\n- a\n- b\n---\n", "c.md")
