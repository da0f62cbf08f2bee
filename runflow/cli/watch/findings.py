"""The payload findings ``runflow check`` shows, shown by ``runflow watch`` as they come.

The grammar's violations come from the flow itself; the payload invariants (the
registry row's rows: ``payload.message.role``, ``payload.run.completed_at``...) are a
layer beside it (:class:`runflow.conform.payload.Payloads`). :class:`PayloadWatch`
is that layer for one watched flow: the flow's :attr:`~runflow.engine.flow.Flow.observer`
hands it each SSE event before the flow takes it (a recording, standard input, a
live stream read as bytes), and :func:`~runflow.cli.watch.pace.feed_block` each JSON
line (:meth:`PayloadWatch.record`). Each finding is judged by the flow's profile as
``check`` judges it, and worded as ``check`` words it (:func:`finding_line`). The
layer sees an event before the flow takes it, so its findings are held
(:meth:`PayloadWatch.take`) and shown after the event's changes: the watcher takes
them when it shows changes (``changed``), which the layer asks for before the next
event at the latest.

At most ``Limits.max_repeated_violations`` findings of a rule are shown (the others
counted, as ``check`` caps them), so a hostile stream cannot grow the view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from runflow.conform.events import named_event, observed
from runflow.conform.grade import judged
from runflow.conform.payload import Payloads

if TYPE_CHECKING:
    from runflow.conform.findings import Finding
    from runflow.engine.flow import Flow

__all__ = ["PayloadWatch", "finding_line"]


def finding_line(finding: Finding) -> str:
    """A finding as ``check`` words it: ``#index severity rule entity: message``."""
    place = f"#{finding.index}" if finding.index is not None else "-"
    entity = f" {finding.entity}" if finding.entity else ""
    return f"{place} {finding.severity} {finding.rule}{entity}: {finding.message}"


class PayloadWatch:
    """The payload layer of one watched flow (see the module docstring); ``changed``
    (the watcher's) is called before an event while findings are held."""

    def __init__(self, flow: Flow, changed: Callable[[], None]) -> None:
        self.flow = flow
        self.layer = Payloads(flow.protocol)
        self.changed = changed
        self.held: list[Finding] = []
        """The findings of the last event, not shown yet."""
        self.suppressed = 0
        """Findings past the cap of their rule, counted and not shown."""
        self._counts: dict[str, int] = {}
        flow.observer = self

    def __call__(self, name: str | None, raw: bytes | None, offset: int, parsed: Any) -> None:
        """The flow's observer: an SSE event, before the flow processes it."""
        flow = self.flow
        self._see(observed(flow.protocol, flow.event_count, 0, name, raw, parsed))

    def record(self, item: Any) -> None:
        """A JSON line's event (``{"event": name, "data": ...}``, or a Responses event's
        data alone), before the flow takes it."""
        flow = self.flow
        if not isinstance(item, Mapping):
            return
        name: Any = None
        data: Any = item
        if "event" in item or flow.protocol.type_field is None:
            name, data = item.get("event"), item.get("data")
        self._see(named_event(flow.protocol, flow.event_count, 0,
                              name if isinstance(name, str) else None, data, None))

    def take(self) -> list[Finding]:
        """The findings held, now shown."""
        held, self.held = self.held, []
        return held

    def _see(self, event: Any) -> None:
        if self.held:
            self.changed()  # the event before is done: its changes, then its findings
        cap = self.flow.limits.max_repeated_violations
        for finding in judged(self.flow, self.layer.see(event)):
            count = self._counts.get(finding.rule, 0)
            self._counts[finding.rule] = count + 1
            if count >= cap:
                self.suppressed += 1
                continue
            self.held.append(finding)
