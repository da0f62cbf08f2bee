"""The Assistants text and tool-call hooks, on top of the engine's callback queue.

Text and tool-call hooks fire exactly once per part or call: ``created`` when it
first appears (from a delta or a full object), ``done`` when its message or step
reaches a terminal state -- or, for function calls, when the run enters
``requires_action`` (their arguments are final then) -- with final values.
``delta`` fires for each merged fragment with the part or call so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from runflow.engine.accumulator import JSON
from runflow.engine.entities import Tracker, copy_of
from runflow.engine.hooks import AnyCallback, Hooks
from runflow.engine.state import FlowState
from runflow.protocols.assistants.accumulators import MessageContent, StepDetails
from runflow.protocols.assistants.content import Part
from runflow.protocols.assistants.content import ToolCall as Call
from runflow.protocols.assistants.definition import ASSISTANTS, Entity
from runflow.protocols.assistants.parts import (
    TextDelta,
    TextSnapshot,
    ToolCallDelta,
    ToolCallSnapshot,
)

__all__ = ["RunHooks"]

_TERMINAL = {entity: table.terminal for entity, table in ASSISTANTS.tables.items()}


def _parts(tracker: Tracker) -> MessageContent:
    return cast(MessageContent, tracker.acc)


def _calls(tracker: Tracker) -> StepDetails:
    return cast(StepDetails, tracker.acc)


class RunHooks(Hooks):
    """The engine's hooks plus the SDK-style text and tool-call hooks, each fired
    once per part or call."""

    __slots__ = ("announced", "done", "last_call", "last_text", "text", "tool_call")

    def __init__(self, snapshot: Callable[[Tracker], Any] = Tracker.snapshot) -> None:
        super().__init__(snapshot)
        self.text: dict[str, list[AnyCallback]] = {}
        """Phase (created, delta, done) -> text part callbacks."""
        self.tool_call: dict[str, list[AnyCallback]] = {}
        """Phase (created, delta, done) -> tool call callbacks."""
        # keyed by tracker label (kind and id): a step and a message may share an id
        self.announced: dict[str, int] = {}  # label -> parts/calls whose created fired
        self.done: set[tuple[str, int]] = set()  # (label, index) whose done fired
        # the live view handed to the last text (tool-call) delta and what it shows: a
        # run of deltas to one part gets the same view, made once (a part or call
        # object belongs to one index of one message or step)
        self.last_text: tuple[Part, TextSnapshot] | None = None
        self.last_call: tuple[Call, ToolCallSnapshot] | None = None

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
        super().entered(flow, tracker, state)

    def delta(self, flow: FlowState, tracker: Tracker, delta: JSON) -> None:
        # runs per delta: a flow with no text or tool-call hook returns at once
        if tracker.entity == Entity.MESSAGE:
            if self.text:
                self.message_delta(tracker, delta.get("content") or ())
        elif self.tool_call:
            details = delta.get("step_details") or {}
            self.step_delta(tracker, details.get("tool_calls") or ())

    def message_delta(self, tracker: Tracker, content: Any) -> None:
        text = self.text
        if not text:
            return
        created, deltas = text.get("created"), text.get("delta")
        mid, label = tracker.id, tracker.label
        announced, pending = self.announced, self.pending
        message: Any = tracker.acc  # a MessageContent (no cast: this runs per delta)
        parts = message.parts
        for item in content:
            if item["type"] != "text":
                continue
            index = item["index"]
            part, last = parts[index], self.last_text
            if last is not None and last[0] is part:
                view = last[1]
            else:
                view = TextSnapshot(mid, index, part)
                self.last_text = (part, view)
            if index >= announced.get(label, 0):
                announced[label] = index + 1
                for cb in created or ():
                    pending.append((cb, (view,)))
            if deltas:
                body = item.get("text") or {}
                annotations = body.get("annotations")
                delta = TextDelta(mid, index, body.get("value") or "",
                                  tuple(copy_of(annotations)) if annotations else ())
                for cb in deltas:
                    pending.append((cb, (delta, view)))

    def step_delta(self, tracker: Tracker, items: Any) -> None:
        hooks = self.tool_call
        if not hooks:
            return
        created, deltas = hooks.get("created"), hooks.get("delta")
        sid, label = tracker.id, tracker.label
        announced, pending = self.announced, self.pending
        details: Any = tracker.acc  # a StepDetails (no cast: this runs per delta)
        calls = details.calls
        for item in items:
            index = item["index"]
            call, seen = calls[index], self.last_call
            if seen is not None and seen[0] is call:
                view = seen[1]
            else:
                view = ToolCallSnapshot(sid, index, call)
                self.last_call = (call, view)
            if index >= announced.get(label, 0):
                announced[label] = index + 1
                for cb in created or ():
                    pending.append((cb, (view,)))
            if deltas:
                type_ = item["type"]
                body = item.get(type_) or {}
                outputs = body.get("outputs")
                delta = ToolCallDelta(
                    sid, index, type_, item.get("id"), body.get("name"),
                    body.get("arguments") or body.get("input") or "",
                    tuple(copy_of(outputs)) if outputs else (),
                )
                for cb in deltas:
                    pending.append((cb, (delta, view)))

    # -- once-per-part bookkeeping ---------------------------------------- #
    def _announce_parts(self, tracker: Tracker) -> None:
        start = self.announced.get(tracker.label, 0)
        created = self.text.get("created")
        parts = _parts(tracker).parts
        for index in range(start, len(parts)):
            if parts[index].type == "text" and created:
                view = TextSnapshot(tracker.id, index, parts[index])
                for cb in created:
                    self.pending.append((cb, (view,)))
        self.announced[tracker.label] = max(start, len(parts))

    def _parts_done(self, tracker: Tracker) -> None:
        done = self.text.get("done")
        for index, part in enumerate(_parts(tracker).parts):
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
        calls = _calls(tracker).calls
        for index in range(start, len(calls)):
            view = ToolCallSnapshot(tracker.id, index, calls[index])
            for cb in created or ():
                self.pending.append((cb, (view,)))
        self.announced[tracker.label] = max(start, len(calls))

    def _calls_done(self, tracker: Tracker, functions_only: bool) -> None:
        done = self.tool_call.get("done")
        for index, call in enumerate(_calls(tracker).calls):
            key = (tracker.label, index)
            if key in self.done or (functions_only and call.type != "function"):
                continue
            self.done.add(key)
            view = ToolCallSnapshot(tracker.id, index, call)
            for cb in done or ():
                self.pending.append((cb, (view,)))
