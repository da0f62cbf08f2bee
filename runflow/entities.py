"""Per-entity trackers: the state the machines move, and the snapshot behind it.

A tracker is a small plain object (``__slots__``) that the shared ``transitions``
machines drive through its ``state`` attribute. It keeps the last full object the
server sent (``raw``, as received, never copied) and, for messages and steps, the
accumulators that deltas grow (:mod:`runflow.content`). The SDK's pydantic type is
built from both only when asked for, then cached until the next change.
"""

from __future__ import annotations

from typing import Any

from openai.types.beta import Thread
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep
from pydantic import BaseModel, ValidationError

from .content import JSON, Part, ToolCall, part_from_object, tool_call_from_object
from .protocol import UNSEEN, Entity

__all__ = ["SNAPSHOT_TYPES", "Tracker", "merge_server_object"]

SNAPSHOT_TYPES: dict[Entity, type[BaseModel]] = {
    Entity.THREAD: Thread,
    Entity.RUN: Run,
    Entity.STEP: RunStep,
    Entity.MESSAGE: Message,
}


class Tracker:
    """One entity of a flow: its state, its last full object and its deltas."""

    __slots__ = (
        "calls",
        "deltas",
        "entity",
        "id",
        "label",
        "parts",
        "raw",
        "recovered",
        "size",
        "state",
        "status_override",
        "step_type",
        "typed",
    )

    def __init__(self, entity: Entity, id_: str) -> None:
        self.entity = entity
        self.id = id_
        self.label = f"{entity.value} {id_}"
        """How violations name this entity, e.g. ``"message msg_abc"``."""
        self.state = UNSEEN
        self.raw: JSON = {}
        self.parts: list[Part] = []  # message content
        self.calls: list[ToolCall] = []  # tool_calls step details
        self.step_type: str | None = None  # message_creation | tool_calls
        self.deltas = 0  # delta events merged
        self.size = 0  # characters of text grown by deltas
        self.status_override: str | None = None  # event name disagreed with payload
        self.recovered = False  # last object came from REST reconciliation
        self.typed: BaseModel | None = None  # cached snapshot


    def wire(self) -> JSON:
        """The snapshot as a JSON-shaped dict, in the API's own layout."""
        if self.entity is Entity.MESSAGE:
            out = dict(self.raw)
            out["content"] = [p.wire() for p in self.parts]
        elif self.entity is Entity.STEP:
            out = dict(self.raw)
            details = out.get("step_details")
            if self.step_type == "tool_calls":
                details = dict(details) if isinstance(details, dict) else {"type": "tool_calls"}
                details["tool_calls"] = [c.wire() for c in self.calls]
                out["step_details"] = details
        else:
            out = dict(self.raw)
        if self.status_override is not None:
            out["status"] = self.status_override
        return out

    def snapshot(self) -> BaseModel:
        """The SDK's pydantic object for this entity (cached until the next change)."""
        typed = self.typed
        if typed is None:
            model = SNAPSHOT_TYPES[self.entity]
            wire = self.wire()
            try:
                # pydantic's validator runs in Rust: several times faster than
                # the SDK's lenient Python builder, for objects that conform.
                typed = model.model_validate(wire)
            except ValidationError:
                # ``construct`` is the SDK's own lenient builder (what it uses for
                # API responses): real servers omit fields the schema requires,
                # e.g. a null ``instructions``, and that must not lose the snapshot.
                typed = model.construct(**wire)
            self.typed = typed
        return typed


def merge_server_object(tracker: Tracker, obj: JSON) -> None:
    """Make a full object from the server the snapshot.

    The server's object replaces the snapshot's fields, except fields the server
    omitted that the deltas established: a content part or tool call beyond the
    end of the server's list, or a value the server left null or empty.
    """
    tracker.raw = obj
    tracker.typed = None
    tracker.status_override = None
    if tracker.entity is Entity.MESSAGE:
        content = obj.get("content")
        if isinstance(content, list):
            theirs = [part_from_object(p) for p in content if isinstance(p, dict)]
            tracker.parts = _merge_list(tracker.parts, theirs, _keep_part)
    elif tracker.entity is Entity.STEP:
        details = obj.get("step_details")
        if isinstance(details, dict):
            tracker.step_type = details.get("type") or tracker.step_type
            items = details.get("tool_calls")
            if isinstance(items, list):
                theirs_calls = [tool_call_from_object(c) for c in items if isinstance(c, dict)]
                tracker.calls = _merge_list(tracker.calls, theirs_calls, _keep_call)


def _merge_list(ours: list[Any], theirs: list[Any], keep: Any) -> list[Any]:
    merged = list(theirs)
    for i, mine in enumerate(ours):
        if i < len(merged):
            keep(mine, merged[i])
        else:
            merged.append(mine)
    return merged


def _keep_part(mine: Part, theirs: Part) -> None:
    if mine.type != theirs.type:
        return
    if not theirs.chunks and mine.chunks:
        theirs.reset(mine.value)
    if not theirs.annotations and mine.annotations:
        theirs.annotations = mine.annotations
    for key, val in mine.extra.items():
        if theirs.extra.get(key) is None:
            theirs.extra[key] = val


def _keep_call(mine: ToolCall, theirs: ToolCall) -> None:
    if mine.type != theirs.type:
        return
    theirs.id = theirs.id or mine.id
    theirs.name = theirs.name or mine.name
    if not theirs.chunks and mine.chunks:
        theirs.reset(mine.text)
    if theirs.output is None:
        theirs.output = mine.output
    if not theirs.outputs and mine.outputs:
        theirs.outputs = mine.outputs
    for key, val in mine.extra.items():
        if theirs.extra.get(key) is None:
            theirs.extra[key] = val
