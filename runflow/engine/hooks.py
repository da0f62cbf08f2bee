"""The callbacks registered on a flow, and the queue of calls waiting to fire.

The core tells :class:`Hooks` what happened (an entity entered a state, a delta
was merged, a violation, the end of a stream); Hooks turns that into queued calls
and fires them when the event is fully applied (:meth:`Hooks.flush`). So an
enter callback always sees a snapshot that includes the event that caused the
transition, and a callback that raises never leaves the flow half-updated.

Text and tool-call hooks fire exactly once per part or call: ``created`` when it
first appears (from a delta or a full object), ``done`` when its message or step
reaches a terminal state -- or, for function calls, when the run enters
``requires_action`` (their arguments are final then) -- with final values.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runflow.engine.entities import Tracker, copy_of
from runflow.engine.violations import Violation
from runflow.protocols import PROTOCOL, Entity
from runflow.protocols.assistants.content import JSON
from runflow.protocols.assistants.parts import (
    TextDelta,
    TextSnapshot,
    ToolCallDelta,
    ToolCallSnapshot,
)

if TYPE_CHECKING:
    from runflow.engine.flow import Flow as RunFlow
    from runflow.engine.state import Ending, FlowState

__all__ = ["CallbackFailure", "Hooks"]

AnyCallback = Callable[..., Any]
_TERMINAL = {entity: table.terminal for entity, table in PROTOCOL.tables.items()}


@dataclass(frozen=True)
class CallbackFailure:
    """A callback that raised, recorded when ``callback_errors="collect"``."""

    callback: str
    """The callback's qualified name."""
    index: int
    """The input position of the event that triggered it."""
    error: BaseException


class Hooks:
    """Registered callbacks plus the calls queued for the current event."""

    __slots__ = ("announced", "delta_of", "done", "end", "enter", "pending", "snapshot", "text",
                 "tool_call", "value_delta", "violated")

    def __init__(self, snapshot: Callable[[Tracker], Any] = Tracker.snapshot,
                 delta_of: Callable[[Tracker, Any], Any] | None = None) -> None:
        self.snapshot = snapshot
        """What an enter callback receives for a tracker (the flow's read layer)."""
        self.delta_of = delta_of
        """What a value-delta callback receives for a merged delta (Responses)."""
        self.value_delta: dict[str, list[AnyCallback]] = {}
        """Entity kind -> callbacks told of each delta merged into it (Responses)."""
        self.enter: dict[tuple[str, str], list[AnyCallback]] = {}
        self.text: dict[str, list[AnyCallback]] = {}
        self.tool_call: dict[str, list[AnyCallback]] = {}
        self.violated: list[AnyCallback] = []
        self.end: list[AnyCallback] = []
        self.pending: list[tuple[AnyCallback, tuple[Any, ...]]] = []
        # keyed by tracker label (kind and id): a step and a message may share an id
        self.announced: dict[str, int] = {}  # label -> parts/calls whose created fired
        self.done: set[tuple[str, int]] = set()  # (label, index) whose done fired

    # -- what the core reports -------------------------------------------- #
    def entered(self, flow: FlowState, tracker: Tracker, state: str) -> None:
        entity = tracker.entity
        if entity is Entity.MESSAGE and self.text:
            self._announce_parts(tracker)
            if state in _TERMINAL[entity]:
                self._parts_done(tracker)
        elif entity is Entity.STEP and self.tool_call:
            self._announce_calls(tracker)
            if state in _TERMINAL[entity]:
                self._calls_done(tracker, functions_only=False)
        elif entity is Entity.RUN and state == "requires_action" and self.tool_call:
            for step in flow.children[Entity.STEP].values():
                if step.state == "in_progress":
                    self._calls_done(step, functions_only=True)
        callbacks = self.enter.get((entity, state))
        if callbacks:
            # The flow lets go of this object (its next read builds a new one from
            # what the server sent), so a callback that edits what it receives
            # cannot change the flow; cheaper than a deep copy per callback.
            snapshot = self.snapshot(tracker)
            tracker.typed = None
            for cb in callbacks:
                self.pending.append((cb, (snapshot,)))

    def delta(self, flow: FlowState, tracker: Tracker, delta: JSON) -> None:
        """A delta was merged into ``tracker``."""
        told = self.value_delta.get(tracker.entity)
        if told is not None:
            told_as = self.delta_of(tracker, delta) if self.delta_of is not None else delta
            for cb in told:
                self.pending.append((cb, (told_as,)))
            return
        if tracker.entity == Entity.MESSAGE:
            self.message_delta(tracker, delta.get("content") or ())
        else:
            details = delta.get("step_details") or {}
            self.step_delta(tracker, details.get("tool_calls") or ())

    def entered_at(self, flow: FlowState, staged: list[tuple[Tracker, str, int]]) -> None:
        """:meth:`entered` for each ``(tracker, state, position)``, its callbacks
        queued at the position the queue had when the entity entered the state, so
        they keep their order with the violation callbacks of the same event."""
        shift = 0
        pending = self.pending
        for tracker, state, position in staged:
            start = len(pending)
            self.entered(flow, tracker, state)
            added = pending[start:]
            if added:
                del pending[start:]
                pending[position + shift:position + shift] = added
                shift += len(added)

    def message_delta(self, tracker: Tracker, content: Any) -> None:
        text = self.text
        if not text:
            return
        created, deltas = text.get("created"), text.get("delta")
        mid = tracker.id
        for item in content:
            if item["type"] != "text":
                continue
            index = item["index"]
            view = TextSnapshot(mid, index, tracker.acc.parts[index])
            if index >= self.announced.get(tracker.label, 0):
                self.announced[tracker.label] = index + 1
                for cb in created or ():
                    self.pending.append((cb, (view,)))
            if deltas:
                body = item.get("text") or {}
                delta = TextDelta(mid, index, body.get("value") or "",
                                  tuple(copy_of(body.get("annotations") or ())))
                for cb in deltas:
                    self.pending.append((cb, (delta, view)))

    def step_delta(self, tracker: Tracker, items: Any) -> None:
        hooks = self.tool_call
        if not hooks:
            return
        created, deltas = hooks.get("created"), hooks.get("delta")
        sid = tracker.id
        for item in items:
            index = item["index"]
            view = ToolCallSnapshot(sid, index, tracker.acc.calls[index])
            if index >= self.announced.get(tracker.label, 0):
                self.announced[tracker.label] = index + 1
                for cb in created or ():
                    self.pending.append((cb, (view,)))
            if deltas:
                type_ = item["type"]
                body = item.get(type_) or {}
                delta = ToolCallDelta(
                    sid, index, type_, item.get("id"), body.get("name"),
                    body.get("arguments") or body.get("input") or "",
                    tuple(copy_of(body.get("outputs") or ())),
                )
                for cb in deltas:
                    self.pending.append((cb, (delta, view)))

    def violation(self, flow: RunFlow, violation: Violation) -> None:
        for cb in self.violated:
            self.pending.append((cb, (violation,)))

    def ended(self, flow: RunFlow, ending: Ending) -> None:
        for cb in self.end:
            self.pending.append((cb, (ending,)))

    # -- once-per-part bookkeeping ---------------------------------------- #
    def _announce_parts(self, tracker: Tracker) -> None:
        start = self.announced.get(tracker.label, 0)
        created = self.text.get("created")
        for index in range(start, len(tracker.acc.parts)):
            if tracker.acc.parts[index].type == "text" and created:
                view = TextSnapshot(tracker.id, index, tracker.acc.parts[index])
                for cb in created:
                    self.pending.append((cb, (view,)))
        self.announced[tracker.label] = max(start, len(tracker.acc.parts))

    def _parts_done(self, tracker: Tracker) -> None:
        done = self.text.get("done")
        for index, part in enumerate(tracker.acc.parts):
            key = (tracker.label, index)
            if part.type != "text" or key in self.done:
                continue
            self.done.add(key)
            view = TextSnapshot(tracker.id, index, part)
            for cb in done or ():
                self.pending.append((cb, (view,)))

    def _announce_calls(self, tracker: Tracker) -> None:
        start = self.announced.get(tracker.label, 0)
        created = self.tool_call.get("created")
        for index in range(start, len(tracker.acc.calls)):
            view = ToolCallSnapshot(tracker.id, index, tracker.acc.calls[index])
            for cb in created or ():
                self.pending.append((cb, (view,)))
        self.announced[tracker.label] = max(start, len(tracker.acc.calls))

    def _calls_done(self, tracker: Tracker, functions_only: bool) -> None:
        done = self.tool_call.get("done")
        for index, call in enumerate(tracker.acc.calls):
            key = (tracker.label, index)
            if key in self.done or (functions_only and call.type != "function"):
                continue
            self.done.add(key)
            view = ToolCallSnapshot(tracker.id, index, call)
            for cb in done or ():
                self.pending.append((cb, (view,)))

    # -- firing ----------------------------------------------------------- #
    def flush(self, flow: RunFlow) -> None:
        """Fire the queued calls (sync mode). Async results are an error here."""
        if not self.pending:
            return
        calls, self.pending = self.pending, []
        first: BaseException | None = None
        for cb, args in calls:
            try:
                result = cb(*args)
                if result is not None and inspect.isawaitable(result):
                    if inspect.iscoroutine(result):
                        result.close()
                    raise TypeError(
                        f"callback {_name(cb)} is async; drive the flow asynchronously "
                        "(await flow.afeed(...), flow.afeed_sse(...), "
                        "runflow.adapters.sdk.aconsume(...))"
                    )
            except Exception as exc:
                first = first or self._failed(flow, cb, exc)
        if first is not None:
            raise first

    async def aflush(self, flow: RunFlow) -> None:
        """Fire the queued calls, awaiting async ones, in order."""
        while self.pending:
            calls, self.pending = self.pending, []
            first: BaseException | None = None
            for cb, args in calls:
                try:
                    result = cb(*args)
                    if inspect.isawaitable(result):
                        await _await(result)
                except Exception as exc:
                    first = first or self._failed(flow, cb, exc)
            if first is not None:
                raise first

    def _failed(self, flow: RunFlow, cb: AnyCallback, exc: Exception) -> Exception | None:
        if flow.callback_errors == "collect":
            flow.callback_failures.append(CallbackFailure(_name(cb), flow.event_count - 1, exc))
            return None
        return exc


async def _await(result: Awaitable[Any]) -> None:
    await result


def _name(cb: AnyCallback) -> str:
    return getattr(cb, "__qualname__", None) or repr(cb)
