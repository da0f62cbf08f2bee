"""``ResponseFlow``: the Responses API stream on the engine, with its read API and
callbacks.

The engine (:class:`runflow.engine.flow.Flow`) runs the Responses definition
(:data:`runflow.protocols.responses.definition.RESPONSES`); this module puts
together what a user of that protocol reads
(:class:`~runflow.protocols.responses.view.ResponseView`: ``response``, ``output``,
``text``, ``function_calls``) and registers
(:class:`~runflow.protocols.responses.callbacks.ResponseCallbacks`: ``on_response``,
``on_item``, ``on_part``, ``on_text_delta``, ``on_arguments_delta``). The names
those modules define are importable from here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from runflow.engine.definition import Protocol
from runflow.engine.entities import Tracker
from runflow.engine.flow import Flow
from runflow.engine.profiles import Profile
from runflow.protocols.profiles import PROFILES
from runflow.protocols.responses.callbacks import (
    ItemKind,
    ItemState,
    PartKind,
    PartState,
    ResponseCallbacks,
    ResponseState,
    ValueDelta,
)
from runflow.protocols.responses.definition import ITEM_KINDS, RESPONSES
from runflow.protocols.responses.view import ResponseView, UnknownItem

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
