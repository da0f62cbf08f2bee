"""The live view of ``runflow watch`` on a terminal: one rich panel, redrawn.

It shows each entity of every flow watched with its state (the rows come from
the protocol's :class:`~runflow.cli.watch.lens.Lens`), the answer text as it
streams, the tool calls asked for, the violations, the payload findings ``check``
shows, notes (stream ends,
recoveries) and, with ``--diagram``, the edges of the path so far.

What it draws is bounded whatever the stream's length: the last :data:`TEXT_TAIL`
characters of the text and the last :data:`LINES_TAIL` tool calls, violations and
notes, each with a line counting what is above.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from runflow.cli.watch.views import View
from runflow.engine.state import RECOVERED

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

    from runflow import Ending, Violation
    from runflow.cli.output import Output
    from runflow.cli.watch.lens import Lens
    from runflow.conform.findings import Finding
    from runflow.engine.state import StateChange

__all__ = ["LINES_TAIL", "TEXT_TAIL", "LiveView"]

TEXT_TAIL = 4000
"""Characters of the streamed text the panel draws (the last ones)."""
LINES_TAIL = 50
"""Tool calls, violations and notes the panel draws (the last ones of each)."""


def tail_text(text: str) -> str:
    """The last :data:`TEXT_TAIL` characters of ``text``, saying how many are above."""
    if len(text) <= TEXT_TAIL:
        return text
    return f"… ({len(text) - TEXT_TAIL:,} characters above)\n{text[-TEXT_TAIL:]}"


def tail_lines(lines: list[str]) -> str:
    """The last :data:`LINES_TAIL` of ``lines``, saying how many are above."""
    if len(lines) <= LINES_TAIL:
        return "\n".join(lines)
    return "\n".join([f"… ({len(lines) - LINES_TAIL:,} more above)", *lines[-LINES_TAIL:]])

_FAILED = frozenset({"failed", "cancelled", "expired", "incomplete"})


class LiveView(View):
    """A rich live panel: entities and states, text, tool calls, violations, path."""

    def __init__(self, lens: Lens, out: Output, diagram: bool) -> None:
        super().__init__(lens, out)
        from rich.console import Console

        self.console: Console = Console(file=out.out, highlight=False,
                                        no_color=not out.color)
        self.diagram = diagram
        self.calls: list[str] = []
        self.findings: list[str] = []
        """The payload findings, as ``check`` words them (bounded: :mod:`.findings`)."""
        self.notes: list[str] = []
        self.recovered: set[str] = set()
        self.live: Live | None = None
        self._last = 0.0

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        from rich.live import Live

        with Live(self._render(), console=self.console, auto_refresh=False,
                  transient=False) as live:
            self.live = live
            try:
                yield
            finally:
                live.update(self._render(), refresh=True)
                self.live = None

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.live is not None and (force or now - self._last > 0.05):
            self._last = now
            self.live.update(self._render(), refresh=True)

    def state(self, change: StateChange) -> None:
        if change.event == RECOVERED:
            self.recovered.add(change.id)
            self.notes.append(f"{change.entity} {change.id}: {change.source} -> "
                              f"{change.dest} (recovered over REST)")
        else:
            self.recovered.discard(change.id)

    def tool_call(self, call_id: str, name: str, arguments: str) -> None:
        self.calls.append(f"{name}({arguments})  {call_id}")
        self.refresh(force=True)

    def text_delta(self, text: str) -> None:
        self.refresh()

    def violation(self, violation: Violation) -> None:
        self.refresh(force=True)

    def finding(self, finding: Finding) -> None:
        from runflow.cli.watch.findings import finding_line

        self.findings.append(finding_line(finding))
        self.refresh(force=True)

    def stream_end(self, ending: Ending) -> None:
        super().stream_end(ending)
        self.notes.append(f"stream {self.streams} ended: {ending}")
        self.refresh(force=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.refresh(force=True)

    def summary(self, diagram: bool) -> None:
        self.console.print(self.outcome(), markup=False, highlight=False)

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for column in ("entity", "id", "state", ""):
            table.add_column(column)
        for flow in self.flows:
            for kind, oid, state, extra in self.lens.rows(flow):
                mark = " (recovered)" if oid in self.recovered else ""
                table.add_row(kind, oid, Text(state + mark, style=_state_style(state)), extra)
        events = sum(flow.event_count for flow in self.flows)
        parts: list[RenderableType] = [
            Panel(table, title=f"runflow watch: {events} events, {self.streams} "
                               "stream(s) ended", title_align="left")]
        texts = (str(getattr(flow, "text", "")) for flow in self.flows)
        text = "\n\n".join(t for t in texts if t)
        if text:
            parts.append(Panel(Text(tail_text(text)), title="text", title_align="left"))
        if self.calls:
            parts.append(Panel(Text(tail_lines(self.calls)), title="tool calls",
                               title_align="left"))
        violations = [v for flow in self.flows for v in flow.violations]
        if violations:
            lines = Text(tail_lines([str(v) for v in violations]), style="red")
            parts.append(Panel(lines, title="violations", title_align="left"))
        if self.findings:
            lines = Text(tail_lines(self.findings), style="yellow")
            parts.append(Panel(lines, title="payload findings (as runflow check)",
                               title_align="left"))
        if self.notes:
            parts.append(Text(tail_lines(self.notes), style="dim"))
        if self.diagram and self.flows:
            from runflow.diagrams import path_mermaid

            edges = [line.strip() for flow in self.flows
                     for line in path_mermaid(flow.history, flow.protocol).splitlines()
                     if " --> " in line and " : " in line]
            parts.append(Panel(Text("\n".join(edges)), title="path so far (Mermaid edges)",
                               title_align="left"))
        return Group(*parts)


def _state_style(state: str) -> str:
    if state == "completed":
        return "green"
    return "red" if state in _FAILED else "yellow"
