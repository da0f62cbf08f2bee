"""Stored responses: each one's scripted event log, published lazily, and its REST view.

A response's whole stream is scripted when it is created
(:mod:`.responses_scenarios`); :class:`StoredResponse` *publishes* it one event
at a time, applying each to the snapshot that ``GET /v1/responses/{id}`` shows
(:data:`ACCUMULATE`), so REST always agrees with what a stream has shown so far.
Published events are kept, so a stream can start after any ``sequence_number``:
it replays what was published and then publishes the rest itself, live. Every
reader pulls from the same log, so two streams of one response carry equal events.

A response created over WebSocket mode is stored *live* (:meth:`ResponseStore.live`):
its events are not scripted here but written (:meth:`StoredResponse.write`) as the
connection sends them, so ``GET`` shows it ``in_progress`` with its output so far, as
the real service shows a response while it runs; it is finished when a terminal event
(or the connection, :meth:`StoredResponse.close`) ends it.

Time does not pass in the test server: a background response that no stream is
reading stays ``queued`` until it is read -- a ``GET`` runs it to its end, a
stream runs it as fast as it is written -- or cancelled. A stream the client
leaves is still drained (see :mod:`.streaming`), so the response ends server-side.

All access is under one lock: tests read from their own thread while the server
thread writes.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from typing import Any

from runflow.protocols.responses.definition import RESPONSES
from runflow.server.errors import ApiError
from runflow.server.scenarios import CannotCancel
from runflow.server.sse import Frame, encode_event
from runflow.server.store import JSON

__all__ = ["ACCUMULATE", "TERMINAL", "ResponseStore", "StoredResponse", "accumulate"]

TERMINAL = RESPONSES.root_table.terminal
"""The response statuses that end it, from the definition's response table."""
LIFECYCLE = frozenset({"response.created", "response.queued", "response.in_progress",
                       "response.completed", "response.incomplete", "response.failed"})


# -- applying one event to the REST snapshot ----------------------------------------------

def _item(snapshot: JSON, event: JSON) -> JSON:
    item: JSON = snapshot["output"][event["output_index"]]
    return item


def _content(snapshot: JSON, event: JSON) -> JSON:
    part: JSON = _item(snapshot, event)["content"][event["content_index"]]
    return part


def _summary(snapshot: JSON, event: JSON) -> JSON:
    part: JSON = _item(snapshot, event)["summary"][event["summary_index"]]
    return part


def _item_added(snapshot: JSON, event: JSON) -> None:
    snapshot["output"].append(copy.deepcopy(event["item"]))


def _item_done(snapshot: JSON, event: JSON) -> None:
    snapshot["output"][event["output_index"]] = copy.deepcopy(event["item"])


def _part_added(snapshot: JSON, event: JSON) -> None:
    _item(snapshot, event)["content"].append(copy.deepcopy(event["part"]))


def _part_done(snapshot: JSON, event: JSON) -> None:
    _item(snapshot, event)["content"][event["content_index"]] = copy.deepcopy(event["part"])


def _append(get: Callable[[JSON, JSON], JSON], key: str) -> Callable[[JSON, JSON], None]:
    def apply(snapshot: JSON, event: JSON) -> None:
        target = get(snapshot, event)
        target[key] = (target.get(key) or "") + event["delta"]
    return apply


def _summary_added(snapshot: JSON, event: JSON) -> None:
    _item(snapshot, event)["summary"].append(copy.deepcopy(event["part"]))


def _summary_done(snapshot: JSON, event: JSON) -> None:
    _item(snapshot, event)["summary"][event["summary_index"]] = copy.deepcopy(event["part"])


def _nothing(snapshot: JSON, event: JSON) -> None:
    """The ``.done`` events repeat what the deltas built; ``error`` changes nothing."""


ACCUMULATE: dict[str, Callable[[JSON, JSON], None]] = {
    "response.output_item.added": _item_added,
    "response.output_item.done": _item_done,
    "response.content_part.added": _part_added,
    "response.content_part.done": _part_done,
    "response.output_text.delta": _append(_content, "text"),
    "response.refusal.delta": _append(_content, "refusal"),
    "response.function_call_arguments.delta": _append(_item, "arguments"),
    "response.reasoning_summary_part.added": _summary_added,
    "response.reasoning_summary_text.delta": _append(_summary, "text"),
    "response.reasoning_summary_part.done": _summary_done,
    "response.output_text.done": _nothing,
    "response.refusal.done": _nothing,
    "response.function_call_arguments.done": _nothing,
    "response.reasoning_summary_text.done": _nothing,
    "error": _nothing,
}
"""How each event the scripts send changes the response; lifecycle events replace it."""


def accumulate(snapshot: JSON | None, event: JSON) -> JSON:
    """``snapshot`` after ``event`` (a lifecycle event carries the whole response)."""
    if event["type"] in LIFECYCLE:
        response: JSON = copy.deepcopy(event["response"])
        return response
    if snapshot is None:
        raise ValueError(f"{event['type']} before response.created")
    ACCUMULATE[event["type"]](snapshot, event)
    return snapshot


# -- one response ------------------------------------------------------------------------


class StoredResponse:
    """One response: its scripted events, how many are published, its REST snapshot."""

    def __init__(self, events: list[JSON], *, scenario: str, input_items: list[JSON],
                 lock: threading.RLock, live: bool = False) -> None:
        if not events or events[0]["type"] != "response.created":
            raise ValueError("a response's stream starts with response.created")
        self._events = events
        self._lock = lock
        self.scenario = scenario
        self.input_items = input_items
        self.published = 0
        self.readers = 0  # streams pulling from the log now
        self.cancelled = False
        self.live = live
        """Its events still arrive through :meth:`write` (a WebSocket-mode response)."""
        self.snapshot: JSON = {}
        self.publish(1)

    @property
    def id(self) -> str:
        return str(self._events[0]["response"]["id"])

    @property
    def background(self) -> bool:
        return bool(self._events[0]["response"].get("background"))

    @property
    def status(self) -> str:
        with self._lock:
            return str(self.snapshot.get("status"))

    @property
    def finished(self) -> bool:
        with self._lock:
            return self.cancelled or (not self.live and self.published == len(self._events))

    def view(self) -> JSON:
        """What ``GET`` shows (a copy)."""
        with self._lock:
            return copy.deepcopy(self.snapshot)

    def publish(self, count: int | None = None) -> None:
        """Publish up to ``count`` events in all (``None``: to the end), unless cancelled."""
        with self._lock:
            end = len(self._events) if count is None else min(count, len(self._events))
            while not self.cancelled and self.published < end:
                event = self._events[self.published]
                self.snapshot = accumulate(self.snapshot or None, event)
                self.published += 1

    def write(self, event: JSON) -> None:
        """Add an event the WebSocket side sent to a live response, and publish it; one
        turning the response terminal ends it."""
        with self._lock:
            if not self.live:
                raise ValueError(f"response {self.id} is not live")
            self._events.append(event)
            self.publish()
            if event["type"] in LIFECYCLE and self.snapshot.get("status") in TERMINAL:
                self.live = False

    def close(self) -> None:
        """No more events will be written: the live response is what it shows now."""
        with self._lock:
            self.live = False

    def published_events(self) -> list[JSON]:
        with self._lock:
            return copy.deepcopy(self._events[: self.published])

    def cancel(self) -> JSON:
        """Stop publishing; the snapshot turns ``cancelled``. A stream reading it ends
        after the events already published: the SDKs' event unions have no
        ``response.cancelled``, and how OpenAI ends such a stream is unverified.

        Cancelling a cancelled response returns it again; an ended one raises
        :class:`CannotCancel`, as OpenAI answers "Cannot cancel a completed response."
        """
        with self._lock:
            status = self.snapshot.get("status")
            if status in TERMINAL and status != "cancelled":
                raise CannotCancel(f"Cannot cancel a {status} response.")
            self.cancelled = True
            self.snapshot["status"] = "cancelled"
            return copy.deepcopy(self.snapshot)

    def frames(self, after: int = -1) -> Iterator[Frame]:
        """The events with ``sequence_number > after``, published as they are pulled.

        The reader counts from this call (not from the first pull), so a ``GET``
        arriving before the stream starts does not run the response to its end.
        """
        with self._lock:
            self.readers += 1
        return self._pull(after + 1)

    def _pull(self, index: int) -> Iterator[Frame]:
        try:
            while True:
                with self._lock:
                    if index >= self.published:
                        self.publish(index + 1)
                    if index >= self.published:  # the end, or cancelled
                        return
                    event = self._events[index]
                yield encode_event(event["type"], event)
                index += 1
        finally:
            with self._lock:
                self.readers -= 1


# -- all of them ---------------------------------------------------------------------------


class ResponseStore:
    """Responses by id (those created with ``store: false`` are never put here)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._responses: dict[str, StoredResponse] = {}

    def new(self, events: list[JSON], *, scenario: str,
            input_items: list[JSON]) -> StoredResponse:
        return StoredResponse(events, scenario=scenario, input_items=input_items,
                              lock=self.lock)

    def live(self, created: JSON, *, scenario: str,
             input_items: list[JSON]) -> StoredResponse:
        """Put a response whose events arrive as they are sent, from its
        ``response.created`` (WebSocket mode's responses)."""
        response = StoredResponse([created], scenario=scenario, input_items=input_items,
                                  lock=self.lock, live=True)
        self.put(response)
        return response

    def put(self, response: StoredResponse) -> None:
        with self.lock:
            self._responses[response.id] = response

    def get(self, response_id: str, param: str | None = None) -> StoredResponse:
        with self.lock:
            response = self._responses.get(response_id)
        if response is None:
            raise ApiError(404, f"Response with id '{response_id}' not found.", param=param)
        return response

    def delete(self, response_id: str) -> None:
        with self.lock:
            self.get(response_id)
            del self._responses[response_id]

    def __contains__(self, response_id: Any) -> bool:
        with self.lock:
            return response_id in self._responses
