"""Optional tier (issue 15, acceptance 4): the HTML report of a real ``check`` opened in
headless Chromium renders the verdict and the charts, draws a non-blank page and makes no
network request. Skipped, saying why, when Chromium is absent (``.ci/install-tools``).

"No network request" is read from Chromium's net log: every URL request a page started (its
initiator is the page's origin, ``null`` for a file) must be a ``file:`` URL. Chromium's own
background requests (initiator ``not an origin``) are not the page's, and the host resolver
maps every name to nothing, so none of them leaves the machine either. A page that does fetch
``https://example.com/x.png`` is the negative control: the same reading must catch it.
"""

from __future__ import annotations

import json
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CliResult
from tests.tools import require

Cli = Callable[..., CliResult]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--window-size=1000,1400",
)


def open_page(chromium: str, page: Path, work: Path) -> tuple[str, list[str]]:
    """Load ``page``: its DOM after loading, and the URLs of the requests the page made; a
    screenshot lands in ``work/shot.png``."""
    netlog = work / "net.json"
    done = subprocess.run(
        [
            chromium,
            *FLAGS,
            f"--user-data-dir={work / 'profile'}",
            f"--log-net-log={netlog}",
            f"--screenshot={work / 'shot.png'}",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, page_requests(json.loads(netlog.read_text(encoding="utf-8")))


def page_requests(netlog: dict) -> list[str]:  # type: ignore[type-arg]
    """The URLs of the requests a page started (not Chromium's own background requests)."""
    kinds = {number: name for name, number in netlog["constants"]["logEventTypes"].items()}
    urls = []
    for event in netlog["events"]:
        params = event.get("params") or {}
        if kinds.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        if params.get("initiator") != "not an origin":
            urls.append(params["url"])
    return urls


def png_colours(path: Path, rows: int = 400) -> int:
    """How many distinct colours the first ``rows`` rows of an 8-bit RGB(A) PNG hold (decoded
    with zlib alone; the top of the page, verdict and checks, tells a blank page quickly)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    step = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * step
    previous, colours = bytearray(stride), set()
    for row in range(min(rows, height)):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up, corner = previous[i], previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                near = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + near) & 0xFF
        if row % 4 == 0:  # a sample of rows is plenty
            colours.update(bytes(line[i : i + 3]) for i in range(0, stride, step))
        previous = line
    return len(colours)


def test_the_html_report_renders_with_no_network_request(
    cli: Cli, demo_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chromium = require("chromium")
    monkeypatch.setenv("MLOPS_CI_BENCH_BUDGET_S", "1")  # the latency chart, not a long bench
    page = tmp_path / "mlops-ci.html"
    run = cli(
        "check", "--only", "bench", "--only", "eval", "--format", f"html={page}", cwd=demo_repo
    )
    assert run.exit_code == 0, run.stderr
    work = tmp_path / "browser"
    work.mkdir()
    dom, requests = open_page(chromium, page, work)
    assert "mlops-ci: PASS" in dom
    assert dom.count("<svg") >= 2  # latency and metrics, baseline vs candidate
    assert "Latency percentiles, baseline vs candidate" in dom
    assert requests == []
    assert png_colours(work / "shot.png") > 20


def test_the_net_log_reading_catches_a_page_that_fetches(tmp_path: Path) -> None:
    chromium = require("chromium")
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><p>fetches</p><img src="https://example.com/x.png">\n')
    work = tmp_path / "browser"
    work.mkdir()
    dom, requests = open_page(chromium, page, work)
    assert "fetches" in dom
    assert requests == ["https://example.com/x.png"]
