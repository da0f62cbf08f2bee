"""The Responses read API: the response, its output items, their values.

Snapshots are the openai SDK's own types: :attr:`ResponseView.response` is a
``Response`` whose ``output`` is rebuilt from the streamed items in
``output_index`` order (an item still streaming shows the text and arguments its
deltas built so far), :attr:`ResponseView.output` its items. They are built on
access, in time linear in what arrived, and cached until the next event (a
finished item's model until its object changes); treat them as read-only. How the
SDK's types are built, part by part: :mod:`runflow.protocols.responses.typed`.
Built on the engine's read interface (:attr:`runflow.engine.view.FlowView.state`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel

from runflow.engine.entities import Tracker
from runflow.engine.view import FlowView
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.slots import items_now, parts, streamed_items
from runflow.protocols.responses.typed import UnknownItem, item_model, typed_model
from runflow.protocols.responses.values import StreamedText

if TYPE_CHECKING:  # the SDK loads when a typed object is first built, not to check a stream
    from openai.types.responses import Response, ResponseFunctionToolCall

__all__ = ["ResponseView", "UnknownItem", "slot_indices"]


_ITEM_TERMINAL = RESPONSES.tables["message"].terminal
_PART_GROUPS = (("content", "content"), ("summary", "summary"))


def slot_indices(slot: str) -> list[int]:
    """The indices of a positioned entity's slot: ``"content/2/0"`` -> ``[2, 0]``."""
    return [int(i) for i in slot.split("/")[1:]]


@cache
def _response_class() -> type[Response]:
    """The SDK's ``Response``, imported on the first read (not to check a stream)."""
    from openai.types.responses import Response

    return Response


def _text(tracker: Tracker) -> str:
    return cast(StreamedText, tracker.acc).text


def _final(tracker: Tracker) -> dict[str, Any]:
    """A finished entity's (or the response's) object as the SDK type is built from it:
    ``tracker.wire()``, or the server's object itself when that would be a plain copy
    (no accumulator, no status override): typing reads it and never writes to it."""
    raw = tracker.raw
    if tracker.acc is None and tracker.status_override is None and type(raw) is dict:
        return raw
    return tracker.wire()


class ResponseView(FlowView):
    """The Responses read API: the response, its output items, their values."""

    _cache: tuple[int, Response] | None = None
    _items_cache: dict[Tracker, tuple[Any, str | None, BaseModel]] | None = None
    """Finished items' models, by tracker: (the object they were built from, its
    status override, the model)."""

    def _items(self) -> Iterator[Tracker]:
        return iter(streamed_items(self.state))

    def _parts(self, group: str, index: int) -> Iterator[Tracker]:
        return iter(parts(self.state, group, index))

    def _item_wire(self, item: Tracker) -> dict[str, Any]:
        """An item as the API lays it out: its last object, with what its deltas and
        parts built while it streams (the server's final object once it is done)."""
        if item.state in _ITEM_TERMINAL:
            return _final(item)
        out = item.wire()
        index = slot_indices(item.slot or "output/0")[0]
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
        # the class the item's type names, validated; else built part by part
        return item_model(wire)

    def _done_item(self, item: Tracker) -> BaseModel:
        """An item's model; a finished item's is kept until its object changes (the
        server's final object never changes again, but for recovery)."""
        if item.state not in _ITEM_TERMINAL:
            return self._item_model(self._item_wire(item))
        cache = self._items_cache
        if cache is None:
            cache = self._items_cache = {}
        found = cache.get(item)
        raw, override = item.raw, item.status_override
        if found is not None and found[0] is raw and found[1] == override:
            return found[2]
        model = self._item_model(_final(item))
        cache[item] = (raw, override, model)
        return model

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
        output = [self._done_item(item) for item in items_now(self.state)]
        return cast("Response", typed_model(_response_class(), _final(root), {"output": output}))

    @property
    def output(self) -> list[BaseModel]:
        """The output items, in ``output_index`` order, as the SDK's item types."""
        return [self._done_item(item) for item in self._items()]

    def item(self, item_id: str) -> BaseModel:
        """One output item by id; ``KeyError`` if the flow never saw it."""
        for item in self._items():
            if item.id == item_id or item.owner == item_id:
                return self._done_item(item)
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
            index = slot_indices(item.slot or "output/0")[0]
            text = "".join(_text(p) for p in self._parts("content", index)
                           if p.entity == "output_text")
            if text:
                out.append(text)
        return "\n\n".join(out)

    @property
    def function_calls(self) -> list[ResponseFunctionToolCall]:
        """The function calls the response asked for, once each is completed (what a
        caller answers with ``function_call_output`` items)."""
        from openai.types.responses import ResponseFunctionToolCall

        calls = []
        for item in self._items():
            if item.entity == "function_call" and item.state == "completed":
                model = self._done_item(item)
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
