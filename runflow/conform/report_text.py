"""The terminal report of a grade (rich when it is installed, plain text otherwise)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from runflow.conform.findings import Finding, Group

if TYPE_CHECKING:
    from runflow.conform.runner import Report

__all__ = ["consequence_lines", "print_report", "summary_line"]

_STATUS = {"passed": "green", "warnings": "yellow", "failed": "red",
           "not_applicable": "dim", "error": "magenta"}


def consequence_lines(consequences: Sequence[Finding]) -> list[str]:
    """Consequences in runs of one rule and entity: ``#7–#16 grammar.unknown_entity
    message msg_1 (×10)``."""
    runs: list[list[Finding]] = []
    for f in consequences:
        last = runs[-1][-1] if runs else None
        if last is not None and (last.rule, last.entity, last.flow) == (f.rule, f.entity,
                                                                         f.flow):
            runs[-1].append(f)
        else:
            runs.append([f])
    lines = []
    for run in runs:
        head, tail = run[0], run[-1]
        where = head.where() if len(run) == 1 else f"{head.where()}–{tail.where()}"
        entity = f" {head.entity}" if head.entity else ""
        times = f" (×{len(run)})" if len(run) > 1 else f": {head.message}"
        lines.append(f"{where} {head.rule}{entity}{times}")
    return lines


def summary_line(report: Report) -> str:
    statuses = report.rule_status()
    counts = {s: sum(1 for v in statuses.values() if v[0] == s) for s in
              ("pass", "fail", "warn", "n/a")}
    groups = report.groups
    errors = sum(1 for g in groups if g.severity == "error")
    verdict = {0: "conformant", 1: "not conformant", 2: "could not run"}[report.exit_code]
    return (f"{report.protocol} at {report.base_url}: {verdict} — rules: {counts['pass']} "
            f"pass, {counts['fail']} fail, {counts['warn']} warn, {counts['n/a']} n/a; "
            f"{len(groups)} root cause(s) ({errors} error); {report.seconds:.1f} s")


def _group_lines(group: Group) -> list[str]:
    root = group.root
    entity = f" {root.entity}" if root.entity else ""
    flow = f"[{root.scenario}/{root.flow}] " if root.flow else f"[{root.scenario}] "
    lines = [f"{flow}{root.where()} {root.severity} {root.rule}{entity}: {root.message}"]
    if group.consequences:
        lines.append(f"    and {len(group.consequences)} consequence(s):")
        lines += [f"      ↳ {line}" for line in consequence_lines(group.consequences)]
    return lines


def print_report(report: Report, out: TextIO, *, color: bool = False, width: int = 120
                 ) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text
    except ImportError:  # the plain report
        for s in report.scenarios:
            reason = f" ({s.reason})" if s.reason else ""
            print(f"{s.name:<20} {s.status}{reason}", file=out)
        for g in report.groups:
            for line in _group_lines(g):
                print(line, file=out)
        print(summary_line(report), file=out)
        return
    console = Console(file=out, force_terminal=color, no_color=not color, width=width,
                      highlight=False, emoji=False, soft_wrap=False)
    table = Table(title=f"runflow conform: {report.protocol} ({report.model})")
    for column in ("scenario", "status", "events", "findings", "note"):
        table.add_column(column, overflow="fold")
    for s in report.scenarios:
        events = " + ".join(str(f.probe.flow.event_count) for f in s.flows if f.probe.tap.events)
        errors = sum(1 for g in s.groups if g.severity == "error")
        warnings = len(s.groups) - errors
        found = f"{errors} error, {warnings} warning" if s.groups else "-"
        note = s.reason or "; ".join(s.notes)
        table.add_row(Text(s.name), Text(s.status, style=_STATUS[s.status]), events or "-",
                      found, Text(note))  # Text: server words are never markup
    console.print(table)
    if report.could_not_run:
        console.print(Text(f"could not run: {report.could_not_run}", style="red"))
    for g in report.groups:
        style = "red" if g.severity == "error" else "yellow"
        lines = _group_lines(g)
        console.print(lines[0], style=style, markup=False)
        for line in lines[1:]:
            console.print(line, markup=False)
    console.print(summary_line(report), style="bold", markup=False)
