"""``--html FILE``: one self-contained page per grade.

The page needs nothing beside itself: styles inline, each flow's path through the
state diagram as an SVG rendered server-side by Graphviz (the Mermaid source beside
it, for any Mermaid viewer), the timeline of the events conform kept of each flow
(every event of a short stream; of a long one the first and last ones and every
event a finding names, a row counting the others: :class:`~.events.Window`) with
the state changes each made, and every finding linked to its event (and each event
to its findings).
Everything a server sent is escaped: its words are text, never markup.

A small inline script measures where the diagram and the findings list were laid
out and writes it to ``<body data-layout>``, so a headless browser's DOM dump
shows that both were drawn (``tests/test_conform_html.py``).
"""

from __future__ import annotations

import html
import re
from typing import Any

from runflow.conform.diagram import path_mermaid, path_svg
from runflow.conform.events import TappedEvent
from runflow.conform.findings import Finding
from runflow.conform.report_text import consequence_lines, summary_line
from runflow.conform.rules import summary_for
from runflow.conform.runner import FlowResult, Report, ScenarioResult
from runflow.engine.state import StateChange

__all__ = ["report_html"]

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;
 color:#1d2330;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:16px 24px 48px}
h1{margin:8px 0 4px;font-size:24px}h2{margin:28px 0 8px;font-size:19px}
h3{margin:18px 0 6px;font-size:15px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600}
.v0{background:#dff3e4}.v1{background:#fbe0e0}.v2{background:#eee}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0}
th,td{border:1px solid #dde1e6;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef1f4}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff}
.passed{background:#2e7d32}.warnings{background:#b26a00}.failed{background:#c62828}
.not_applicable{background:#78828c}.error{background:#6a1b9a}
ol.findings>li{background:#fff;border-left:4px solid #c62828;margin:6px 0;padding:6px 10px}
ol.findings>li.warning{border-left-color:#b26a00}
.rule{font-family:ui-monospace,Menlo,monospace;font-weight:600}
.consequences{color:#4a5260;margin:4px 0 0;font-size:13px}
figure.diagram{background:#fff;border:1px solid #dde1e6;margin:6px 0;padding:8px;overflow:auto}
figure.diagram svg{max-width:100%;height:auto}
tr.hit td{background:#fdecec}tr.hit.warning td{background:#fff4e0}
tr:target td{outline:2px solid #1565c0}
code,pre{font-family:ui-monospace,Menlo,monospace;font-size:12px}
pre{white-space:pre-wrap;background:#fff;border:1px solid #dde1e6;padding:8px}
.muted{color:#6b7480}
"""

_LAYOUT = """
(function(){function box(el){if(!el)return null;var r=el.getBoundingClientRect();
return {x:Math.round(r.left),y:Math.round(r.top+window.scrollY),
w:Math.round(r.width),h:Math.round(r.height)};}
document.body.setAttribute('data-layout',JSON.stringify({
diagram:box(document.querySelector('figure.diagram svg')),
findings:box(document.getElementById('findings-list')),
findings_items:document.querySelectorAll('#findings-list > li').length}));})();
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _slug(*parts: str) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts)


def _event_anchor(f: Finding) -> str:
    return "ev-" + _slug(f.scenario, f.flow, str(f.index))


def _finding_item(f: Finding, number: int, consequences: tuple[Finding, ...],
                  protocol: str) -> str:
    where = (f'<a href="#{_event_anchor(f)}">{_e(f.scenario)}/{_e(f.flow)} #{f.index}</a>'
             if f.index is not None else f"{_e(f.scenario)}/{_e(f.flow)}")
    entity = f" <code>{_e(f.entity)}</code>" if f.entity else ""
    summary = summary_for(f.rule, protocol)
    out = [f'<li id="f-{number}" class="{_e(f.severity)}">{where} · {_e(f.severity)} '
           f'<span class="rule" title="{_e(summary)}">{_e(f.rule)}</span>{entity}: '
           f"{_e(f.message)}"]
    if consequences:
        out.append(f'<div class="consequences">{len(consequences)} consequence(s):<ul>')
        out += [f"<li>{_e(line)}</li>" for line in consequence_lines(consequences)]
        out.append("</ul></div>")
    out.append("</li>")
    return "".join(out)


def _changes(flow: FlowResult) -> dict[int, list[StateChange]]:
    """The state changes of the flow by the index of the event that made them."""
    out: dict[int, list[StateChange]] = {}
    for change in flow.probe.flow.history:
        out.setdefault(change.index, []).append(change)
    return out


def _what(event: TappedEvent, changes: dict[int, list[StateChange]]) -> str:
    said = [f"{c.entity} {c.id[:32]}: {c.source} → {c.dest}"
            for c in changes.get(event.index, ())]
    if not said and event.data is None and event.raw:
        said = ["(data is not JSON)"]
    return "; ".join(said)


def _gap(count: int) -> str:
    """The row standing for events the report did not keep (a long stream's middle)."""
    return (f'<tr class="gap"><td></td><td></td><td class="muted" colspan="3">… {count:,} '
            "event(s) not kept (conform keeps the first and last ones of a stream and "
            "those a finding names)</td></tr>")


def _timeline(s: ScenarioResult, flow: FlowResult, numbers: dict[int, int]) -> str:
    hits: dict[int, list[tuple[int, Finding]]] = {}
    for g in flow.groups:
        for f in g.members:
            if f.index is not None:
                hits.setdefault(f.index, []).append((numbers.get(id(f), 0), f))
    rows = ['<table class="timeline"><tr><th>#</th><th>stream</th><th>event</th>'
            "<th>state changes</th><th>findings</th></tr>"]
    events = flow.probe.tap.events
    changes = _changes(flow)
    indices = {e.index for e in events}
    expected = events[0].index if events else 0
    for event in events:
        if event.index > expected:
            rows.append(_gap(event.index - expected))
        expected = event.index + 1
        found = hits.get(event.index, [])
        severity = "error" if any(f.severity == "error" for _, f in found) else "warning"
        cls = f' class="hit {severity}"' if found else ""
        links = " ".join(f'<a href="#f-{n}">{_e(f.rule)}</a>' for n, f in found)
        anchor = "ev-" + _slug(s.name, flow.label, str(event.index))
        rows.append(f'<tr id="{anchor}"{cls}><td>{event.index}</td><td>{event.stream}</td>'
                    f"<td><code>{_e(event.name or '(no name)')}</code></td>"
                    f"<td>{_e(_what(event, changes))}</td><td>{links}</td></tr>")
    count = flow.probe.flow.event_count
    if events and expected < count:
        rows.append(_gap(count - expected))
    for index, found in sorted(hits.items()):  # past the last event (truncated)
        if index not in indices:
            anchor = "ev-" + _slug(s.name, flow.label, str(index))
            links = " ".join(f'<a href="#f-{n}">{_e(f.rule)}</a>' for n, f in found)
            what = "(end of input)" if index >= count else "(not kept)"
            rows.append(f'<tr id="{anchor}" class="hit error"><td>{index}</td><td></td>'
                        f'<td class="muted">{what}</td><td></td><td>{links}</td></tr>')
    rows.append("</table>")
    return "".join(rows)


def _flow_section(s: ScenarioResult, flow: FlowResult, numbers: dict[int, int]) -> str:
    protocol = flow.probe.flow.protocol
    history = list(flow.probe.flow.history)
    ending = flow.probe.flow.ending
    parts = [f"<h3>{_e(flow.label)}: {_e(flow.probe.flow.root_kind)} "
             f"{_e(flow.probe.flow.root_state)}, {flow.probe.flow.event_count} events, "
             f"ended {_e(ending)}</h3>"]
    if history:
        svg = path_svg(history, protocol)
        if svg is not None:
            parts.append(f'<figure class="diagram">{svg}'
                         "<figcaption class=\"muted\">the path through the state diagram "
                         "(#i: the event that first took an edge)</figcaption></figure>")
        else:
            parts.append('<p class="muted">Graphviz is not installed: the diagram is '
                         "shown as Mermaid text only.</p>")
        parts.append("<details><summary>Mermaid source of the path</summary>"
                     f'<pre class="mermaid-source">{_e(path_mermaid(history, protocol))}</pre>'
                     "</details>")
    if flow.probe.tap.events:
        parts.append(_timeline(s, flow, numbers))
    return "".join(parts)


def _scenario_section(s: ScenarioResult, numbers: dict[int, int]) -> str:
    parts = [f'<section class="scenario" id="scenario-{_slug(s.name)}">'
             f'<h2>{_e(s.name)} <span class="badge {_e(s.status)}">{_e(s.status)}</span></h2>'
             f'<p>{_e(s.description)}</p>']
    if s.reason:
        parts.append(f"<p><strong>{_e(s.reason)}</strong></p>")
    if s.notes:
        parts.append(f'<p class="muted">{_e("; ".join(s.notes))}</p>')
    for flow in s.flows:
        parts.append(_flow_section(s, flow, numbers))
    if s.exchanges:
        parts.append("<details><summary>HTTP exchanges</summary><table><tr><th>request</th>"
                     "<th>method</th><th>path</th><th>status</th><th>Content-Type</th>"
                     "<th>events</th></tr>")
        for x in s.exchanges:
            parts.append(f"<tr><td>{_e(x.label)}</td><td>{_e(x.method)}</td>"
                         f"<td><code>{_e(x.path)}</code></td><td>{_e(x.status)}</td>"
                         f"<td>{_e(x.content_type)}</td><td>{x.events}</td></tr>")
        parts.append("</table></details>")
    parts.append("</section>")
    return "".join(parts)


def report_html(report: Report) -> str:
    numbers: dict[int, int] = {}
    items = []
    for number, g in enumerate(report.groups, start=1):
        numbers[id(g.root)] = number
        for c in g.consequences:
            numbers[id(c)] = number
        items.append(_finding_item(g.root, number, g.consequences, report.protocol))
    findings = (f'<ol class="findings" id="findings-list">{"".join(items)}</ol>' if items
                else '<ol class="findings" id="findings-list"></ol><p>No findings: every '
                     "applicable rule passed.</p>")
    rows = "".join(
        f'<tr><td><a href="#scenario-{_slug(s.name)}">{_e(s.name)}</a></td>'
        f'<td><span class="badge {_e(s.status)}">{_e(s.status)}</span></td>'
        f"<td>{len(s.groups)}</td><td>{_e(s.reason or '; '.join(s.notes))}</td></tr>"
        for s in report.scenarios)
    statuses = report.rule_status()
    rule_rows = "".join(
        f"<tr><td><code>{_e(rule)}</code></td><td>{_e(status)}</td><td>{count}</td>"
        f"<td>{_e(summary_for(rule, report.protocol))}</td></tr>"
        for rule, (status, count) in statuses.items())
    could = (f"<p><strong>could not run: {_e(report.could_not_run)}</strong></p>"
             if report.could_not_run else "")
    body = (
        f"<main><h1>runflow conform</h1>"
        f'<p class="verdict v{report.exit_code}">{_e(summary_line(report))}</p>{could}'
        f"<p class=\"muted\">model {_e(report.model)} · exit code {report.exit_code}</p>"
        f"<h2>Scenarios</h2><table><tr><th>scenario</th><th>status</th>"
        f"<th>root causes</th><th>note</th></tr>{rows}</table>"
        f'<section id="findings"><h2>Findings, by root cause</h2>{findings}</section>'
        f"{''.join(_scenario_section(s, numbers) for s in report.scenarios)}"
        f'<section id="rules"><h2>Rules</h2><table><tr><th>rule</th><th>status</th>'
        f"<th>findings</th><th>what it checks</th></tr>{rule_rows}</table></section></main>")
    title = f"runflow conform: {report.protocol} at {report.base_url}"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
            f"<body>{body}<script>{_LAYOUT}</script></body></html>\n")
