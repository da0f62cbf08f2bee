"""The HTML report of a faulty run, rendered by headless Chromium: the path diagram's
SVG and the findings list are drawn, every finding links to its event, and the page
loads nothing from anywhere (one self-contained file).

Needs Debian's ``chromium`` and Graphviz's ``dot`` (the SVG is rendered server-side):
without them the test skips with a reason, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import tool_missing

from runflow.conform import Report, conform
from runflow.conform.report_html import report_html
from runflow.conform.rules import summary_for
from runflow.protocols.registry import REGISTRY
from runflow.testing import Server

WIDTH, HEIGHT = 1280, 3000


def _browser() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = None if found else "Chromium is not installed (Debian: apt-get install chromium)"
    if missing is None and shutil.which("dot") is None:
        missing = "Graphviz's dot is not installed (Debian: apt-get install graphviz)"
    if missing is not None:
        tool_missing(missing)
    assert found is not None
    return found


def _chromium(browser: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", f"--window-size={WIDTH},{HEIGHT}", *args],
        capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    with Server() as server:
        report = conform(server.base_url, scenarios=["text", "parallel_functions"],
                         headers={"X-Runflow-Fault": "drop=6"})
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(report_html(report), encoding="utf-8")
    return path, report


def test_the_page_is_self_contained(page: tuple[Path, Report]) -> None:
    text = page[0].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)
    assert "<link" not in text and "@import" not in text


@pytest.mark.needs_tools
def test_chromium_draws_the_diagram_and_the_findings(page: tuple[Path, Report],
                                                     tmp_path: Path) -> None:
    browser = _browser()
    path, report = page
    shot = tmp_path / "report.png"
    done = _chromium(browser, f"--screenshot={shot}", path.as_uri())
    assert shot.is_file(), done.stderr[-2000:]
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (WIDTH, HEIGHT)

    dom = _chromium(browser, "--dump-dom", path.as_uri()).stdout
    found = re.search(r'data-layout="([^"]*)"', dom)
    assert found, "the page must carry its layout"
    layout = json.loads(html.unescape(found.group(1)))
    groups = report.groups
    assert groups, "the faulty run must have findings"
    assert layout["findings_items"] == len(groups)
    for name in ("diagram", "findings"):
        box = layout[name]
        assert box is not None and box["w"] > 100 and box["h"] > 20, (name, box)
        assert box["y"] + box["h"] / 2 < HEIGHT, (name, box)  # inside the screenshot
    assert re.search(r'<figure class="diagram"><svg', dom)
    anchors = set(re.findall(r'<tr id="(ev-[^"]+)"', dom))
    links = re.findall(r'<ol class="findings" id="findings-list">.*?</ol>', dom, re.S)[0]
    targets = re.findall(r'href="#(ev-[^"]+)"', links)
    assert targets and set(targets) <= anchors


def test_a_grammar_rule_is_explained_in_the_reports_protocol_only(
        page: tuple[Path, Report]) -> None:
    """The rules table and a finding's title say what a rule means in the graded
    protocol's words (a grammar code's meaning, a shared payload row's invariant), not
    in every registered protocol's."""
    text, report = page[0].read_text(encoding="utf-8"), page[1]
    own = report.protocol.capitalize()
    other = next(name.capitalize() for name in REGISTRY if name != report.protocol)
    graded = [rule for rule in report.rule_status() if rule.startswith("grammar.")]
    assert graded
    for rule in graded:
        said = summary_for(rule, report.protocol)
        assert html.escape(said) in text, rule
        assert f"{other}: " not in said
    assert f"{own}: " in text and f"{other}: " not in text
