"""The Responses callbacks, typed: enter callbacks by response, item and part, and
value deltas.

* enter callbacks: ``on_response("completed")``, ``on_item("function_call",
  "completed")``, ``on_part("output_text", "done")``, their ``Literal`` s checked
  against the definition's tables at import;
* value-delta callbacks: ``on_text_delta`` (output text, refusal, reasoning text
  and summaries) and ``on_arguments_delta`` (function, custom tool and MCP call
  arguments), each given a :class:`ValueDelta`, queued by :class:`ResponseHooks`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, get_args

from runflow.engine.accumulator import JSON
from runflow.engine.callbacks import Callbacks, Result
from runflow.engine.definition import Protocol, ProtocolDefinitionError
from runflow.engine.entities import Tracker
from runflow.engine.hooks import AnyCallback, Hooks
from runflow.engine.state import FlowState
from runflow.protocols.responses.definition import CONTENT_KINDS, ITEM_KINDS, RESPONSES
from runflow.protocols.responses.values import StreamedText
from runflow.protocols.responses.view import slot_indices

if TYPE_CHECKING:  # the SDK's types load when a snapshot is built, not to check a stream
    from openai.types.responses import Response

__all__ = [
    "ARGUMENT_KINDS",
    "TEXT_KINDS",
    "ItemKind",
    "ItemState",
    "PartKind",
    "PartState",
    "ResponseCallbacks",
    "ResponseHooks",
    "ResponseState",
    "ValueDelta",
    "check_literals",
]

ResponseState = Literal["queued", "in_progress", "completed", "incomplete", "failed",
                        "cancelled"]
ItemKind = Literal[
    "message", "reasoning", "function_call", "custom_tool_call", "apply_patch_call",
    "web_search_call", "file_search_call", "image_generation_call",
    "code_interpreter_call", "mcp_call", "mcp_list_tools", "shell_call",
    "shell_call_output", "compaction", "tool_search_call", "tool_search_output", "item",
]
ItemState = Literal["in_progress", "searching", "generating", "interpreting", "code_done",
                    "arguments_done", "input_done", "diff_done", "finished", "completed",
                    "incomplete", "failed"]
PartKind = Literal["output_text", "refusal", "reasoning_text", "content_part",
                   "summary_text", "shell_command"]
PartState = Literal["in_progress", "text_done", "done"]

TEXT_KINDS = frozenset({"output_text", "refusal", "reasoning_text", "summary_text"})
"""Parts whose deltas :meth:`ResponseFlow.on_text_delta` reports."""
ARGUMENT_KINDS = frozenset({"function_call", "mcp_call", "custom_tool_call"})
"""Items whose deltas :meth:`ResponseFlow.on_arguments_delta` reports."""


def check_literals(protocol: Protocol = RESPONSES) -> None:
    """The ``Literal`` s above exist for type checkers; the tables rule. Raise
    :class:`ProtocolDefinitionError` where they disagree."""
    tables = protocol.tables
    problems = []
    kinds = {"item": (ItemKind, ItemState, ITEM_KINDS),
             "part": (PartKind, PartState, (*CONTENT_KINDS, "summary_text", "shell_command"))}
    for name, (kind_literal, state_literal, actual_kinds) in kinds.items():
        if set(get_args(kind_literal)) != set(actual_kinds):
            problems.append(f"{name.capitalize()}Kind is not {sorted(actual_kinds)}")
        states = {s for k in actual_kinds for s in tables[k].states if s != tables[k].initial}
        if set(get_args(state_literal)) != states:
            problems.append(f"{name.capitalize()}State is not {sorted(states)}")
    root = tables[protocol.root]
    if set(get_args(ResponseState)) != set(root.states) - {root.initial}:
        problems.append("ResponseState differs from the response table")
    if problems:
        raise ProtocolDefinitionError("callback literals disagree with the Responses "
                                      "definition:\n" + "\n".join(f"  - {p}" for p in problems))


check_literals()


@dataclass(frozen=True, slots=True)
class ValueDelta:
    """One merged delta of a streamed value: what it added and where.

    Frozen down to the leaves: every field is a ``str``, an ``int`` or None, so a
    callback cannot change the flow through it. The value so far is read through a
    private reference to its accumulator, joined only when :attr:`text` is read.
    """

    delta: str
    """The fragment."""
    kind: str
    """The entity that grew: ``output_text``, ``summary_text``, ``function_call``..."""
    item_id: str
    """The item the value belongs to."""
    output_index: int
    index: int | None
    """The part's ``content_index`` / ``summary_index``; None for an item's own value."""
    _value: StreamedText = field(repr=False, compare=False)
    """Where the value so far is read from (see :attr:`text`); not the flow's to hand
    out, so private."""

    @property
    def text(self) -> str:
        """The whole value so far (joined once per read: read it sparingly)."""
        return self._value.text


ResponseCb = TypeVar("ResponseCb", bound="Callable[[Response], Result]")
ItemCb = TypeVar("ItemCb", bound=Callable[[Any], Result])
PartCb = TypeVar("PartCb", bound=Callable[[dict[str, Any]], Result])
DeltaCb = TypeVar("DeltaCb", bound=Callable[[ValueDelta], Result])


class ResponseHooks(Hooks):
    """The engine's hooks plus the Responses value deltas: the callbacks told of
    each delta merged into an entity of a kind, each given a :class:`ValueDelta`."""

    __slots__ = ("value_delta",)

    def __init__(self, snapshot: Callable[[Tracker], Any] = Tracker.snapshot) -> None:
        super().__init__(snapshot)
        self.value_delta: dict[str, list[AnyCallback]] = {}
        """Entity kind -> callbacks told of each delta merged into it."""

    def delta(self, flow: FlowState, tracker: Tracker, delta: JSON) -> None:
        told = self.value_delta.get(tracker.entity)
        if told is not None:
            indices = slot_indices(tracker.slot or "output/0")
            fragment = delta.get("delta")
            value = ValueDelta(
                delta=fragment if type(fragment) is str else "", kind=tracker.entity,
                item_id=tracker.owner or "",
                output_index=indices[0], index=indices[1] if len(indices) > 1 else None,
                _value=cast(StreamedText, tracker.acc))
            for cb in told:
                self.pending.append((cb, (value,)))


class ResponseCallbacks(Callbacks):
    """The Responses callbacks."""

    def registry(self) -> ResponseHooks:
        """The flow's callback registry, with the value-delta callbacks."""
        return cast(ResponseHooks, super().registry())  # made by new_registry below

    def new_registry(self) -> Hooks:
        return ResponseHooks(self._snapshot_of)

    def on_response(self, state: ResponseState) -> Callable[[ResponseCb], ResponseCb]:
        """Call the decorated function with the rebuilt ``Response`` when the response
        enters ``state``."""
        return self._on_enter(self.protocol.root, state)

    def on_item(self, kind: ItemKind, state: ItemState) -> Callable[[ItemCb], ItemCb]:
        """Call the decorated function with the item (the SDK's type for ``kind``)
        when an item of ``kind`` enters ``state``."""
        return self._on_enter(kind, state)

    def on_part(self, kind: PartKind, state: PartState) -> Callable[[PartCb], PartCb]:
        """Call the decorated function with the part as a dict (``{"type":
        "output_text", "text": ...}``) when a part of ``kind`` enters ``state``."""
        return self._on_enter(kind, state)

    def on_text_delta(self, cb: DeltaCb) -> DeltaCb:
        """Call ``cb(delta)`` for each text delta merged (output text, refusal,
        reasoning text, reasoning summaries)."""
        hooks = self.registry()
        for kind in sorted(TEXT_KINDS):
            hooks.value_delta.setdefault(kind, []).append(cb)
        return cb

    def on_arguments_delta(self, cb: DeltaCb) -> DeltaCb:
        """Call ``cb(delta)`` for each arguments delta merged (function, custom tool
        and MCP calls)."""
        hooks = self.registry()
        for kind in sorted(ARGUMENT_KINDS):
            hooks.value_delta.setdefault(kind, []).append(cb)
        return cb
