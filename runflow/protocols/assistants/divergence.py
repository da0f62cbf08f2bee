"""Compare what the deltas built with the server's final object.

At ``thread.message.completed|incomplete`` and ``thread.run.step.completed|failed|
cancelled|expired`` the server sends the finished object. When the flow has merged
deltas for that entity, the rebuilt snapshot must agree with it on the fields that
deltas carry. Each difference is reported with its field path and both values.
Only these fields are compared (the rest is metadata deltas never carry):

* message: part types, text values, annotations (count, kinds, ranges);
* step: tool call count, ids, types, function names and arguments, code input,
  and code_interpreter outputs (count, types, logs text, image file ids).
"""

from __future__ import annotations

from runflow.engine.accumulator import JSON, MISSING, Difference, shorten
from runflow.protocols.assistants.content import (
    Part,
    ToolCall,
    part_from_object,
    tool_call_from_object,
)

__all__ = ["MISSING", "Difference", "diff_message", "diff_step", "shorten"]


def _given(value: str) -> str:
    """An empty server value means the server omitted it: the rebuilt one is kept
    (see :func:`runflow.engine.entities.merge_server_object`)."""
    return value if value else MISSING


def diff_message(parts: list[Part], obj: JSON) -> list[Difference]:
    content = obj.get("content")
    if not isinstance(content, list):
        return [("content", f"{len(parts)} part(s)", MISSING)]
    theirs = [part_from_object(p) for p in content if isinstance(p, dict)]
    out: list[Difference] = []
    for i in range(max(len(parts), len(theirs))):
        mine = parts[i] if i < len(parts) else None
        other = theirs[i] if i < len(theirs) else None
        path = f"content[{i}]"
        if mine is None or other is None or mine.type != other.type:
            out.append((f"{path}.type", mine.type if mine else MISSING,
                        other.type if other else MISSING))
            continue
        if mine.type == "text":
            if mine.value != other.value:
                out.append((f"{path}.text.value", mine.value, _given(other.value)))
            out.extend(_diff_annotations(path, mine, other))
        elif mine.type == "refusal" and mine.value != other.value:
            out.append((f"{path}.refusal", mine.value, other.value))
    return out


def _diff_annotations(path: str, mine: Part, other: Part) -> list[Difference]:
    a = [mine.annotations[k] for k in sorted(mine.annotations)]
    b = [other.annotations[k] for k in sorted(other.annotations)]
    where = f"{path}.text.annotations"
    if len(a) != len(b):
        return [(f"{where}.length", len(a), len(b))]
    out: list[Difference] = []
    for j, (x, y) in enumerate(zip(a, b, strict=True)):
        for key in ("type", "start_index", "end_index"):
            if x.get(key) != y.get(key):
                out.append((f"{where}[{j}].{key}", x.get(key), y.get(key)))
    return out


def _diff_outputs(where: str, mine: ToolCall, other: ToolCall) -> list[Difference]:
    a, b = mine.outputs, other.outputs
    if len(a) != len(b):
        return [(f"{where}.length", len(a), len(b))]
    out: list[Difference] = []
    for j, (x, y) in enumerate(zip(a, b, strict=True)):
        if x.get("type") != y.get("type"):
            out.append((f"{where}[{j}].type", x.get("type"), y.get("type")))
        elif x.get("type") == "logs" and x.get("logs") != y.get("logs"):
            out.append((f"{where}[{j}].logs", x.get("logs"), y.get("logs")))
        elif x.get("type") == "image" and _file_id(x) != _file_id(y):
            out.append((f"{where}[{j}].image.file_id", _file_id(x), _file_id(y)))
    return out


def _file_id(output: JSON) -> object:
    image = output.get("image")
    return image.get("file_id") if isinstance(image, dict) else None


def diff_step(calls: list[ToolCall], obj: JSON) -> list[Difference]:
    details = obj.get("step_details")
    if not isinstance(details, dict) or details.get("type") != "tool_calls":
        return []
    items = details.get("tool_calls")
    if not isinstance(items, list):
        return [("step_details.tool_calls", f"{len(calls)} call(s)", MISSING)]
    theirs = [tool_call_from_object(c) for c in items if isinstance(c, dict)]
    out: list[Difference] = []
    base = "step_details.tool_calls"
    if len(calls) != len(theirs):
        out.append((f"{base}.length", len(calls), len(theirs)))
    for i, (mine, other) in enumerate(zip(calls, theirs, strict=False)):
        path = f"{base}[{i}]"
        if mine.type != other.type:
            out.append((f"{path}.type", mine.type, other.type))
            continue
        if mine.id != other.id:
            out.append((f"{path}.id", mine.id, other.id))
        if mine.type == "function":
            if mine.name != other.name:
                out.append((f"{path}.function.name", mine.name, other.name))
            if mine.text != other.text:
                out.append((f"{path}.function.arguments", mine.text, _given(other.text)))
        elif mine.type == "code_interpreter":
            if mine.text != other.text:
                out.append((f"{path}.code_interpreter.input", mine.text, _given(other.text)))
            if other.outputs:  # an empty list: the server omitted them, ours are kept
                out.extend(_diff_outputs(f"{path}.code_interpreter.outputs", mine, other))
    return out
