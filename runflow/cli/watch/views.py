"""What happened, and one line per change: :class:`Watcher`, :class:`View`, :class:`LineView`.

A :class:`Watcher` registers on each flow it is given (a run's one flow, or one
flow per response of a Responses tool loop) and tells the view about each
change in order: state changes (from the flow's history, so recoveries over REST
show too), tool calls asked for, streamed text, violations, stream ends. The
view says how: :class:`LineView` one line per change, for pipes, logs and dumb
terminals; :class:`runflow.cli.watch.live.LiveView` a rich live panel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from runflow.engine.state import RECOVERED

if TYPE_CHECKING:
    from runflow import Ending, Violation
    from runflow.cli.output import Output
    from runflow.cli.watch.findings import PayloadWatch
    from runflow.cli.watch.lens import Lens
    from runflow.conform.findings import Finding
    from runflow.engine.flow import Flow
    from runflow.engine.state import StateChange

__all__ = ["LineView", "View", "Watcher"]


class View:
    """What a watch shows; :class:`LineView` and ``LiveView`` say how."""

    def __init__(self, lens: Lens, out: Output) -> None:
        self.lens, self.out = lens, out
        self.flows: list[Flow] = []
        self.streams = 0

    @property
    def flow(self) -> Flow:
        """The flow being fed now."""
        return self.flows[-1]

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        yield

    def refresh(self) -> None: ...
    def state(self, change: StateChange) -> None: ...
    def tool_call(self, call_id: str, name: str, arguments: str) -> None: ...
    def text_delta(self, text: str) -> None: ...
    def violation(self, violation: Violation) -> None: ...
    def finding(self, finding: Finding) -> None: ...
    def note(self, text: str) -> None: ...

    def stream_end(self, ending: Ending) -> None:
        self.streams += 1

    def outcome(self) -> str:
        return self.lens.outcome(self.flows, self.streams)

    def summary(self, diagram: bool) -> None:
        self.out.print(self.outcome())
        if diagram:
            from runflow.diagrams import path_mermaid

            for flow in self.flows:
                self.out.print(path_mermaid(flow.history, flow.protocol).rstrip("\n"))


class Watcher:
    """Registers on each flow and tells the view about each change, in order."""

    def __init__(self, lens: Lens, view: View) -> None:
        self.lens, self.view = lens, view
        self._seen = 0
        self._payloads: list[PayloadWatch] = []
        self.errors = 0
        """Error-severity payload findings shown."""

    @property
    def flows(self) -> list[Flow]:
        return self.view.flows

    @property
    def ok(self) -> bool:
        """No error-severity violation in any flow watched, and no error-severity
        payload finding (as ``check`` says)."""
        return all(flow.ok for flow in self.flows) and not self.errors

    def attach(self, flow: Flow) -> Flow:
        """Watch ``flow`` from now on (the previous one is done); returns it."""
        self.changed()
        self.view.flows.append(flow)
        self._seen = 0
        from runflow.cli.watch.lens import on_every_state

        on_every_state(flow, lambda kind, state, obj: self._entered(flow, kind, state, obj))
        self.lens.on_text(flow, self.view.text_delta)
        from runflow.cli.watch.findings import PayloadWatch

        self._payloads.append(PayloadWatch(flow, self.changed))
        flow.on_violation(self._violation)
        flow.on_end(self._end)
        return flow

    def changed(self) -> None:
        """Report state changes not reported yet (recovery fires callbacks too), then
        the payload findings held."""
        if not self.flows:
            return
        history = self.view.flow.history
        while self._seen < len(history):
            change = history[self._seen]
            self._seen += 1
            if change.source != change.dest:
                self.view.state(change)
        for payloads in self._payloads:
            for finding in payloads.take():
                self.errors += finding.severity == "error"
                self.view.finding(finding)
        self.view.refresh()

    def _entered(self, flow: Flow, kind: str, state: str, obj: Any) -> None:
        self.changed()
        for call in self.lens.calls_on_enter(flow, kind, state, obj):
            self.view.tool_call(call.call_id, call.name, call.arguments)

    def _violation(self, violation: Violation) -> None:
        self.changed()
        self.view.violation(violation)

    def _end(self, ending: Ending) -> None:
        self.changed()
        self.view.stream_end(ending)

    def note(self, text: str) -> None:
        self.changed()
        self.view.note(text)


class LineView(View):
    """One line per change, for pipes, logs and dumb terminals; each written out as
    it happens (a pipe's output is flushed per line, so ``runflow watch - | tee``
    shows a live stream live)."""

    def _line(self, text: str) -> None:
        self.out.print(text)
        flush = getattr(self.out.out, "flush", None)
        if flush is not None:
            flush()

    def state(self, change: StateChange) -> None:
        how = "recovered over REST" if change.event == RECOVERED else change.event
        where = "" if change.event == RECOVERED else f"#{change.index} "
        self._line(f"{where}{change.entity} {change.id}: {change.source} -> "
                   f"{change.dest} ({how})")
        text = self.lens.finished_text(self.flow, change)
        if text:
            self._line(f"text {change.id}: {text}")

    def tool_call(self, call_id: str, name: str, arguments: str) -> None:
        self._line(f"tool call {name}({arguments}) [{call_id}]")

    def violation(self, violation: Violation) -> None:
        self._line(f"! {violation}")

    def finding(self, finding: Finding) -> None:
        from runflow.cli.watch.findings import finding_line

        self._line(f"! {finding_line(finding)}")

    def stream_end(self, ending: Ending) -> None:
        super().stream_end(ending)
        self._line(f"stream {self.streams} ended: {ending}")

    def note(self, text: str) -> None:
        self._line(f"-- {text}")
