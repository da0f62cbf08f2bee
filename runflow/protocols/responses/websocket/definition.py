"""The Responses API over one WebSocket, as data: three machines, the rules between
them, and the WebSocket variant of the Responses grammar each response runs.

* :data:`CONNECTION`, :data:`LANE` and :data:`STEER` are the engine's own
  :class:`~runflow.engine.definition.EntityTable` / ``Transition`` rows (one table
  per machine; the ``transitions`` machines are built from them by
  :func:`runflow.engine.machines.build_machine`, as the engine does);
* :data:`RULES` is a small typed table of its own (:class:`ConnectionRule`): the
  engine's ``Rule`` checks one flow's entities, these relate lanes, responses and
  steering submissions, so each row is a code, a why and its source, and the
  connection flow (:mod:`.flow`) looks the code up by name;
* :data:`OPTIONAL_SETUP` says which SSE setup events a WebSocket response may leave
  out, and :data:`WS_RESPONSES` is the Responses definition changed by data for
  that (a copy of :data:`~runflow.protocols.responses.definition.RESPONSES` with
  two fields changed; nothing in the engine or the SSE definition is edited).

Sources: ``WS`` is ``shared/WEBSOCKET.md``; ``SDK`` the openai-python 3.63 types
(``response_steer_*``, ``responses_server_event.py``, ``responses_client_event.py``,
``lib/responses_websocket``), whose docstrings state the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal

from runflow.engine.definition import (
    UNSEEN,
    EntityTable,
    Protocol,
    ProtocolDefinitionError,
    Transition,
)
from runflow.protocols.responses.definition import RESPONSE, TABLES, build_responses

__all__ = [
    "CONNECTION",
    "CUT",
    "LANE",
    "MACHINES",
    "OPTIONAL_SETUP",
    "RULES",
    "STEER",
    "TERMINAL_EVENTS",
    "WS_RESPONSES",
    "ConnectionRule",
    "OptionalSetup",
    "WsCode",
    "check_definition",
]

P = "response."
TERMINAL_EVENTS = frozenset({P + "completed", P + "incomplete", P + "failed", P + "cancelled"})
"""The events that end one response (and free its lane)."""

# --------------------------------------------------------------------------- #
# The three machines (the engine's table type; events are the wire names where
# one exists, otherwise a short verb the connection flow sends)
# --------------------------------------------------------------------------- #
CONNECTION = EntityTable(
    entity="connection",
    role="root",
    states=("open", "busy", "lost", "closed"),
    initial="open",
    terminal=frozenset({"closed"}),
    status_field=None,
    transitions=(
        Transition("turn", ("open", "busy"), "busy",
                   why="a response is in flight on some lane (WS: one socket, many turns)"),
        Transition("settle", ("busy",), "open",
                   why="no lane has a response in flight: the socket waits for a create"),
        Transition("lost", ("open", "busy"), "lost",
                   why="the socket ended without a close: in-flight responses are cut and "
                       "steering outcomes unknown (SDK ResponseSteerFailedEvent)"),
        Transition("reconnect", ("lost",), "open",
                   why="the SDK reconnects (max_retries); connection memory is gone (WS)"),
        Transition("close", ("open", "busy", "lost"), "closed",
                   why="the transcript or socket ended; OpenAI caps a socket at 60 min (WS)"),
    ),
)

LANE = EntityTable(
    entity="lane",
    states=("idle", "in_flight", "succeeding", "waiting", "detached"),
    initial="idle",
    terminal=frozenset({"detached"}),
    status_field=None,
    transitions=(
        Transition(P + "created", ("idle", "succeeding", "waiting"), "in_flight",
                   why="one response in flight per lane; FIFO within a lane (SDK stream_id)"),
        Transition("ended", ("in_flight",), "idle",
                   why="the response's terminal event frees the lane"),
        Transition("steered", ("in_flight",), "succeeding",
                   why="response.incomplete with reason steered is followed automatically "
                       "by a successor response.created (SDK ResponseSteerEvent)"),
        Transition("successor_failed", ("succeeding",), "idle",
                   why="response.steer.failed with successor_creation_failed: no successor "
                       "comes (SDK ResponseSteerFailedEvent)"),
        Transition(P + "steer.pending", ("idle", "waiting"), "waiting",
                   why="accepted input stays queued while the response waits for "
                       "client-owned tool output (SDK ResponseSteerPendingEvent)"),
        Transition("detach", ("idle", "in_flight", "succeeding", "waiting"), "detached",
                   why="the socket closed or was lost; lane ids last until reconnect "
                       "(SDK session)"),
    ),
)

STEER = EntityTable(
    entity="steer",
    states=("submitted", "accepted", "pending", "committed", "failed", "unknown"),
    initial="submitted",
    terminal=frozenset({"committed", "failed", "unknown"}),
    status_field=None,
    transitions=(
        Transition(P + "steer.accepted", ("submitted",), "accepted",
                   why="the server owns the input, not yet applied (SDK accepted event)"),
        Transition(P + "steer.pending", ("accepted",), "pending",
                   why="emitted after response.completed, at most once per submission "
                       "(SDK pending event)"),
        Transition("commit", ("accepted", "pending"), "committed",
                   why="the successor's response.created is the commit point (SDK)"),
        Transition(P + "steer.failed", ("submitted", "accepted", "pending"), "failed",
                   why="returns the uncommitted input; after acceptance with the same id "
                       "(SDK failed event)"),
        Transition("lost", ("submitted", "accepted", "pending"), "unknown",
                   why="a lost connection or missing acknowledgement leaves the outcome "
                       "unknown, which is not proof of rejection (SDK failed event)"),
    ),
)

MACHINES: dict[str, EntityTable] = {t.entity: t for t in (CONNECTION, LANE, STEER)}


# --------------------------------------------------------------------------- #
# The rules between them
# --------------------------------------------------------------------------- #
class WsCode(str, Enum):
    """Violation codes of a WebSocket conversation (beside the engine's own
    :class:`~runflow.engine.violations.Code` s, which a response's flow reports)."""

    MALFORMED_FRAME = "malformed_frame"
    UNKNOWN_CLIENT_EVENT = "unknown_client_event"
    STEER_HAS_STREAM_ID = "steer_has_stream_id"
    CREATE_FIELD_NOT_ALLOWED = "create_field_not_allowed"
    UNKNOWN_LANE = "unknown_lane"
    LANE_NOT_IN_FLIGHT = "lane_not_in_flight"
    LANE_BUSY = "lane_busy"
    UNREQUESTED_RESPONSE = "unrequested_response"
    RESPONSE_ID_MISMATCH = "response_id_mismatch"
    SEQUENCE_GAP = "sequence_gap"
    SEQUENCE_REPLAY = "sequence_replay"
    WRONG_LANE = "wrong_lane"
    UNKNOWN_STEER = "unknown_steer"
    STEER_TARGET_INACTIVE = "steer_target_inactive"
    STEER_PENDING_EARLY = "steer_pending_early"
    STEER_PENDING_REPEATED = "steer_pending_repeated"
    STEER_UNACKNOWLEDGED = "steer_unacknowledged"
    SUCCESSOR_UNCOMMITTED = "successor_uncommitted"
    SUCCESSOR_MISSING = "successor_missing"
    TRUNCATED = "truncated"
    CREATE_UNANSWERED = "create_unanswered"

    def __str__(self) -> str:
        return self.value


Severity = Literal["error", "warning"]
Source = Literal["WS", "SDK", "API"]


@dataclass(frozen=True)
class ConnectionRule:
    """One rule of the conversation: its code, how bad, why, and where it is written."""

    code: WsCode
    severity: Severity
    direction: Literal["send", "receive", "both"]
    why: str
    source: Source


RULES: dict[WsCode, ConnectionRule] = {r.code: r for r in (
    ConnectionRule(WsCode.MALFORMED_FRAME, "error", "both",
                   "every message is one JSON text frame holding an object with a type",
                   "WS"),
    ConnectionRule(WsCode.UNKNOWN_CLIENT_EVENT, "error", "send",
                   "client events are response.create and response.steer only", "SDK"),
    ConnectionRule(WsCode.STEER_HAS_STREAM_ID, "error", "send",
                   "response.steer accepts only type, previous_response_id and input; the "
                   "target response determines the lane", "SDK"),
    ConnectionRule(WsCode.CREATE_FIELD_NOT_ALLOWED, "error", "send",
                   "a WebSocket response.create has no stream (implicit) and no background "
                   "(unsupported)", "WS"),
    ConnectionRule(WsCode.UNKNOWN_LANE, "error", "receive",
                   "every server event's stream_id echoes the stream_id of a create sent on "
                   "this connection", "SDK"),
    ConnectionRule(WsCode.LANE_NOT_IN_FLIGHT, "error", "receive",
                   "a response event on a lane that has no response in flight", "SDK"),
    ConnectionRule(WsCode.LANE_BUSY, "error", "receive",
                   "no second response runs on a busy lane: requests with one stream_id "
                   "are processed FIFO", "SDK"),
    ConnectionRule(WsCode.UNREQUESTED_RESPONSE, "error", "receive",
                   "a response.created answers a queued create, or is the automatic "
                   "successor of a steered or completed response with accepted steers",
                   "SDK"),
    ConnectionRule(WsCode.RESPONSE_ID_MISMATCH, "error", "receive",
                   "a lifecycle event names the response in flight on its lane", "SDK"),
    ConnectionRule(WsCode.SEQUENCE_GAP, "error", "receive",
                   "sequence_number counts each response's events by one: a jump is a "
                   "lost frame", "SDK"),
    ConnectionRule(WsCode.SEQUENCE_REPLAY, "error", "receive",
                   "a WebSocket never replays: a number at or below the last is a "
                   "duplicated frame", "WS"),
    ConnectionRule(WsCode.WRONG_LANE, "error", "receive",
                   "the event's sequence_number is the next one of a response on another "
                   "lane, not of its own: it was routed to the wrong stream_id", "SDK"),
    ConnectionRule(WsCode.UNKNOWN_STEER, "error", "receive",
                   "a steer event names a submission this connection did not send or "
                   "the server did not accept", "SDK"),
    ConnectionRule(WsCode.STEER_TARGET_INACTIVE, "error", "receive",
                   "response.steer.accepted names an active response: the input is queued "
                   "for a running response", "SDK"),
    ConnectionRule(WsCode.STEER_PENDING_EARLY, "error", "receive",
                   "response.steer.pending is emitted after the target's "
                   "response.completed", "SDK"),
    ConnectionRule(WsCode.STEER_PENDING_REPEATED, "error", "receive",
                   "response.steer.pending is emitted at most once per submission", "SDK"),
    ConnectionRule(WsCode.STEER_UNACKNOWLEDGED, "warning", "receive",
                   "every submission is answered by accepted or failed before its lane "
                   "moves on; a missing acknowledgement leaves the outcome unknown", "SDK"),
    ConnectionRule(WsCode.SUCCESSOR_UNCOMMITTED, "error", "receive",
                   "a successor's response.created continues from the steered response "
                   "and commits exactly its accepted steers", "SDK"),
    ConnectionRule(WsCode.SUCCESSOR_MISSING, "error", "receive",
                   "response.incomplete with reason steered is followed by a successor "
                   "response.created on the same lane", "SDK"),
    ConnectionRule(WsCode.TRUNCATED, "error", "receive",
                   "the conversation ended with a response in flight", "WS"),
    ConnectionRule(WsCode.CREATE_UNANSWERED, "error", "receive",
                   "every response.create is answered, by its response.created or an error "
                   "event; a conversation that ends first lost the create, as a stream cut "
                   "before its terminal event loses the response", "WS"),
)}

CUT: frozenset[WsCode] = frozenset({WsCode.TRUNCATED, WsCode.SUCCESSOR_MISSING,
                                    WsCode.CREATE_UNANSWERED})
"""The codes with which a conversation that :meth:`ConnectionFlow.close` ends counts
as cut (``"truncated"``), not ``"closed"``."""


# --------------------------------------------------------------------------- #
# The WebSocket variant of the Responses grammar
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class OptionalSetup:
    """A setup event a WebSocket response may leave out: the events that depend on
    it (at the same position) are then held back from the response's flow, whose
    item comes whole in ``response.output_item.done``."""

    setup: str
    position: tuple[str, ...]
    dependents: frozenset[str]
    why: str
    source: Source = "SDK"


_ITEM_EVENTS = frozenset({
    P + "function_call_arguments.delta", P + "function_call_arguments.done",
    P + "custom_tool_call_input.delta", P + "custom_tool_call_input.done",
    P + "mcp_call_arguments.delta", P + "mcp_call_arguments.done",
    P + "content_part.added", P + "reasoning_summary_part.added",
})
_PART_EVENTS = frozenset({
    P + "output_text.delta", P + "output_text.done", P + "output_text.annotation.added",
    P + "refusal.delta", P + "refusal.done", P + "reasoning_text.delta",
    P + "reasoning_text.done", P + "content_part.done",
})
_SUMMARY_EVENTS = frozenset({
    P + "reasoning_summary_text.delta", P + "reasoning_summary_text.done",
    P + "reasoning_summary_part.done",
})

OPTIONAL_SETUP: tuple[OptionalSetup, ...] = (
    OptionalSetup(P + "output_item.added", ("output_index",), _ITEM_EVENTS | _PART_EVENTS
                  | _SUMMARY_EVENTS,
                  "WebSocket deltas need not include the SSE item setup events; the SDK "
                  "session collects final responses from response.created, "
                  "output_item.done and the terminal event only"),
    OptionalSetup(P + "content_part.added", ("output_index", "content_index"), _PART_EVENTS,
                  "as above, for content parts: the finished part is in the item of "
                  "output_item.done"),
    OptionalSetup(P + "reasoning_summary_part.added", ("output_index", "summary_index"),
                  _SUMMARY_EVENTS,
                  "as above, for reasoning summary parts"),
)
"""Still required on a WebSocket: ``response.created`` (it names the response and is the
steering commit point), ``response.output_item.done`` (the finalized item) and the
terminal event. ``response.in_progress`` is optional in both grammars. Once a setup
event *is* sent, its position follows the full SSE grammar."""

WS_RESPONSES: Protocol = replace(
    build_responses((replace(RESPONSE, adopt_children=frozenset({UNSEEN, "in_progress"})),
                     *TABLES[1:])),
    name="responses-ws", sequence_field=None)
"""The Responses definition for one response on a WebSocket. Two fields differ from
:data:`~runflow.protocols.responses.definition.RESPONSES`:

* the response adopts an item first seen whole in ``output_item.done`` while
  ``in_progress`` (``output_item.added`` is optional, see :data:`OPTIONAL_SETUP`);
* ``sequence_field`` is None: the connection checks ``sequence_number`` per response,
  since frames held back for a missing setup event would read as gaps here."""


def check_definition() -> None:
    """Every machine is sound (reachable states, no traps, terminal states final) and
    every code has a rule; raise :class:`ProtocolDefinitionError` listing problems."""
    problems: list[str] = []
    for table in MACHINES.values():
        edges: dict[str, set[str]] = {s: set() for s in table.states}
        for t in table.transitions:
            for src in t.sources:
                if src not in edges or t.dest not in edges:
                    problems.append(f"{table.entity}: {t.event} names an unknown state")
                    continue
                if src in table.terminal:
                    problems.append(f"{table.entity}: {t.event} leaves terminal {src!r}")
                edges[src].add(t.dest)
        seen, todo = {table.initial}, [table.initial]
        while todo:
            for nxt in edges.get(todo.pop(), set()) - seen:
                seen.add(nxt)
                todo.append(nxt)
        problems += [f"{table.entity}: {s!r} is unreachable" for s in table.states
                     if s not in seen]
        problems += [f"{table.entity}: {s!r} is a trap" for s in table.states
                     if s not in table.terminal and not edges[s] - {s}]
    problems += [f"code {c.value} has no rule" for c in WsCode if c not in RULES]
    for row in OPTIONAL_SETUP:
        problems += [f"optional setup {row.setup}: {e!r} is not a Responses event"
                     for e in sorted(row.dependents - WS_RESPONSES.events)]
    if problems:
        raise ProtocolDefinitionError("invalid WebSocket definition:\n"
                                      + "\n".join(f"  - {p}" for p in problems))


check_definition()
