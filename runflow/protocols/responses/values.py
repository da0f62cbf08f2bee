"""What Responses deltas grow: one string value, and a text part's annotations.

A Responses delta is a string beside the indices that place it
(``{"type": "response.output_text.delta", "output_index": 0, "content_index": 0,
"delta": "Hel"}``), so the accumulator takes the event's whole data
(``EntityTable.delta_body = ""``). :class:`StreamedText` keeps the fragments in a
list and joins them once when read, so a value grown by n deltas costs O(n).

The interface is the one the engine knows (:class:`runflow.engine.accumulator.Accumulator`):
``merge``/``absorb``/``diverge``/``wire``/``save``/``restore``/``dump``/``load``.
"""

from __future__ import annotations

from typing import Any

from runflow.engine.accumulator import JSON, OVER_LIMIT, Difference, MergeResult
from runflow.engine.jsonparse import has_non_finite
from runflow.engine.shapes import Misfit, json_type
from runflow.engine.violations import Code

__all__ = ["OutputText", "StreamedText"]

_ABSENT = object()
_MESSAGE_VALUES = frozenset({"text", "refusal"})
"""The values a model writes for the reader (message text, refusals, reasoning and
its summaries); the others are tool input, bounded by ``max_tool_chars``."""


class StreamedText:
    """A string grown by ``delta`` fragments: a part's ``text``, a call's
    ``arguments``, ``code``, a patch's ``operation.diff``.

    ``key`` names the finished value in the event that ends it
    (``response.function_call_arguments.done`` -> ``arguments``); ``path`` is where
    the value sits in the entity's object (``("operation", "diff")``), by default
    ``(key,)``.
    """

    __slots__ = ("before", "chunks", "key", "limit", "path", "value")

    def __init__(self, key: str, path: tuple[str, ...] = ()) -> None:
        self.key = key
        self.path = path or (key,)
        self.limit = "max_message_chars" if key in _MESSAGE_VALUES else "max_tool_chars"
        """The :class:`runflow.Limits` field that bounds what deltas add: text and
        refusals count per message, a tool call's arguments, input, code, diff or
        command per call."""
        self.chunks: list[str] = []
        self.value: str | None = None
        """The joined value, cached until the next fragment."""
        self.before: str | None = None
        """The value as it stood before the last :meth:`absorb`: what a rule compares
        a final object with when no delta built the value (only a value event did,
        as LM Studio's function calls), which the engine's divergence check skips."""

    # -- the engine's interface ------------------------------------------ #
    def merge(self, data: JSON, room: int, max_index: int) -> MergeResult:
        delta = data.get("delta")
        if type(delta) is str:  # the fast path: every text or arguments delta
            size = len(delta)
            if size > room:
                return OVER_LIMIT
            self.chunks.append(delta)
            self.value = None
            return size
        return self._other(data, room, max_index)

    def _other(self, data: JSON, room: int, max_index: int) -> MergeResult:
        return (Code.MALFORMED_EVENT,
                Misfit(f"delta: expected a string, got {json_type(data.get('delta'))}", "delta"))

    @property
    def text(self) -> str:
        value = self.value
        if value is None:
            value = "".join(self.chunks)
            self.chunks = [value] if value else []
            self.value = value
        return value

    def save(self) -> Any:
        return (self.chunks, self.value)

    def restore(self, saved: Any) -> None:
        self.chunks, self.value = saved

    def value_in(self, obj: JSON) -> Any:
        """The finished value ``obj`` holds (absent: a sentinel that is no string)."""
        return self._theirs(obj)

    def _theirs(self, obj: JSON) -> Any:
        """The finished value in ``obj`` (an object, or the data of a value event)."""
        if self.key in obj and len(self.path) > 1:
            return obj[self.key]
        value: Any = obj
        for step in self.path:
            if type(value) is not dict or step not in value:
                return _ABSENT
            value = value[step]
        return value

    def absorb(self, obj: JSON) -> None:
        """The server's finished value replaces what deltas built (after
        :meth:`diverge` compared them); a missing or non-string one changes nothing."""
        self.before = self.text
        theirs = self._theirs(obj)
        if type(theirs) is str:
            self.chunks = [theirs] if theirs else []
            self.value = theirs

    def diverge(self, obj: JSON) -> list[Difference]:
        theirs = self._theirs(obj)
        ours = self.text
        if type(theirs) is str and theirs != ours:
            return [(".".join(self.path), ours, theirs)]
        return []

    def wire(self, raw: JSON) -> JSON:
        out = dict(raw)
        target = out
        for step in self.path[:-1]:
            inner = target.get(step)
            inner = dict(inner) if type(inner) is dict else {}
            target[step] = inner
            target = inner
        target[self.path[-1]] = self.text
        return out

    def disagrees(self, raw: JSON) -> str | None:
        return None

    def dump(self) -> JSON:
        return {"text": self.text}

    def load(self, data: JSON) -> None:
        text = data.get("text")
        if type(text) is not str:
            raise ValueError("text: expected a string")
        self.chunks = [text] if text else []
        self.value = text


class OutputText(StreamedText):
    """An ``output_text`` part: its text, and the annotations that
    ``response.output_text.annotation.added`` appends at ``annotation_index``."""

    __slots__ = ("annotations",)

    def __init__(self, key: str = "text") -> None:
        super().__init__(key)
        self.annotations: list[JSON] = []

    def _other(self, data: JSON, room: int, max_index: int) -> MergeResult:
        if "delta" in data or "annotation" not in data:
            return super()._other(data, room, max_index)
        annotation = data.get("annotation")
        index = data.get("annotation_index")
        if type(annotation) is not dict:
            return (Code.MALFORMED_EVENT,
                    Misfit(f"annotation: expected an object, got {json_type(annotation)}",
                           "annotation"))
        if type(index) is not int or not 0 <= index <= max_index:
            return (Code.MALFORMED_EVENT, Misfit("annotation_index: expected an index, got "
                                                 f"{json_type(index)}", "annotation_index"))
        if index != len(self.annotations):
            return (Code.CONTENT_INDEX_GAP,
                    f"annotation_index {index}, but the part has {len(self.annotations)} "
                    f"annotation(s); the next is {len(self.annotations)}")
        if has_non_finite(annotation):
            return (Code.MALFORMED_EVENT,
                    Misfit("annotation: a number is NaN or infinite", "annotation"))
        size = _size(annotation)
        if size > room:
            return OVER_LIMIT
        self.annotations = [*self.annotations, annotation]
        return size

    def save(self) -> Any:
        return (self.chunks, self.value, self.annotations)

    def restore(self, saved: Any) -> None:
        self.chunks, self.value, self.annotations = saved

    def absorb(self, obj: JSON) -> None:
        super().absorb(obj)
        theirs = obj.get("annotations")
        if type(theirs) is list:
            self.annotations = list(theirs)

    def wire(self, raw: JSON) -> JSON:
        out = super().wire(raw)
        if self.annotations or "annotations" in out:
            out["annotations"] = list(self.annotations)
        return out

    def dump(self) -> JSON:
        return {"text": self.text, "annotations": self.annotations}

    def load(self, data: JSON) -> None:
        super().load(data)
        annotations = data.get("annotations")
        if type(annotations) is not list or not all(type(a) is dict for a in annotations):
            raise ValueError("annotations: expected a list of objects")
        self.annotations = annotations


def _size(value: Any) -> int:
    """Characters a kept JSON value holds (keys and strings), for the limits."""
    if type(value) is str:
        return len(value)
    if type(value) is dict:
        return sum(len(k) + _size(v) for k, v in value.items())
    if type(value) is list:
        return sum(_size(v) for v in value)
    return 1
