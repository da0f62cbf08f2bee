"""What a WebSocket scenario works with: the connection(s) it opened and a few reads
over them (:class:`WsContext`), and what a scenario row expects of the conversation
(:class:`Expect`, checked by :mod:`.websocket_grade` as ``consistency.ws_outcome``).

Reads are by lane: a scenario waits for one lane's response to end (``settle``),
while frames of other lanes are recorded and graded like any other. An ``error``
event of the lane (or one without ``stream_id``) ends the wait too: it is how the
server refuses a create.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runflow.conform.session import NotApplicable
from runflow.conform.websocket_session import WsConnection, WsSession
from runflow.protocols.responses.websocket.definition import TERMINAL_EVENTS

__all__ = ["Expect", "WsContext", "WsScenario"]

Event = dict[str, Any]


@dataclass(frozen=True)
class Expect:
    """What the conversation shows when the server does what the scenario's source
    documents (None: not judged)."""

    responses: tuple[str, ...] | None = None
    """Each response's final status, in the order they were created."""
    steers: tuple[tuple[str, str | None], ...] = ()
    """(state, error code) of steering submissions that must be in the ledger."""
    errors: tuple[str, ...] = ()
    """Codes of ``error`` events (a refused create) that must have come."""

    def describe(self) -> str:
        said = []
        if self.responses is not None:
            said.append(f"responses {', '.join(self.responses) or 'none'}")
        said += [f"a steer {state}" + (f" ({code})" if code else "")
                 for state, code in self.steers]
        said += [f"an error {code}" for code in self.errors]
        return "; ".join(said)


@dataclass(frozen=True)
class WsScenario:
    """One row of the WebSocket catalogue."""

    name: str
    description: str
    run: Callable[[WsContext], None]
    expects: Expect
    source: str
    """Where the expected behaviour is written (``WS``: shared/WEBSOCKET.md; ``SDK``:
    the openai-python types' docstrings)."""
    protocol: str = "responses-ws"


def _lane(event: Event) -> str | None:
    lane = event.get("stream_id")
    return lane if isinstance(lane, str) else None


def _response_id(event: Event) -> str | None:
    obj = event.get("response")
    rid = obj.get("id") if isinstance(obj, dict) else None
    return rid if isinstance(rid, str) else None


def steered(event: Event) -> bool:
    """A terminal event that ends a response for steering (a successor follows)."""
    obj = event.get("response")
    details = obj.get("incomplete_details") if isinstance(obj, dict) else None
    return isinstance(details, dict) and details.get("reason") == "steered"


@dataclass
class WsContext:
    """One scenario's run: the session, the model, the connections it opened."""

    session: WsSession
    model: str
    scenario: str
    connections: list[WsConnection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    """Every parsed server event so far, all connections."""
    ends: dict[str | None, int] = field(default_factory=dict)
    """Lane -> responses ended (or creates refused) there so far."""
    consumed: dict[str | None, int] = field(default_factory=dict)
    """Lane -> the ends :meth:`settle` has waited for."""
    steered: set[str | None] = field(default_factory=set)
    """Responses ended for steering whose successor has not come (nor failed)."""

    def connect(self, label: str = "connection") -> WsConnection:
        self.ends, self.consumed, self.steered = {}, {}, set()
        conn = self.session.connect(label)
        self.connections.append(conn)
        return conn

    def create(self, conn: WsConnection, lane: str | None = None, hint: str = "text",
               **fields: Any) -> None:
        """A ``response.create``; ``metadata.scenario`` names what an emulator plays
        (``runflow serve``); real servers keep it as plain metadata."""
        metadata = {"scenario": hint, **fields.pop("metadata", {})}
        event: Event = {"type": "response.create", "model": self.model,
                        "input": "Say hello in one short sentence.", "metadata": metadata,
                        **fields}
        if lane is not None:
            event["stream_id"] = lane
        conn.send(event)

    def steer(self, conn: WsConnection, target: str, steer_input: Any = "Keep it short.",
              ) -> None:
        conn.send({"type": "response.steer", "previous_response_id": target,
                   "input": steer_input})

    def until(self, conn: WsConnection, done: Callable[[Event], bool],
              since: int | None = None) -> Event:
        """Read until an event for which ``done`` is true, and return it; ``since``: an
        index into :attr:`events` from which one already read counts too."""
        if since is not None:
            for seen in self.events[since:]:
                if done(seen):
                    return seen
        while True:
            event = conn.receive()
            if event is None:
                continue
            self.events.append(event)
            self._note(event)
            if done(event):
                return event

    def created(self, conn: WsConnection, lane: str | None = None) -> str:
        """Wait for the next ``response.created`` on ``lane``; its response id."""
        event = self.until(conn, lambda e: _lane(e) == lane and e.get("type") in (
            "response.created", "error"))
        rid = _response_id(event)
        if rid is None:
            raise NotApplicable(f"the create on lane {lane!r} was refused: "
                                f"{_error_code(event)}")
        return rid

    def settle(self, conn: WsConnection, lane: str | None = None, count: int = 1) -> None:
        """Wait until ``count`` more responses on ``lane`` have ended (or been refused
        with an error event) than the last wait on it saw: frames of other lanes read
        meanwhile count for theirs. A response ended for steering ends only when its
        steers fail with ``successor_creation_failed``; otherwise its successor follows."""
        goal = self.consumed.get(lane, 0) + count
        while self.ends.get(lane, 0) < goal:
            self.until(conn, lambda e: True)
        self.consumed[lane] = goal

    def _note(self, event: Event) -> None:
        """Count the ends of each lane's responses (see :meth:`settle`)."""
        kind, lane = event.get("type"), _lane(event)
        if kind in TERMINAL_EVENTS and steered(event):
            self.steered.add(_response_id(event))
            return
        if kind == "response.steer.failed" and _error_code(event) == (
                "successor_creation_failed") and _steer_target(event) in self.steered:
            self.steered.discard(_steer_target(event))
        elif not (kind in TERMINAL_EVENTS or kind == "error"):
            return
        self.ends[lane] = self.ends.get(lane, 0) + 1

    def steer_answer(self, conn: WsConnection, target: str, since: int | None = None
                     ) -> Event:
        """Wait for the answer to a steer of ``target``: accepted, pending or failed."""
        return self.until(conn, lambda e: str(e.get("type", "")).startswith(
            "response.steer.") and _steer_target(e) == target, since)

    def answer(self, target: str, since: int) -> Event | None:
        """The answer to a steer of ``target`` read since ``since``, if one came (a
        server that never answers is the grammar's ``steer_unacknowledged``)."""
        return next((e for e in self.events[since:]
                     if str(e.get("type", "")).startswith("response.steer.")
                     and _steer_target(e) == target), None)

    def failed_steer(self, target: str | None) -> str | None:
        """The error code of a ``response.steer.failed`` seen for ``target``."""
        for event in self.events:
            if event.get("type") == "response.steer.failed" and _steer_target(event) == target:
                return _error_code(event)
        return None

    def function_calls(self, response_id: str) -> list[Event]:
        """The function_call items ``output_item.done`` finished for a response
        (read from the events; a response's id is on its lifecycle events only, so
        the items between its created and terminal event on its lane count)."""
        calls, inside, lane = [], False, None
        for event in self.events:
            if _response_id(event) == response_id and event.get("type") == "response.created":
                inside, lane = True, _lane(event)
            elif inside and _lane(event) == lane:
                if event.get("type") in TERMINAL_EVENTS:
                    break
                item = event.get("item")
                if (event.get("type") == "response.output_item.done"
                        and isinstance(item, dict) and item.get("type") == "function_call"):
                    calls.append(item)
        return calls


def _steer_target(event: Event) -> str | None:
    body = event.get("steer")
    target = body.get("previous_response_id") if isinstance(body, dict) else None
    return target if isinstance(target, str) else None


def _error_code(event: Event) -> str:
    error = event.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return str(code) if code is not None else f"a {event.get('type')} event"
