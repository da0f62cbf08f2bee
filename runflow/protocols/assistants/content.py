"""Accumulators for what deltas build: message content parts and step tool calls.

Deltas are merged into these small plain objects, never into pydantic models:
appending a text fragment is a list append, so the work is linear in the bytes
received. Wire-shaped dicts (and from them the SDK's pydantic types) are built
only when a snapshot is asked for, and cached by the caller until the next change.

Every merge is split in two: ``check_*`` validates a whole delta without touching
anything and returns the problem, if any; ``apply_*`` then merges it. A rejected
delta therefore leaves the accumulators exactly as they were.
"""

from __future__ import annotations

from typing import Any

from runflow.engine.accumulator import JSON, Problem
from runflow.engine.jsonparse import has_non_finite
from runflow.engine.shapes import Misfit
from runflow.engine.violations import Code

__all__ = [
    "Fragments",
    "Part",
    "Problem",
    "ToolCall",
    "apply_content",
    "apply_tool_calls",
    "check_content",
    "check_tool_calls",
    "part_from_object",
    "tool_call_from_object",
]


class Fragments:
    """Text that grows by fragments: appended in O(1), joined once when read."""

    __slots__ = ("chunks", "size")

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.size = 0  # characters in chunks

    def add(self, fragment: str) -> int:
        """Append ``fragment``; return the characters added."""
        if fragment:
            self.chunks.append(fragment)
            self.size += len(fragment)
        return len(fragment)

    def reset(self, text: str) -> None:
        """Replace everything with ``text`` (a server's final value, a checkpoint)."""
        self.chunks = [text] if text else []
        self.size = len(text)

    def joined(self) -> str:
        chunks = self.chunks
        if len(chunks) > 1:  # compact once; later reads are O(1)
            chunks[:] = ["".join(chunks)]
        return chunks[0] if chunks else ""


class Part(Fragments):
    """One message content part: ``text``, ``refusal``, ``image_file``, ``image_url``...
    Its fragments are the text value or the refusal."""

    __slots__ = ("annotations", "extra", "type")

    def __init__(self, type_: str) -> None:
        super().__init__()
        self.type = type_
        self.annotations: dict[int, JSON] = {}
        self.extra: JSON = {}  # image_file / image_url payloads and unknown fields

    @property
    def value(self) -> str:
        return self.joined()

    def wire(self, index: int | None = None) -> JSON:
        """The part as the API sends it (``index`` only inside deltas)."""
        out: JSON = {"index": index} if index is not None else {}
        out["type"] = self.type
        if self.type == "text":
            anns = [self.annotations[i] for i in sorted(self.annotations)]
            out["text"] = {"value": self.value, "annotations": anns}
        elif self.type == "refusal":
            out["refusal"] = self.value
        out.update(self.extra)
        return out


class ToolCall(Fragments):
    """One tool call of a ``tool_calls`` step: function, code_interpreter, file_search.
    Its fragments are the function arguments or the code_interpreter input."""

    __slots__ = ("_logs", "_outputs", "extra", "id", "name", "output", "type")

    def __init__(self, type_: str) -> None:
        super().__init__()
        self.type = type_
        self.id: str | None = None
        self.name: str | None = None  # function name
        self.output: Any = None  # function output
        self._outputs: list[JSON] = []  # code_interpreter outputs (logs, image)
        self._logs: dict[int, list[str]] = {}  # output index -> logs fragments not joined yet
        self.extra: JSON = {}  # file_search payload and unknown fields

    @property
    def text(self) -> str:
        """Function arguments, or code_interpreter input, so far."""
        return self.joined()

    @property
    def outputs(self) -> list[JSON]:
        """code_interpreter outputs; logs that grew by fragments are joined once, here
        (appending to a string per delta would be quadratic)."""
        if self._logs:
            for idx, chunks in self._logs.items():
                self._outputs[idx]["logs"] = "".join(chunks)
            self._logs = {}
        return self._outputs

    @outputs.setter
    def outputs(self, value: list[JSON]) -> None:
        self._outputs = value
        self._logs = {}

    def add_logs(self, idx: int, fragment: str) -> None:
        chunks = self._logs.get(idx)
        if chunks is None:
            old = self._outputs[idx].get("logs")
            chunks = self._logs[idx] = [old] if isinstance(old, str) and old else []
        chunks.append(fragment)

    def wire(self, index: int | None = None) -> JSON:
        out: JSON = {"index": index} if index is not None else {}
        out["id"] = self.id
        out["type"] = self.type
        if self.type == "function":
            out["function"] = {"name": self.name, "arguments": self.text, "output": self.output}
        elif self.type == "code_interpreter":
            out["code_interpreter"] = {"input": self.text, "outputs": list(self.outputs)}
        else:
            out[self.type] = dict(self.extra)
        return out


# --------------------------------------------------------------------------- #
# message content
# --------------------------------------------------------------------------- #
_PARTS = "delta.content"


def _malformed(path: str, said: str) -> Problem:
    """A ``malformed_event`` naming the value at ``path`` (in the event's data) and
    what is wrong with it; the violation carries the path (a :class:`Misfit`)."""
    return Code.MALFORMED_EVENT, Misfit(f"{path} {said}", path)


def _indexed_problem(
    item: Any, prefix: str, n: int, end: int, max_index: int, owner: str, things: str
) -> Problem | None:
    """The checks every indexed delta item shares (content parts, tool calls): an
    object with an integer ``index`` no further than one past the end, below
    ``max_index``, and a string ``type``. The item's path (``prefix[n]``) is only
    formatted when there is a problem to report."""
    if not isinstance(item, dict):
        return _malformed(f"{prefix}[{n}]", "is not an object")
    index, type_ = item.get("index"), item.get("type")
    if type(index) is not int or index < 0:
        return _malformed(f"{prefix}[{n}].index", f"is {index!r}, not an index")
    if not isinstance(type_, str):
        return _malformed(f"{prefix}[{n}].type", f"is {type_!r}, not a string")
    if index > end:
        return Code.CONTENT_INDEX_GAP, (
            f"{prefix}[{n}] has index {index} but {owner} has {end} {things}; "
            f"the next index must be <= {end}"
        )
    if index >= max_index:
        return Code.LIMIT_EXCEEDED, f"{prefix}[{n}].index {index} exceeds the limit {max_index}"
    return None


def check_content(parts: list[Part], content: Any, max_index: int) -> Problem | None:
    """Validate ``delta.content`` against the parts built so far."""
    if not isinstance(content, list):
        return _malformed("delta.content", "is not a list")
    if has_non_finite(content):
        return _malformed("delta.content", "holds a NaN or infinite number")
    end = len(parts)
    added: dict[int, str] | None = None  # types of parts this delta adds
    for n, item in enumerate(content):
        problem = _indexed_problem(item, "delta.content", n, end, max_index, "the message",
                                   "part(s)")
        if problem is not None:
            return problem
        index, type_ = item["index"], item["type"]
        known = parts[index].type if index < len(parts) else (added or {}).get(index)
        if known is not None and known != type_:
            return Code.TYPE_CHANGE, (
                f"content part {index} changes type from {known!r} to {type_!r}"
            )
        if index == end:
            added = added if added is not None else {}
            added[index] = type_
            end += 1
        if type_ == "text":
            part = parts[index] if index < len(parts) else None
            problem = _check_text(item.get("text"), n, part, max_index)
            if problem:
                return problem
    return None


def _check_text(text: Any, n: int, part: Part | None, max_index: int) -> Problem | None:
    if text is None:
        return None
    if not isinstance(text, dict):
        return _malformed(f"{_PARTS}[{n}].text", "is not an object")
    value = text.get("value")
    if value is not None and not isinstance(value, str):
        return _malformed(f"{_PARTS}[{n}].text.value", "is not a string")
    anns = text.get("annotations")
    if anns is None:
        return None
    if not isinstance(anns, list):
        return _malformed(f"{_PARTS}[{n}].text.annotations", "is not a list")
    end = len(part.annotations) if part else 0
    for k, ann in enumerate(anns):
        if not isinstance(ann, dict):
            return _malformed(f"{_PARTS}[{n}].text.annotations[{k}]", "is not an object")
        idx = ann.get("index", end)
        if type(idx) is not int or idx < 0:
            return _malformed(f"{_PARTS}[{n}].text.annotations[{k}].index", f"is {idx!r}")
        if idx > end:
            return Code.CONTENT_INDEX_GAP, (
                f"{_PARTS}[{n}].text.annotations[{k}] has index {idx} but the part has {end} "
                "annotation(s)"
            )
        if idx >= max_index:
            return Code.LIMIT_EXCEEDED, (
                f"{_PARTS}[{n}].text.annotations[{k}].index {idx} exceeds the limit {max_index}"
            )
        if idx == end:
            end += 1
    return None


def apply_content(parts: list[Part], content: list[JSON]) -> int:
    """Merge a checked ``delta.content``; return the characters of text added."""
    added = 0
    for item in content:
        index = item["index"]
        type_ = item["type"]
        if index == len(parts):
            parts.append(Part(type_))
        part = parts[index]
        if type_ == "text":
            text = item.get("text")
            if text:
                value = text.get("value")
                if value:
                    added += part.add(value)
                anns = text.get("annotations")
                if anns:
                    for ann in anns:
                        idx = ann.get("index", len(part.annotations))
                        merged = part.annotations.setdefault(idx, {})
                        merged.update({k: v for k, v in ann.items() if k != "index"})
        elif type_ == "refusal":
            value = item.get("refusal")
            if isinstance(value, str):
                added += part.add(value)
        else:
            for key, val in item.items():
                if key not in ("index", "type"):
                    old = part.extra.get(key)
                    part.extra[key] = {**old, **val} if isinstance(old, dict) and isinstance(
                        val, dict
                    ) else val
    return added


def part_from_object(obj: JSON) -> Part:
    """A part as found in a full Message object (server's final word)."""
    part = Part(str(obj.get("type")))
    if part.type == "text":
        text = obj.get("text") or {}
        value = text.get("value") or ""
        part.reset(value)
        part.annotations = dict(enumerate(text.get("annotations") or []))
    elif part.type == "refusal":
        value = obj.get("refusal") or ""
        part.reset(value)
    else:
        part.extra = {k: v for k, v in obj.items() if k not in ("type", "index")}
    return part


# --------------------------------------------------------------------------- #
# step tool calls
# --------------------------------------------------------------------------- #
_CALLS = "delta.step_details.tool_calls"
_OUTS = "code_interpreter.outputs"


def check_tool_calls(calls: list[ToolCall], items: Any, max_index: int) -> Problem | None:
    """Validate ``delta.step_details.tool_calls`` against the calls built so far."""
    if not isinstance(items, list):
        return _malformed("delta.step_details.tool_calls", "is not a list")
    if has_non_finite(items):
        return _malformed("delta.step_details.tool_calls", "holds a NaN or infinite number")
    end = len(calls)
    added: dict[int, str] | None = None  # types of calls this delta adds
    for n, item in enumerate(items):
        problem = _indexed_problem(item, _CALLS, n, end, max_index, "the step", "tool call(s)")
        if problem is not None:
            return problem
        index, type_ = item["index"], item["type"]
        known: ToolCall | str | None = (calls[index] if index < len(calls)
                                        else (added or {}).get(index))
        known_type = known if isinstance(known, str) else known.type if known else None
        if known_type is not None and known_type != type_:
            return Code.TYPE_CHANGE, (
                f"tool call {index} changes type from {known_type!r} to {type_!r}"
            )
        call_id = item.get("id")
        if call_id is not None and not isinstance(call_id, str):
            return _malformed(f"{_CALLS}[{n}].id", "is not a string")
        if isinstance(known, ToolCall) and known.id and call_id and call_id != known.id:
            return Code.ID_CHANGE, f"tool call {index} changes id from {known.id!r} to {call_id!r}"
        body = item.get(type_)
        if body is not None and not isinstance(body, dict):
            return _malformed(f"{_CALLS}[{n}].{type_}", "is not an object")
        if type_ == "function" and body:
            for key in ("name", "arguments"):
                if body.get(key) is not None and not isinstance(body[key], str):
                    return _malformed(f"{_CALLS}[{n}].function.{key}", "is not a string")
        if type_ == "code_interpreter" and body:
            problem = _check_outputs(known, body, n, max_index)
            if problem:
                return problem
        if index == end:
            added = added if added is not None else {}
            added[index] = type_
            end += 1
    return None


def _check_outputs(
    known: ToolCall | str | None, body: JSON, n: int, max_index: int
) -> Problem | None:
    code_input = body.get("input")
    if code_input is not None and not isinstance(code_input, str):
        return _malformed(f"{_CALLS}[{n}].code_interpreter.input", "is not a string")
    outputs = body.get("outputs")
    if outputs is None:
        return None
    if not isinstance(outputs, list):
        return _malformed(f"{_CALLS}[{n}].code_interpreter.outputs", "is not a list")
    existing = known._outputs if isinstance(known, ToolCall) else []
    end = len(existing)
    for k, out in enumerate(outputs):
        if not isinstance(out, dict):
            return _malformed(f"{_CALLS}[{n}].{_OUTS}[{k}]", "is not an object")
        idx = out.get("index", end)
        if type(idx) is not int or idx < 0:
            return _malformed(f"{_CALLS}[{n}].{_OUTS}[{k}].index", f"is {idx!r}")
        for key in ("type", "logs"):
            if out.get(key) is not None and type(out[key]) is not str:
                return _malformed(f"{_CALLS}[{n}].{_OUTS}[{k}].{key}", "is not a string")
        if idx > end:
            return Code.CONTENT_INDEX_GAP, (
                f"{_CALLS}[{n}].{_OUTS}[{k}] has index {idx} but the call has {end} output(s)")
        if idx >= max_index:
            return Code.LIMIT_EXCEEDED, (
                f"{_CALLS}[{n}].{_OUTS}[{k}].index {idx} exceeds the limit {max_index}")
        if idx < len(existing) and out.get("type") not in (None, existing[idx].get("type")):
            return Code.TYPE_CHANGE, (
                f"code_interpreter output {idx} changes type from "
                f"{existing[idx].get('type')!r} to {out.get('type')!r}"
            )
        if idx == end:
            end += 1
    return None


def apply_tool_calls(calls: list[ToolCall], items: list[JSON]) -> int:
    """Merge checked tool call deltas; return the characters of text added."""
    added = 0
    for item in items:
        index = item["index"]
        type_ = item["type"]
        if index == len(calls):
            calls.append(ToolCall(type_))
        call = calls[index]
        if item.get("id"):
            call.id = item["id"]
        body = item.get(type_)
        if not body:
            continue
        if type_ == "function":
            if body.get("name"):
                call.name = body["name"]
            args = body.get("arguments")
            if args:
                added += call.add(args)
            if body.get("output") is not None:
                call.output = body["output"]
        elif type_ == "code_interpreter":
            code_input = body.get("input")
            if code_input:
                added += call.add(code_input)
            for out in body.get("outputs") or ():
                count = len(call._outputs)
                idx = out.get("index", count)
                entry = {k: v for k, v in out.items() if k != "index"}
                if idx == count:
                    call._outputs.append(entry)
                elif entry.get("type") == "logs" and "logs" in entry:
                    call.add_logs(idx, entry["logs"])
                else:
                    call.outputs[idx].update(entry)
        else:
            call.extra.update(body)
    return added


def tool_call_from_object(obj: JSON) -> ToolCall:
    """A tool call as found in a full RunStep object (server's final word)."""
    call = ToolCall(str(obj.get("type")))
    call.id = obj.get("id")
    body = obj.get(call.type) or {}
    if call.type == "function":
        call.name = body.get("name")
        args = body.get("arguments") or ""
        call.reset(args)
        call.output = body.get("output")
    elif call.type == "code_interpreter":
        code_input = body.get("input") or ""
        call.reset(code_input)
        call.outputs = [dict(o) for o in body.get("outputs") or ()]
    else:
        call.extra = dict(body)
    return call

