"""Shape checks for event payloads: is this data the event's object?

Only the fields runflow relies on are checked (ids, status, the parts deltas
merge into); everything else is accepted as the server sent it, since real
servers add and omit fields. A problem is one phrase naming the field, used in
``malformed_event`` messages.
"""

from __future__ import annotations

from typing import Any

from .content import JSON, Problem
from .entities import Tracker
from .protocol import Entity
from .violations import Code

__all__ = ["dig", "object_problem", "step_identity_problem", "text_size", "tool_size"]


def object_problem(entity: Entity, data: Any) -> str | None:
    """Why ``data`` is not the event's object, naming the field, or None."""
    if type(data) is not dict:
        return f"is {type(data).__name__}, not an object"
    if type(data.get("id")) is not str or not data["id"]:
        return "has no string 'id'"
    if entity is Entity.THREAD:
        return None
    if not isinstance(data.get("status"), str):
        return "has no string 'status'"
    if entity is not Entity.RUN:
        for key in ("run_id", "thread_id"):
            if data.get(key) is not None and not isinstance(data[key], str):
                return f"field {key!r} is {data[key]!r}, not a string"
    if entity is Entity.STEP:
        details = data.get("step_details")
        if not isinstance(details, dict) or details.get("type") not in (
            "message_creation", "tool_calls"
        ):
            return "field 'step_details' is not a message_creation or tool_calls object"
        if details["type"] == "tool_calls" and not isinstance(details.get("tool_calls"), list):
            return "field 'step_details.tool_calls' is not a list"
    if entity is Entity.MESSAGE and not isinstance(data.get("content"), list):
        return "field 'content' is not a list"
    return None


def dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def text_size(content: list[JSON]) -> int:
    size = 0
    for item in content:
        text = item.get("text")
        if isinstance(text, dict) and isinstance(text.get("value"), str):
            size += len(text["value"])
        elif isinstance(item.get("refusal"), str):
            size += len(item["refusal"])
    return size


def tool_size(items: list[JSON]) -> int:
    size = 0
    for item in items:
        body = item.get(item["type"])
        if isinstance(body, dict):
            for key in ("arguments", "input"):
                if isinstance(body.get(key), str):
                    size += len(body[key])
    return size


def step_identity_problem(step: Tracker, obj: JSON) -> Problem | None:
    """A step keeps its type and the message it announces for its whole life."""
    details = obj["step_details"]
    if details["type"] != step.step_type:
        return Code.TYPE_CHANGE, (
            f"{step.label} changes type from {step.step_type!r} to {details['type']!r}"
        )
    before = dig(step.raw, "step_details", "message_creation", "message_id")
    after = dig(details, "message_creation", "message_id")
    if before is not None and after != before:
        return Code.ID_CHANGE, f"{step.label} announced message {before!r} but now names {after!r}"
    return None
