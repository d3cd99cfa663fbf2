"""The HTML report: self-contained and inert (no script, nothing that fetches, a CSP), every
piece of report text escaped, the Markdown report's content with SVG charts, deterministic."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from mlops_ci.findings import Report
from mlops_ci.formats import render
from mlops_ci.outputs import deliver, parse_format_specs
from tests.chart_reports import ATTACK, charted_report
from tests.reports import sample_report

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
# Every element the report may hold: none of them runs code or loads anything.
ALLOWED = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "footer", "h1", "h2",
    "h3", "h4", "p", "strong", "code", "pre", "table", "thead", "tbody", "tr", "th", "td",
    "details", "summary", "span", "svg", "rect", "text", "line",
}  # fmt: skip


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text of <style> and <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        if self.tags:
            self.data.append((self.tags[-1][0], data))


def parse(document: str) -> Elements:
    parser = Elements()
    parser.feed(document)
    parser.close()
    return parser


def assert_inert(document: str) -> Elements:
    found = parse(document)
    tags = [tag for tag, _ in found.tags]
    assert set(tags) <= ALLOWED, set(tags) - ALLOWED
    assert tags.count("style") == 1 and tags.count("html") == 1
    for tag, attrs in found.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        assert not {"src", "href", "xlink:href", "action", "srcset"} & set(attrs), (tag, attrs)
    metas = [attrs for tag, attrs in found.tags if tag == "meta"]
    assert metas[0] == {"charset": "utf-8"}
    assert metas[1] == {"http-equiv": "Content-Security-Policy", "content": CSP}
    style = "".join(text for tag, text in found.data if tag == "style")
    assert "url(" not in style and "@import" not in style
    return found


@pytest.mark.parametrize(
    "report",
    [sample_report(), charted_report(), charted_report(baseline=False)],
    ids=["sample", "charted", "no-baseline"],
)
def test_html_is_self_contained_and_deterministic(report: Report) -> None:
    document = render("html", report)
    assert document.startswith("<!DOCTYPE html>\n")
    assert_inert(document)
    assert render("html", report) == document


def test_hostile_names_and_messages_stay_text() -> None:
    report = charted_report(model=ATTACK, message=ATTACK)
    document = render("html", report)
    found = assert_inert(document)
    assert "<script" not in document and "<img" not in document
    assert document.count("</style>") == 1
    texts = "".join(text for _, text in found.data)
    assert "<script>alert(1)</script>" in texts  # shown as text, in the page
    assert '"><img src=x onerror=alert(2)>' in texts


def test_html_carries_the_markdown_reports_content() -> None:
    document = render("html", charted_report())
    found = parse(document)
    texts = [text for _, text in found.data]
    assert "❌ mlops-ci: FAIL" in texts
    assert "<title>mlops-ci: FAIL</title>" in document
    # blocking findings first, with rule id and file:line
    blocking = document.index("Blocking (at high and above)")
    assert document.index("BENCH-REGRESSION") > blocking
    assert document.index("Not blocking") > document.index("<code>models/a.onnx:3:1</code>")
    assert document.index("CARD004") > document.index("Not blocking")
    for heading in ("Checks", "Key figures", "Latency", "Evaluation", "Slices that moved most"):
        assert f">{heading}<" in document, heading
    assert [tag for tag, _ in found.tags].count("svg") == 4  # latency, 2 metric scales, slices
    without = render("html", charted_report(baseline=False))
    assert "<svg" not in without and "No baseline to compare with" in without


def test_html_shows_errors_and_skips() -> None:
    document = render("html", sample_report())
    assert "<summary>💥 errored: boom [fraud]</summary><pre>RuntimeError: kaboom</pre>" in document
    assert "requests 2.19.0 &lt;fix&gt; 2.20.0" in document
    assert "✔ <code>waiver-7</code>" in document


def test_format_html_writes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    specs = parse_format_specs(["html=reports/mlops-ci.html", "html"])
    report = charted_report()
    (stdout,) = deliver(report, specs)
    assert (tmp_path / "reports" / "mlops-ci.html").read_text(encoding="utf-8") == stdout
    assert stdout == render("html", report)
