"""Accumulators: what a tracker's deltas grow, with one merge each.

A protocol definition names, per entity kind, the accumulator its deltas grow
(:attr:`runflow.engine.definition.EntityTable.accumulator`). The engine knows only
its interface (:class:`runflow.engine.accumulator.Accumulator`):
``merge(delta, room, max_index)`` validates a whole delta and applies it, or
applies nothing and says why; ``absorb(obj)`` takes the server's full object;
``diverge(obj)`` compares what the deltas built with it; ``wire(raw)`` lays the
snapshot out as the API does; ``dump``/``load`` are for checkpoints. The fast path
for the plain text or arguments fragment (almost every delta) is the first lines
of each ``merge``, inlined there (no call, no tuple): it is most of the traffic, and
every Python call on it shows in the benchmark's text and function rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runflow.engine.accumulator import JSON, OVER_LIMIT, Difference, MergeResult, Problem
from runflow.engine.shapes import Misfit, Shape
from runflow.engine.violations import Code
from runflow.protocols.assistants.content import (
    Part,
    ToolCall,
    apply_content,
    apply_tool_calls,
    check_content,
    check_tool_calls,
    part_from_object,
    tool_call_from_object,
)
from runflow.protocols.assistants.divergence import diff_message, diff_step

__all__ = ["MessageContent", "StepDetails"]


# --------------------------------------------------------------------------- #
# accumulators: what a tracker's deltas grow, one merge each
# --------------------------------------------------------------------------- #
class MessageContent:
    """What ``thread.message.delta`` grows: the message's content parts."""

    __slots__ = ("parts", "shape")
    limit = "max_message_chars"
    """Bounds everything deltas add to the message (:func:`kept_size`)."""
    keeps_deltas = True
    """What deltas built is never dropped (:meth:`absorb` keeps it where the server
    omits it): a checkpoint whose counters say deltas added characters must hold
    some."""

    def __init__(self, shape: Shape | None = None) -> None:
        self.parts: list[Part] = []
        self.shape = shape
        """The definition's shape of ``delta.content`` (checked off the fast path)."""

    def merge(self, delta: JSON, room: int, max_index: int) -> MergeResult:
        """Merge ``delta`` (the event's ``delta`` object) if it is valid and fits in
        ``room`` characters; otherwise change nothing and say why.

        The fast path is the shape of almost every message delta: one text fragment,
        no annotations, for a text part that already exists, recognised in a few
        lookups and appended (what :meth:`Part.add` does). Anything else takes the
        general path (:func:`check_content`, then :func:`apply_content`)."""
        content = delta.get("content")
        if type(content) is list and len(content) == 1:
            item = content[0]
            if type(item) is dict and item.get("type") == "text":
                index, text, parts = item.get("index"), item.get("text"), self.parts
                if (type(index) is int and 0 <= index < len(parts) and type(text) is dict
                        and not text.get("annotations")):
                    part, value = parts[index], text.get("value")
                    if part.type == "text" and type(value) is str:
                        size = len(value)
                        if size > room:
                            return OVER_LIMIT
                        if size:
                            part.chunks.append(value)
                            part.size += size
                        return size
        elif content is None:
            return None
        return _merge_items(self.parts, content, self.shape, "delta.content", check_content,
                            apply_content, room, max_index)

    def disagrees(self, raw: JSON) -> str | None:
        """Why these parts cannot belong to the message ``raw`` (a checkpoint check):
        the server's parts come first, with their types."""
        content = raw.get("content")
        for i, part in enumerate(content if isinstance(content, list) else ()):
            if i < len(self.parts) and isinstance(part, dict) and part.get("type") != \
                    self.parts[i].type:
                return (f"part {i} is {self.parts[i].type!r} but the message's object says "
                        f"{str(part.get('type'))[:40]!r}")
        return None

    def save(self) -> Any:
        """What :meth:`absorb` replaces (it builds new parts and never edits the old
        ones), to undo an event that failed half-way."""
        return self.parts

    def restore(self, saved: Any) -> None:
        self.parts = saved

    def absorb(self, obj: JSON) -> None:
        """Make the server's full object the snapshot, keeping what deltas built
        where the server omitted it."""
        content = obj.get("content")
        if content:  # an empty list (every status event before the message is done)
            # keeps the parts as they are: nothing to build, nothing to copy
            if isinstance(content, list):
                theirs = [part_from_object(p) for p in content if isinstance(p, dict)]
                self.parts = _merge_list(self.parts, theirs, _keep_part)

    def diverge(self, obj: JSON) -> list[Difference]:
        return diff_message(self.parts, obj)

    def wire(self, raw: JSON) -> JSON:
        out = dict(raw)
        out["content"] = [p.wire() for p in self.parts]
        return out

    def text(self) -> str:
        return "".join(p.value for p in self.parts if p.type == "text")

    def dump(self) -> JSON:
        return {"parts": [
            {"type": p.type, "value": p.value,
             "annotations": [[i, a] for i, a in p.annotations.items()], "extra": p.extra}
            for p in self.parts
        ]}

    def load(self, data: JSON) -> None:
        for p in data["parts"]:
            part = Part(_str(p["type"]))
            part.reset(_str(p["value"]))
            part.annotations = {_int(i): _dict(a) for i, a in p["annotations"]}
            part.extra = _dict(p["extra"])
            self.parts.append(part)


_TEXT_KEY = {"function": "arguments", "code_interpreter": "input"}
"""The tool call types whose body grows by a text fragment, and its key."""


class StepDetails:
    """What ``thread.run.step.delta`` grows: the step's type and tool calls."""

    __slots__ = ("calls", "shape", "step_type")
    limit = "max_tool_chars"
    """Bounds everything deltas add to the step's tool calls (:func:`kept_size`)."""
    keeps_deltas = True
    """What deltas built is never dropped (:meth:`absorb` keeps it where the server
    omits it): a checkpoint whose counters say deltas added characters must hold
    some."""

    def __init__(self, shape: Shape | None = None) -> None:
        self.calls: list[ToolCall] = []
        self.shape = shape
        """The definition's shape of ``delta.step_details.tool_calls``."""
        self.step_type: str | None = None  # message_creation | tool_calls

    def merge(self, delta: JSON, room: int, max_index: int) -> MergeResult:
        details = delta.get("step_details")
        if details is None:
            return None
        if type(details) is not dict or type(details.get("type")) is not str:
            return Code.MALFORMED_EVENT, Misfit(
                "delta.step_details is not an object with a 'type'", "delta.step_details")
        if details["type"] != self.step_type:
            return Code.TYPE_CHANGE, (
                f"delta.step_details.type is {details['type']!r} but the step is a "
                f"{self.step_type!r} step"
            )
        items = details.get("tool_calls")
        # The fast path: the shape of almost every step delta, one function-arguments
        # or code_interpreter-input fragment for a call that already exists, nothing
        # else (index, type, body: no id, no name), appended as ToolCall.add does.
        # Anything else takes the general path (check_tool_calls, apply_tool_calls).
        if type(items) is list and len(items) == 1:
            item = items[0]
            if type(item) is dict and len(item) == 3:
                index, type_, calls = item.get("index"), item.get("type"), self.calls
                if type(index) is int and 0 <= index < len(calls) and type(type_) is str:
                    call, body = calls[index], item.get(type_)
                    key = _TEXT_KEY.get(type_)
                    if (key is not None and call.type == type_ and type(body) is dict
                            and len(body) == 1):
                        fragment = body.get(key)
                        if type(fragment) is str:
                            size = len(fragment)
                            if size > room:
                                return OVER_LIMIT
                            if size:
                                call.chunks.append(fragment)
                                call.size += size
                            return size
        elif items is None:
            return None
        return _merge_items(self.calls, items, self.shape, "delta.step_details.tool_calls",
                            check_tool_calls, apply_tool_calls, room, max_index)

    def disagrees(self, raw: JSON) -> str | None:
        """Why this step's type and calls cannot belong to the step ``raw``."""
        details = raw.get("step_details")
        if not isinstance(details, dict):
            return None
        if details.get("type") != self.step_type:
            return (f"step type {self.step_type!r} but the step's object says "
                    f"{str(details.get('type'))[:40]!r}")
        items = details.get("tool_calls")
        for i, call in enumerate(items if isinstance(items, list) else ()):
            if i < len(self.calls) and isinstance(call, dict) and call.get("type") != \
                    self.calls[i].type:
                return (f"tool call {i} is {self.calls[i].type!r} but the step's object says "
                        f"{str(call.get('type'))[:40]!r}")
        return None

    def save(self) -> Any:
        """What :meth:`absorb` replaces (see :meth:`MessageContent.save`)."""
        return self.step_type, self.calls

    def restore(self, saved: Any) -> None:
        self.step_type, self.calls = saved

    def absorb(self, obj: JSON) -> None:
        details = obj.get("step_details")
        if isinstance(details, dict):
            kind = details.get("type")
            self.step_type = kind if isinstance(kind, str) else self.step_type
            items = details.get("tool_calls")
            if isinstance(items, list):
                theirs = [tool_call_from_object(c) for c in items if isinstance(c, dict)]
                self.calls = _merge_list(self.calls, theirs, _keep_call)

    def diverge(self, obj: JSON) -> list[Difference]:
        return diff_step(self.calls, obj)

    def wire(self, raw: JSON) -> JSON:
        out = dict(raw)
        if self.step_type == "tool_calls":
            details = out.get("step_details")
            details = dict(details) if isinstance(details, dict) else {"type": "tool_calls"}
            details["tool_calls"] = [c.wire() for c in self.calls]
            out["step_details"] = details
        return out

    def dump(self) -> JSON:
        return {"step_type": self.step_type, "calls": [
            {"type": c.type, "id": c.id, "name": c.name, "text": c.text,
             "output": c.output, "outputs": c.outputs, "extra": c.extra}
            for c in self.calls
        ]}

    def load(self, data: JSON) -> None:
        step_type = data["step_type"]
        self.step_type = None if step_type is None else _str(step_type)
        for c in data["calls"]:
            call = ToolCall(_str(c["type"]))
            call.id = None if c["id"] is None else _str(c["id"])
            call.name = None if c["name"] is None else _str(c["name"])
            call.output = c["output"]
            call.reset(_str(c["text"]))
            call.outputs = [_dict(o) for o in c["outputs"]]
            call.extra = _dict(c["extra"])
            self.calls.append(call)


def _merge_items(
    built: list[Any], items: Any, shape: Shape | None, where: str,
    check: Callable[[Any, Any, int], Problem | None], apply: Callable[[Any, Any], int],
    room: int, max_index: int,
) -> MergeResult:
    """The general path of both merges: the definition's shape, the checks against
    what was built (indices, types, ids), the size limit, then the merge."""
    if shape is not None:
        found = shape.problem(items, where)
        if found is not None:
            return Code.MALFORMED_EVENT, found
    problem = check(built, items, max_index)
    if problem is not None:
        return problem
    size = kept_size(items)
    if size > room:
        return OVER_LIMIT
    undo = _Undo(built)
    try:
        apply(built, items)
    except BaseException:
        undo.restore()  # applied whole or not at all, even when something is wrong here
        raise
    return size


class _Undo:
    """What the general merge may change in parts or calls, to put it back: it only
    appends fragments, parts, calls, outputs and logs, and edits annotations,
    outputs and payloads in place. Saving is bounded by ``max_index`` per item, so
    it stays linear."""

    __slots__ = ("built", "count", "items")

    def __init__(self, built: list[Any]) -> None:
        self.built = built
        self.count = len(built)
        self.items = [_save_part(x) if isinstance(x, Part) else _save_call(x) for x in built]

    def restore(self) -> None:
        del self.built[self.count:]
        for item, saved in zip(self.built, self.items, strict=True):
            if isinstance(item, Part):
                _restore_part(item, saved)
            else:
                _restore_call(item, saved)


def _save_part(p: Part) -> tuple[Any, ...]:
    return (len(p.chunks), p.size, {i: dict(a) for i, a in p.annotations.items()},
            dict(p.extra))


def _restore_part(p: Part, saved: tuple[Any, ...]) -> None:
    count, p.size, p.annotations, p.extra = saved
    del p.chunks[count:]


def _save_call(c: ToolCall) -> tuple[Any, ...]:
    return (len(c.chunks), c.size, c.id, c.name, c.output, [dict(o) for o in c._outputs],
            {i: len(v) for i, v in c._logs.items()}, dict(c.extra))


def _restore_call(c: ToolCall, saved: tuple[Any, ...]) -> None:
    count, c.size, c.id, c.name, c.output, c._outputs, logs, c.extra = saved
    del c.chunks[count:]
    c._logs = {i: v[:logs[i]] for i, v in c._logs.items() if i in logs}


def _str(value: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise TypeError(f"expected an index, got {value!r}"[:80])
    return value


def _dict(value: Any) -> JSON:
    if type(value) is not dict:
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return dict(value)


def kept_size(items: list[JSON]) -> int:
    """What merging ``items`` (content parts or tool calls of a delta) may add to a
    snapshot, in characters: every string kept (text, arguments, annotations, image
    payloads, names, outputs, logs) by its length, every other scalar as one. Indices
    and types are not kept as such and do not count. Limits compare this, so
    nothing a delta adds grows without bound."""
    size = 0
    for item in items:
        for key, value in item.items():
            if key != "index" and key != "type":
                size += _chars(value)
    return size


def _chars(value: Any) -> int:
    total = 0
    todo = [value]
    while todo:
        item = todo.pop()
        if type(item) is str:
            total += len(item)
        elif type(item) is dict:
            for key, val in item.items():
                total += len(key) if len(key) > 16 else 0  # a huge key counts too
                todo.append(val)
        elif type(item) is list:
            todo.extend(item)
        else:
            total += 1
    return total


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
