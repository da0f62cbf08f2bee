"""``ResponseFlow``: the Responses API stream on the engine, with its read API and
callbacks.

The engine (:class:`runflow.engine.flow.Flow`) runs the Responses definition
(:data:`runflow.protocols.responses.definition.RESPONSES`); this module adds what a user of
that protocol reads and registers:

* snapshots as the openai SDK's own types: :attr:`ResponseFlow.response` is a
  ``Response`` whose ``output`` is rebuilt from the streamed items in
  ``output_index`` order (an item still streaming shows the text and arguments
  its deltas built so far), :attr:`ResponseFlow.output` its items;
* enter callbacks: ``on_response("completed")``, ``on_item("function_call",
  "completed")``, ``on_part("output_text", "done")``;
* value-delta callbacks: ``on_text_delta`` (output text, refusal, reasoning text
  and summaries) and ``on_arguments_delta`` (function and MCP call arguments),
  each given a :class:`ValueDelta`.

Snapshots are built on access, in time linear in what arrived, and cached until
the next event; treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar, cast, get_args

from openai._models import construct_type
from openai.types.responses import Response, ResponseFunctionToolCall, ResponseOutputItem
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from runflow.engine.accumulator import JSON
from runflow.engine.callbacks import Callbacks, Result
from runflow.engine.definition import Protocol, ProtocolDefinitionError
from runflow.engine.entities import Tracker, copy_of
from runflow.engine.flow import Flow
from runflow.engine.hooks import AnyCallback, Hooks
from runflow.engine.profiles import Profile
from runflow.engine.state import FlowState
from runflow.engine.view import FlowView
from runflow.protocols.profiles import PROFILES
from runflow.protocols.responses.definition import CONTENT_KINDS, ITEM_KINDS, RESPONSES
from runflow.protocols.responses.values import StreamedText

__all__ = [
    "ItemKind",
    "ItemState",
    "PartKind",
    "PartState",
    "ResponseFlow",
    "ResponseState",
    "UnknownItem",
    "ValueDelta",
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


class UnknownItem(BaseModel):
    """An output item of a type the openai SDK does not know, as the server sent it."""

    model_config = ConfigDict(extra="allow")

    type: str
    id: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class ValueDelta:
    """One merged delta of a streamed value: what it added and where."""

    delta: str
    """The fragment."""
    kind: str
    """The entity that grew: ``output_text``, ``summary_text``, ``function_call``..."""
    item_id: str
    """The item the value belongs to."""
    output_index: int
    index: int | None
    """The part's ``content_index`` / ``summary_index``; None for an item's own value."""
    tracker: Any
    """Where the value so far is read from (see :attr:`text`)."""

    @property
    def text(self) -> str:
        """The whole value so far (joined once per read: read it sparingly)."""
        return cast(StreamedText, self.tracker.acc).text


_ITEMS: TypeAdapter[Any] = TypeAdapter(ResponseOutputItem)
_KNOWN_ITEM_TYPES = frozenset(
    get_args(model.model_fields["type"].annotation)[0]
    for model in get_args(get_args(ResponseOutputItem)[0]))
_ITEM_TERMINAL = RESPONSES.tables["message"].terminal
_PART_GROUPS = (("content", "content"), ("summary", "summary"))

ResponseCb = TypeVar("ResponseCb", bound=Callable[[Response], Result])
ItemCb = TypeVar("ItemCb", bound=Callable[[Any], Result])
PartCb = TypeVar("PartCb", bound=Callable[[dict[str, Any]], Result])
DeltaCb = TypeVar("DeltaCb", bound=Callable[[ValueDelta], Result])


def _indices(slot: str) -> list[int]:
    return [int(i) for i in slot.split("/")[1:]]


def _text(tracker: Tracker) -> str:
    return cast(StreamedText, tracker.acc).text


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
            indices = _indices(tracker.slot or "output/0")
            value = ValueDelta(
                delta=delta.get("delta", ""), kind=tracker.entity, item_id=tracker.owner or "",
                output_index=indices[0], index=indices[1] if len(indices) > 1 else None,
                tracker=tracker)
            for cb in told:
                self.pending.append((cb, (value,)))


class ResponseView(FlowView):
    """The Responses read API: the response, its output items, their values."""

    _cache: tuple[int, Response] | None = None

    def _tracker_at(self, key: str) -> Tracker | None:
        state = self.state
        found = state.slots.get(key)
        return state.children[found[0]].get(found[1]) if found is not None else None

    def _items(self) -> Iterator[Tracker]:
        i = 0
        while (item := self._tracker_at(f"output/{i}")) is not None:
            yield item
            i += 1

    def _parts(self, group: str, index: int) -> Iterator[Tracker]:
        j = 0
        while (part := self._tracker_at(f"{group}/{index}/{j}")) is not None:
            yield part
            j += 1

    def _item_wire(self, item: Tracker) -> dict[str, Any]:
        """An item as the API lays it out: its last object, with what its deltas and
        parts built while it streams (the server's final object once it is done)."""
        out = item.wire()
        if item.state in _ITEM_TERMINAL:
            return out
        index = _indices(item.slot or "output/0")[0]
        for group, key in _PART_GROUPS:
            parts = [p.wire(None) for p in self._parts(group, index)]
            if parts:
                out[key] = parts
        commands = [_text(c) for c in self._parts("command", index)]
        if commands:
            action = dict(out.get("action") or {})
            action["commands"] = commands
            out["action"] = action
        return out

    def _item_model(self, wire: dict[str, Any]) -> BaseModel:
        try:
            return cast(BaseModel, _ITEMS.validate_python(wire))
        except ValidationError:
            if wire.get("type") not in _KNOWN_ITEM_TYPES:
                return UnknownItem.model_validate(copy_of(wire))
            # the SDK's own lenient builder, as for API responses that omit fields
            return cast(BaseModel, construct_type(value=copy_of(wire), type_=ResponseOutputItem))

    @property
    def response(self) -> Response | None:
        """The response, rebuilt: the server's last Response object with ``output``
        made of the streamed items in order (None before any response event)."""
        root = self.state.root
        if root is None:
            return None
        stamp = self.state.index
        if self._cache is not None and self._cache[0] == stamp:
            return self._cache[1]
        typed = self._build_response(root)
        self._cache = (stamp, typed)
        return typed

    def _build_response(self, root: Tracker) -> Response:
        wire = root.wire()
        wire["output"] = [self._item_wire(item) for item in self._items()]
        try:
            return Response.model_validate(wire)
        except ValidationError:
            return Response.construct(**copy_of(wire))

    @property
    def output(self) -> list[BaseModel]:
        """The output items, in ``output_index`` order, as the SDK's item types."""
        return [self._item_model(self._item_wire(item)) for item in self._items()]

    def item(self, item_id: str) -> BaseModel:
        """One output item by id; ``KeyError`` if the flow never saw it."""
        for item in self._items():
            if item.id == item_id or item.owner == item_id:
                return self._item_model(self._item_wire(item))
        raise KeyError(f"no output item {item_id!r} in this flow")

    def item_state(self, item_id: str) -> str:
        """An item's state by id (``"unseen"`` if the flow never saw it)."""
        for item in self._items():
            if item.id == item_id:
                return item.state
        return "unseen"

    @property
    def item_states(self) -> list[tuple[str, str, str]]:
        """``(kind, id, state)`` of every item, in ``output_index`` order."""
        return [(item.entity, item.id, item.state) for item in self._items()]

    @property
    def status(self) -> str:
        """The response's state (``"unseen"`` before its first event)."""
        return self.root_state

    @property
    def response_id(self) -> str | None:
        return self.state.root_id

    @property
    def text(self) -> str:
        """The output text so far: each message's output_text parts joined, messages
        separated by a blank line."""
        out = []
        for item in self._items():
            if item.entity != "message":
                continue
            index = _indices(item.slot or "output/0")[0]
            text = "".join(_text(p) for p in self._parts("content", index)
                           if p.entity == "output_text")
            if text:
                out.append(text)
        return "\n\n".join(out)

    @property
    def function_calls(self) -> list[ResponseFunctionToolCall]:
        """The function calls the response asked for, once each is completed (what a
        caller answers with ``function_call_output`` items)."""
        calls = []
        for item in self._items():
            if item.entity == "function_call" and item.state == "completed":
                model = self._item_model(self._item_wire(item))
                if isinstance(model, ResponseFunctionToolCall):
                    calls.append(model)
        return calls

    @property
    def replayed(self) -> int:
        """Events dropped because their sequence number was not past the last one
        (a resumed stream replaying what the flow already had)."""
        return self.state.replayed

    @property
    def sequence_number(self) -> int | None:
        """The last sequence number accepted: the cursor to resume after
        (``starting_after``)."""
        return self.state.sequence


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


class ResponseFlow(Flow, ResponseView, ResponseCallbacks):
    """Validate and reconstruct one response from its Responses API stream events.

    ``feed`` takes SDK events (``ResponseStreamEvent``), dicts (``{"type": ...}``) or
    ``{"event": name, "data": ...}``; ``feed_sse`` raw bytes; ``close`` ends the
    input. Everything else is as for :class:`runflow.RunFlow`: violations as data,
    ``strict``, limits, checkpoints (:meth:`to_json` / :meth:`from_json`).
    """

    default_protocol: ClassVar[Protocol | None] = RESPONSES
    profiles: ClassVar[Mapping[str, Profile]] = PROFILES

    def _snapshot_of(self, tracker: Tracker) -> Any:
        if tracker.entity == self.protocol.root:
            return self._build_response(tracker)  # not the cached one: a callback may edit it
        if tracker.entity in ITEM_KINDS:
            return self._item_model(self._item_wire(tracker))
        return tracker.wire(None)
