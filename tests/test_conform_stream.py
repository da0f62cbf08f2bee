"""``runflow conform`` grades as the events arrive and keeps a bounded window of them.

The pin: what conform reports against ``runflow serve``, reduced to what must not
change when the grading changes how it holds the events, is compared with
``tests/data/conform_findings.json`` (made before conform streamed).

Per run (every scenario of both protocols without a fault, and every fault and break
switch of :mod:`runflow.conform.table` on its scenario): each finding as (scenario, flow,
rule, index, severity, the index of its group's root, a digest of its message), each
scenario's status and reason, each flow's event count, ending and streams, and digests
of the terminal report and of the HTML page. What differs from one run of the
emulator to the next is normalized first: ids (``resp_...``), timestamps, durations;
and what the size of the rule catalogue decides (the rule counts of the summary, the
table of rules) is left out.

``python tests/test_conform_stream.py --write`` regenerates the file (only when a change to
the findings is intended: the file is what proves the grading unchanged).
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import sys
import threading
import tracemalloc
from pathlib import Path
from typing import Any

from runflow.cli.conform import EPILOG
from runflow.conform import conform
from runflow.conform.events import HEAD, NAMED, TAIL
from runflow.conform.report_html import report_html
from runflow.conform.report_text import print_report
from runflow.conform.runner import Report
from runflow.conform.session import Bounds
from runflow.conform.table import switches
from runflow.engine.limits import Limits
from runflow.testing import Server

PINNED = Path(__file__).parent / "data" / "conform_findings.json"

_ID = re.compile(r"\b(?:[a-z]+[_-])+[A-Za-z0-9]{12,}\b")
_STAMP = re.compile(r"\b1[6-9]\d{8}\b")
_SECONDS = re.compile(r"\d+\.\d+ s\b|\"seconds\": [0-9.]+|<td>[0-9.]+</td>")
_SVG = re.compile(r"<figure class=\"diagram\">.*?</figure>"
                  r"|<p class=\"muted\">Graphviz is not installed[^<]*</p>", re.S)
"""The drawn path diagram, or the line said in its place without Graphviz (the bare
CI pass has none): the diagram is Graphviz's, not conform's."""
_PORT = re.compile(r"127\.0\.0\.1:\d+")
_RULE_COUNTS = re.compile(r"rules: \d+ pass, \d+ fail, \d+ warn, \d+ n/a")
_RULES_TABLE = re.compile(r'<section id="rules">.*?</section>', re.S)
"""What the size of the rule catalogue decides (a rule added elsewhere, that none of
these runs breaks, changes it): left out of the pin."""


class _Ids:
    """Each id as ``id<n>`` in the order first seen in one run."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            found = match.group(0)
            return self.seen.setdefault(found, f"id{len(self.seen)}")

        text = _RULE_COUNTS.sub("rules: <counts>", _RULES_TABLE.sub("<rules/>", text))
        return _PORT.sub("<host>", _SECONDS.sub("<s>", _STAMP.sub("<t>", _ID.sub(one, text))))


_EXCHANGES = re.compile(r"(<summary>HTTP exchanges</summary><table><tr><th>.*?</tr>)(.*?)"
                        r"(</table>)", re.S)


def _exchanges_sorted(page: str) -> str:
    """The HTTP exchanges table lists each request when its answer ended, so a streamed
    create and a cancel sent while it streamed come in either order, by timing alone
    (seen under CI's load): their rows are compared as a set, with the ids in them
    masked (numbering them in the table's order would carry the timing on)."""
    def rows(match: re.Match[str]) -> str:
        found = re.findall(r"<tr>.*?</tr>", _ID.sub("<id>", match.group(2)), re.S)
        return match.group(1) + "".join(sorted(found)) + match.group(3)

    return _EXCHANGES.sub(rows, page)


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
    page = _exchanges_sorted(_SVG.sub("<svg/>", report_html(report)))
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


# -- memory: a long stream is graded in what the flow retains ---------------------- #

MIB = 1 << 20
LONG = 200_000
SHORT = 20_000


def _template(server: Server) -> list[dict[str, Any]]:
    """The events of the emulator's text response, parsed."""
    import httpx2

    answer = httpx2.post(f"{server.base_url}/responses", headers={"Authorization": "Bearer x"},
                         json={"model": "m", "input": "hi", "stream": True,
                               "metadata": {"scenario": "text"}}, timeout=30)
    return [json.loads(line[6:]) for line in answer.text.splitlines()
            if line.startswith("data: ")]


BATCH = 500
"""Deltas per write of the long stream."""


def _long(template: list[dict[str, Any]], deltas: int) -> tuple[list[bytes], dict[str, Any]]:
    """The template with ``deltas`` one-character deltas in place of its own, all with
    the sequence number of the first: a hostile stream, each delta a replay to the flow
    and an order finding (``order.sequence.no_repeats``). As the writes to make (one
    batch of :data:`BATCH` identical deltas, the same bytes each time, so the server
    holds no more of the stream than the client should), and the final response."""
    kinds = [e["type"] for e in template]
    first = kinds.index("response.output_text.delta")
    last = len(kinds) - 1 - kinds[::-1].index("response.output_text.delta")
    tail = json.loads(json.dumps(template[last + 1:]))
    for seq, event in enumerate(tail, start=first + 1):
        event["sequence_number"] = seq
        _set_text(event, "x")

    def block(event: dict[str, Any]) -> bytes:
        return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

    delta = {k: v for k, v in template[first].items() if k != "obfuscation"}
    delta["delta"] = "x"
    batch = block(delta) * BATCH
    writes = [b"".join(block(e) for e in template[:first]), *[batch] * (deltas // BATCH),
              b"".join(block(e) for e in tail)]
    final = next(e["response"] for e in tail if e["type"] == "response.completed")
    return writes, final


class _Long(http.server.BaseHTTPRequestHandler):
    """Streams ``server.writes`` to a create, answers ``server.final`` to a retrieve."""

    server: _LongServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for chunk in self.server.writes:
            self.wfile.write(chunk)

    def do_GET(self) -> None:
        body = json.dumps(self.server.final).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _LongServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, writes: list[bytes], final: dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), _Long)
        self.writes, self.final = writes, final


def _conform_long(template: list[dict[str, Any]], deltas: int) -> tuple[Report, int]:
    """conform's text scenario against a server streaming ``deltas`` deltas, and the
    peak of the memory traced while it ran."""
    writes, final = _long(template, deltas)
    server = _LongServer(writes, final)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        tracemalloc.start()
        try:
            # the stream passes the default cap (Bounds.stream_bytes, 16 MiB): a
            # longer one is asked for, as --max-stream-bytes would
            report = conform(f"http://127.0.0.1:{server.server_address[1]}/v1",
                             protocol="responses", scenarios=["text"],
                             bounds=Bounds(timeout=600, scenario_seconds=600,
                                           stream_bytes=64 * MIB))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    return report, peak


def _set_text(event: dict[str, Any], text: str) -> None:
    """Where an event of the end of a text response carries the whole text."""
    if "text" in event:
        event["text"] = text
    for holder in (event.get("part"), *(event.get("item", {}).get("content") or []),
                   *(c for o in (event.get("response") or {}).get("output") or []
                     for c in o.get("content") or [])):
        if isinstance(holder, dict) and "text" in holder:
            holder["text"] = text


def test_a_long_hostile_stream_is_graded_in_bounded_memory(server: Server) -> None:
    """200,000 deltas (38 MB of SSE, each delta an order finding) against 20,000: the
    peak traced while conform grades them stays under a fixed bound, no higher for
    the stream ten times as long. Before conform streamed, it kept every event (about
    a kilobyte each, parsed) and every finding."""
    template = _template(server)
    _conform_long(template, BATCH)  # what loads on first use is not the stream's
    short = _conform_long(template, SHORT)
    long, peak = _conform_long(template, LONG)
    assert peak < 4 * MIB
    assert peak < short[1] + MIB // 2, (peak, short[1])
    (flow,) = long.scenarios[0].flows
    assert (flow.probe.flow.event_count, flow.probe.flow.ending) == (LONG + 8, "done")
    (group,) = flow.groups
    assert (group.root.rule, group.root.index, len(group.consequences)) == (
        "order.sequence.no_repeats", 5, 99)
    assert long.scenarios[0].notes == [
        f"response: {LONG - 101} finding(s) past 100 of one rule were counted, not kept"]
    kept = flow.probe.tap.events
    # the first 100, the last 100, and the kept findings' events past the first 100
    # (the 100 findings kept name the deltas #5-#104)
    assert [e.index for e in kept] == [*range(105), *range(LONG - 92, LONG + 8)]
    page = report_html(long)
    assert f"… {LONG - 92 - 105:,} event(s) not kept" in page
    rows = set(re.findall(r'<tr id="(ev-[^"]+)"', page))
    assert re.findall(r'href="#(ev-[^"]+)"', page) == ["ev-text-response-5"]  # the root
    assert "ev-text-response-5" in rows
    assert len(re.findall(r'<tr id="ev-[^"]+" class="hit', page)) == 100  # every finding


def test_the_help_says_what_is_kept() -> None:
    text = " ".join(EPILOG.split())
    limit = Limits().max_repeated_violations
    assert (f"keeps the first {HEAD}, the last {TAIL} and up to {NAMED} that a finding "
            "names") in text
    assert f"at most {limit} findings per flow" in text
