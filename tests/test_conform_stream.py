"""``runflow conform`` grades as the events arrive and keeps a bounded window of them.

The pin: what conform reports against ``runflow serve``, reduced to what must not
change when the grading changes how it holds the events, is compared with
``tests/data/conform_findings.json`` (made before conform streamed).

Per run (every scenario of both protocols without a fault, and every fault and break
switch of :mod:`runflow.conform.table` on its scenario): each finding as (scenario, flow,
rule, index, severity, the index of its group's root, a digest of its message), each
scenario's status and reason, each flow's event count, ending and streams, and digests
of the terminal report and of the HTML page. What differs from one run of the
emulator to the next is normalized first: ids (``resp_...``), timestamps, durations.

``python tests/test_conform_stream.py --write`` regenerates the file (only when a change to
the findings is intended: the file is what proves the grading unchanged).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sys
from pathlib import Path
from typing import Any

from runflow.conform import conform
from runflow.conform.report_html import report_html
from runflow.conform.report_text import print_report
from runflow.conform.runner import Report
from runflow.conform.table import switches
from runflow.testing import Server

PINNED = Path(__file__).parent / "data" / "conform_findings.json"

_ID = re.compile(r"\b(?:[a-z]+[_-])+[A-Za-z0-9]{12,}\b")
_STAMP = re.compile(r"\b1[6-9]\d{8}\b")
_SECONDS = re.compile(r"\d+\.\d+ s\b|\"seconds\": [0-9.]+|<td>[0-9.]+</td>")
_SVG = re.compile(r"<svg.*?</svg>", re.S)
_PORT = re.compile(r"127\.0\.0\.1:\d+")


class _Ids:
    """Each id as ``id<n>`` in the order first seen in one run."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            found = match.group(0)
            return self.seen.setdefault(found, f"id{len(self.seen)}")

        return _PORT.sub("<host>", _SECONDS.sub("<s>", _STAMP.sub("<t>", _ID.sub(one, text))))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def summary(report: Report) -> dict[str, Any]:
    """What must stay the same of one report (see the module docstring)."""
    ids = _Ids()
    findings = []
    scenarios = []
    for s in report.scenarios:
        scenarios.append([s.name, s.status, ids(s.reason), [ids(n) for n in s.notes],
                          [[f.label, f.probe.flow.event_count, f.probe.flow.ending,
                            f.probe.tap.stream + 1] for f in s.flows]])
        for g in s.groups:
            for f in (g.root, *g.consequences):
                findings.append([f.scenario, f.flow, f.rule, f.index, f.severity,
                                 g.root.index, ids(f.message)])
    text = io.StringIO()
    print_report(report, text, width=200)
    page = _SVG.sub("<svg/>", report_html(report))
    return {"findings": findings, "scenarios": scenarios,
            "text": _digest(ids(text.getvalue())), "html": _digest(ids(page))}


def runs(base_url: str) -> dict[str, dict[str, Any]]:
    """Run name -> :func:`summary`: each protocol's whole catalogue, then each switch."""
    out = {}
    for protocol in ("assistants", "responses"):
        out[f"{protocol} clean"] = summary(conform(base_url, protocol=protocol))
    for switch in switches():
        report = conform(base_url, protocol=switch.protocol, scenarios=[switch.scenario],
                         headers=switch.header)
        out[f"{switch.protocol} {switch.scenario} {switch.kind} {switch.name}"] = summary(report)
    return out


def test_the_findings_and_reports_are_the_pinned_ones(server: Server) -> None:
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    found = json.loads(json.dumps(runs(server.base_url)))
    assert found.keys() == pinned.keys()
    for name, summary_ in pinned.items():
        assert found[name] == summary_, name


if __name__ == "__main__":
    with Server() as server:
        found = runs(server.base_url)
    text = json.dumps(found, indent=1, sort_keys=True) + "\n"
    if "--write" in sys.argv:
        PINNED.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
