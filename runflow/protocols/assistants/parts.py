"""What text and tool-call callbacks receive: small typed deltas and live snapshots.

The SDK hands its callbacks pydantic objects built per delta (about 30 µs each)
and re-dumps the whole snapshot every time. runflow's callbacks get a frozen
delta (the fragment that just arrived) and a *live view* of the part or call:
reading ``snapshot.value`` joins the fragments on demand, so a callback that does
not read it costs nothing. ``to_sdk()`` builds the SDK's own type when wanted.
A view reflects the current state: keep the values you need, not the view. What
a view returns is a copy: editing it changes nothing in the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from runflow.engine.accumulator import JSON
from runflow.engine.construct import clash_free, construct
from runflow.engine.entities import copy_of
from runflow.protocols.assistants.content import Part
from runflow.protocols.assistants.content import ToolCall as _Call

if TYPE_CHECKING:  # the SDK loads when to_sdk() is first called
    from openai.types.beta.threads import Text
    from openai.types.beta.threads.runs import ToolCall

__all__ = ["TextDelta", "TextSnapshot", "ToolCallDelta", "ToolCallSnapshot"]


@dataclass(slots=True)
class TextDelta:
    """One text fragment of a message content part. Treat it as read-only: it is
    not frozen only because one is made per delta, and a frozen dataclass costs
    about three times as much to build."""

    message_id: str
    index: int
    """The content part's index within its message."""
    value: str
    """The characters this delta added (may be empty, e.g. the first delta)."""
    annotations: tuple[JSON, ...]
    """Annotations that arrived with this delta (with their own ``index``)."""


class TextSnapshot:
    """A live view of one text content part of a message."""

    __slots__ = ("_part", "index", "message_id")

    def __init__(self, message_id: str, index: int, part: Part) -> None:
        self.message_id = message_id
        self.index = index
        self._part = part

    @property
    def value(self) -> str:
        """The text so far."""
        return self._part.value

    @property
    def annotations(self) -> list[JSON]:
        anns = self._part.annotations
        return [copy_of(anns[i]) for i in sorted(anns)]

    def to_sdk(self) -> Text:
        """The SDK's ``Text`` for this part, built now."""
        from openai.types.beta.threads import Text

        return construct(Text, copy_of(self._part.wire()["text"]))

    def __repr__(self) -> str:
        return f"TextSnapshot({self.message_id}[{self.index}], value={self.value!r})"


@dataclass(slots=True)
class ToolCallDelta:
    """One fragment of a tool call of a ``tool_calls`` step (read-only, see
    :class:`TextDelta`)."""

    step_id: str
    index: int
    type: str
    """``function``, ``code_interpreter`` or ``file_search``."""
    id: str | None
    name: str | None
    """The function name, when this delta carries it."""
    arguments: str
    """Function arguments or code_interpreter input this delta added."""
    outputs: tuple[JSON, ...]
    """code_interpreter outputs that arrived with this delta."""


class ToolCallSnapshot:
    """A live view of one tool call of a step."""

    __slots__ = ("_call", "index", "step_id")

    def __init__(self, step_id: str, index: int, call: _Call) -> None:
        self.step_id = step_id
        self.index = index
        self._call = call

    @property
    def id(self) -> str | None:
        return self._call.id

    @property
    def type(self) -> str:
        return self._call.type

    @property
    def name(self) -> str | None:
        """The function name (function calls only)."""
        return self._call.name

    @property
    def arguments(self) -> str:
        """Function arguments, or code_interpreter input, so far."""
        return self._call.text

    @property
    def output(self) -> Any:
        """The function output, once the step completed with it (a copy)."""
        return copy_of(self._call.output)

    @property
    def outputs(self) -> list[JSON]:
        """code_interpreter outputs (logs, images)."""
        return copy_of(self._call.outputs)  # type: ignore[no-any-return]

    def to_sdk(self) -> ToolCall:
        """The SDK's tool call type (function, code_interpreter or file_search)."""
        from openai._models import construct_type
        from openai.types.beta.threads.runs import ToolCall

        return cast(ToolCall, construct_type(type_=ToolCall,
                                             value=clash_free(copy_of(self._call.wire()))))

    def __repr__(self) -> str:
        return (
            f"ToolCallSnapshot({self.step_id}[{self.index}], {self.type} {self.id}, "
            f"arguments={self.arguments!r})"
        )
