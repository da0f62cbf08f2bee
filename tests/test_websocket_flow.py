"""ConnectionFlow on hand-written conversations: each rule at its frame, the WebSocket
variant's optional setup events, the steering ledger and the callbacks."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from runflow.engine.machines import build_machine
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.websocket import (
    ConnectionFlow,
    LaneRecord,
    SteerRecord,
    dump_connection,
    load_connection,
)
from runflow.protocols.responses.websocket.definition import (
    MACHINES,
    OPTIONAL_SETUP,
    RULES,
    WS_RESPONSES,
    WsCode,
)
from runflow.protocols.responses.websocket.records import (
    SETUP_ROWS,
    ResponseRecord,
    parse_frame,
)


def _response(rid: str, status: str = "in_progress", **fields: Any) -> dict[str, Any]:
    return {"id": rid, "object": "response", "status": status, "output": [], **fields}


class Talk:
    """A conversation written frame by frame; numbers each response's events."""

    def __init__(self) -> None:
        self.flow = ConnectionFlow()
        self.seq: dict[str, int] = {}

    def create(self, lane: str | None = "a", **fields: Any) -> Talk:
        event = {"type": "response.create", "model": "m", "input": "hi", **fields}
        if lane is not None:
            event["stream_id"] = lane
        self.flow.send(event)
        return self

    def steer(self, target: str) -> Talk:
        self.flow.send({"type": "response.steer", "previous_response_id": target,
                        "input": "more"})
        return self

    def server(self, rid: str, kind: str, lane: str | None = "a", **fields: Any) -> Talk:
        number = self.seq.get(rid, 0)
        self.seq[rid] = number + 1
        event = {"type": kind, "sequence_number": number, **fields}
        if lane is not None:
            event["stream_id"] = lane
        self.flow.receive(event)
        return self

    def created(self, rid: str, lane: str | None = "a", **fields: Any) -> Talk:
        return self.server(rid, "response.created", lane, response=_response(rid, **fields))

    def end(self, rid: str, status: str = "completed", lane: str | None = "a",
            **fields: Any) -> Talk:
        return self.server(rid, f"response.{status}", lane,
                           response=_response(rid, status, **fields))

    def steer_event(self, kind: str, target: str, lane: str | None = "a",
                    **fields: Any) -> Talk:
        event = {"type": f"response.steer.{kind}", "sequence_number": 0, **fields}
        event.setdefault("steer", {"previous_response_id": target})
        if lane is not None:
            event["stream_id"] = lane
        self.flow.receive(event)
        return self

    def codes(self) -> list[tuple[str, int]]:
        return [(v.code, v.index) for v in self.flow.violations]


MESSAGE = {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}


def test_the_websocket_variant_takes_a_response_without_setup_events() -> None:
    talk = Talk().create().created("r1")
    talk.server("r1", "response.output_text.delta", item_id="msg_1", output_index=0,
                content_index=0, delta="Hi")
    talk.server("r1", "response.output_item.done", item=MESSAGE, output_index=0)
    talk.end("r1", output=[MESSAGE])
    assert talk.flow.close() == "closed"
    assert talk.codes() == []
    record = talk.flow.responses["r1"]
    assert (record.held, record.flow.status) == (1, "completed")
    assert [item.id for item in record.flow.output] == ["msg_1"]  # type: ignore[attr-defined]


def test_once_a_setup_event_is_sent_the_full_grammar_applies() -> None:
    talk = Talk().create().created("r1")
    talk.server("r1", "response.output_item.added", output_index=0,
                item={"id": "msg_1", "type": "message", "role": "assistant",
                      "status": "in_progress", "content": []})
    talk.server("r1", "response.content_part.added", item_id="msg_1", output_index=0,
                content_index=0, part={"type": "output_text", "text": "", "annotations": []})
    talk.server("r1", "response.output_text.delta", item_id="msg_1", output_index=0,
                content_index=0, delta="Hi")
    talk.end("r1")
    assert ("children_open_at_terminal", 5) in talk.codes()
    assert talk.flow.responses["r1"].held == 0


def test_the_variant_differs_from_responses_by_data_only() -> None:
    assert WS_RESPONSES.sequence_field is None
    assert "in_progress" in WS_RESPONSES.root_table.adopt_children
    assert {row.setup for row in OPTIONAL_SETUP} == {
        "response.output_item.added", "response.content_part.added",
        "response.reasoning_summary_part.added"}
    assert set(RULES) == set(WsCode)


def test_sequence_numbers_are_per_response() -> None:
    talk = Talk().create("a").create("b").created("r1", "a").created("r2", "b")
    talk.end("r2", lane="b")
    talk.seq["r1"] = 5
    talk.end("r1")
    assert talk.codes() == [("sequence_gap", 5)]


def test_steer_accepted_then_committed_by_a_steered_successor() -> None:
    seen: list[tuple[int, str]] = []
    lanes: list[tuple[str | None, str]] = []
    talk = Talk()
    talk.flow.on_steer(lambda s: seen.append((s.number, s.state)))
    talk.flow.on_lane(lambda lane: lanes.append((lane.id, lane.state)))
    talk.create().created("r1").steer("r1")
    talk.steer_event("accepted", "r1", steer={"id": "st_1", "previous_response_id": "r1"})
    talk.end("r1", "incomplete", incomplete_details={"reason": "steered"})
    talk.created("r2", previous_response_id="r1").end("r2")
    assert talk.flow.close() == "closed"
    assert talk.codes() == []
    [steer] = talk.flow.steers
    assert (steer.id, steer.state, steer.committed_by) == ("st_1", "committed", "r2")
    assert seen == [(0, "submitted"), (0, "accepted"), (0, "committed")]
    assert lanes == [("a", "in_flight"), ("a", "succeeding"), ("a", "in_flight"),
                     ("a", "idle"), ("a", "detached")]
    assert talk.flow.responses["r2"].committed == [0]


def test_steer_pending_only_after_completed_and_once() -> None:
    talk = Talk().create().created("r1").steer("r1")
    talk.steer_event("accepted", "r1", steer={"id": "st_1", "previous_response_id": "r1"})
    talk.steer_event("pending", "r1", steer={"id": "st_1", "previous_response_id": "r1"},
                     reason="waiting_for_required_input", required_input=[])
    talk.end("r1")
    talk.steer_event("pending", "r1", steer={"id": "st_1", "previous_response_id": "r1"},
                     reason="waiting_for_required_input", required_input=[])
    assert talk.codes() == [("steer_pending_early", 4), ("steer_pending_repeated", 6)]


def test_accepted_for_an_inactive_response_and_an_unknown_steer() -> None:
    talk = Talk().create().created("r1").end("r1").steer("r1")
    talk.steer_event("accepted", "r1", steer={"id": "st_1", "previous_response_id": "r1"})
    talk.steer_event("pending", "r1", steer={"id": "st_9", "previous_response_id": "r1"},
                     reason="waiting_for_required_input", required_input=[])
    assert talk.codes() == [("steer_target_inactive", 4), ("unknown_steer", 5)]


def test_failed_before_acceptance_has_no_id_and_after_it_the_same_id() -> None:
    talk = Talk().create().created("r1").steer("r1").steer("r1")
    error = {"code": "invalid_input", "message": "no", "type": "invalid_request_error"}
    talk.steer_event("failed", "r1", steer={"previous_response_id": "r1", "input": "more"},
                     error=error)
    talk.steer_event("accepted", "r1", steer={"id": "st_2", "previous_response_id": "r1"})
    talk.steer_event("failed", "r1", steer={"id": "st_2", "previous_response_id": "r1",
                                            "input": "more"},
                     error=dict(error, code="too_many_pending_steers"))
    assert talk.codes() == []
    assert [(s.state, s.id, s.error_code) for s in talk.flow.steers] == [
        ("failed", None, "invalid_input"), ("failed", "st_2", "too_many_pending_steers")]


def test_a_steered_response_owes_a_successor_on_its_lane() -> None:
    talk = Talk().create().created("r1").steer("r1")
    talk.steer_event("accepted", "r1", steer={"id": "st_1", "previous_response_id": "r1"})
    talk.end("r1", "incomplete", incomplete_details={"reason": "steered"})
    assert talk.flow.close() == "truncated"
    assert talk.codes() == [("successor_missing", 5)]
    assert [s.state for s in talk.flow.steers] == ["unknown"]


def test_successor_creation_failed_releases_the_lane() -> None:
    talk = Talk().create().created("r1").steer("r1")
    talk.steer_event("accepted", "r1", steer={"id": "st_1", "previous_response_id": "r1"})
    talk.end("r1", "incomplete", incomplete_details={"reason": "steered"})
    talk.steer_event("failed", "r1", steer={"id": "st_1", "previous_response_id": "r1",
                                            "input": "more"},
                     error={"code": "successor_creation_failed", "message": "x",
                            "type": "invalid_request_error"})
    assert talk.flow.close() == "closed"
    assert talk.codes() == []
    assert talk.flow.lanes["a"].state == "detached"


def test_an_unrequested_response_and_an_error_refusing_a_create() -> None:
    talk = Talk().created("r0", None)
    talk.create(None, previous_response_id="nope")
    talk.flow.receive({"type": "error", "status": 400, "error": {
        "type": "invalid_request_error", "code": "previous_response_not_found",
        "message": "x"}})
    assert ("unknown_lane", 0) in talk.codes()
    talk2 = Talk().create().created("r1").end("r1").created("r2")
    assert talk2.codes() == [("unrequested_response", 3)]
    assert talk.flow.errors and talk.flow.lanes[None].queued == 0


def test_views_and_response_callbacks() -> None:
    records: list[ResponseRecord] = []
    talk = Talk()
    talk.flow.on_response(records.append)
    talk.create().created("r1").end("r1")
    assert [r.id for r in records] == ["r1"]
    lane: LaneRecord = talk.flow.lane("a")
    assert (lane.state, lane.responses, talk.flow.state) == ("idle", ["r1"], "open")
    assert talk.flow.response("r1").frames == [1, 2]
    assert isinstance(SteerRecord(0, 0, "r", "x").state, str)


def test_hostile_frames_are_violations_not_exceptions() -> None:
    flow = ConnectionFlow()
    for frame in (b"\xff", "[]", "{}", '{"type": 5}', {"type": "response.created",
                                                       "stream_id": 7},
                  {"type": "response.steer.accepted", "steer": []},
                  {"type": "response.created", "response": {"id": 1}}):
        flow.receive(frame)
    flow.send({"type": "response.steer", "previous_response_id": None})
    assert [v.code for v in flow.violations] == [
        *["malformed_frame"] * 6, "unknown_lane", "malformed_frame"]
    assert flow.close() == "closed"


# -- the per-frame layer: moves, in-flight index, frame numbers, parsing -----------------
class _Listener:
    def __init__(self) -> None:
        self.entered: list[str] = []

    def _entered(self, model: Any, state: str) -> None:
        self.entered.append(state)


def test_every_move_matches_what_the_machine_does() -> None:
    """The flow moves lanes, steers and the connection through the move table read off
    the machines; each (state, event) of each table ends where a ``transitions``
    trigger on the same machine ends, entering (and telling) the same states."""
    flow = ConnectionFlow()
    told: list[tuple[str, str]] = []
    flow.on_lane(lambda lane: told.append(("lane", lane.state)))
    flow.on_steer(lambda steer: told.append(("steer", steer.state)))
    for name, table in MACHINES.items():
        machine = build_machine(table)
        for state in table.states:
            for event in {t.event for t in table.transitions}:
                ours: Any = (LaneRecord("x") if name == "lane" else
                             SteerRecord(0, 0, "r", None) if name == "steer" else
                             type("M", (), {})())
                theirs: Any = type("M", (), {})()
                ours.state = theirs.state = state
                told.clear()
                listener = _Listener()
                allowed = flow._move(ours, name, event)
                if allowed:
                    machine.events[event].trigger(theirs, listener)
                assert allowed == ((state, event) in table.lookup()), (name, state, event)
                assert ours.state == theirs.state, (name, state, event)
                expected = [(name, s) for s in listener.entered] if name != "connection" else []
                assert told == expected, (name, state, event)


def test_lane_and_connection_states_through_a_two_lane_conversation() -> None:
    lanes: list[tuple[str | None, str]] = []
    talk = Talk()
    talk.flow.on_lane(lambda lane: lanes.append((lane.id, lane.state)))
    states = [talk.flow.state]
    talk.create("a").create("b").created("r1", "a")
    states.append(talk.flow.state)
    talk.created("r2", "b")  # busy -> busy: a self-loop, nothing entered
    states.append(talk.flow.state)
    talk.end("r1", lane="a")
    states.append(talk.flow.state)
    talk.end("r2", lane="b")
    states.append(talk.flow.state)
    talk.flow.lost()
    states.append(talk.flow.state)
    talk.flow.reconnect()
    states.append(talk.flow.state)
    assert talk.flow.close() == "closed"
    assert [*states, talk.flow.state] == ["open", "busy", "busy", "busy", "open", "lost",
                                          "open", "closed"]
    assert lanes == [("a", "in_flight"), ("b", "in_flight"), ("a", "idle"), ("b", "idle"),
                     ("a", "detached"), ("b", "detached")]
    assert talk.codes() == []


def _added(talk: Talk, rid: str, item_id: str, lane: str) -> None:
    talk.server(rid, "response.output_item.added", lane, output_index=0,
                item={"id": item_id, "type": "message", "role": "assistant",
                      "status": "in_progress", "content": []})


def _connection_codes(talk: Talk) -> list[tuple[str, int]]:
    return [(v.code, v.index) for v in talk.flow.violations if v.source == "connection"]


def test_an_item_of_another_lane_is_looked_for_among_responses_in_flight_only() -> None:
    talk = Talk().create("a").create("a").create("b").created("r1", "a")
    _added(talk, "r1", "i1", "a")
    talk.end("r1", lane="a").created("r2", "a")
    _added(talk, "r2", "i2", "a")
    talk.created("r3", "b")
    delta = {"output_index": 0, "content_index": 0, "delta": "x"}
    talk.server("r3", "response.output_text.delta", "b", item_id="i1", **delta)  # #9
    assert _connection_codes(talk) == []  # r1 ended: i1 names no response in flight
    talk.server("r2", "response.output_text.delta", "b", item_id="i2", **delta)  # #10
    assert _connection_codes(talk) == [("wrong_lane", 10)]
    # #9 was r3's event, #10 is r2's: neither set its content part up, so each is held
    assert (talk.flow.responses["r2"].held, talk.flow.responses["r3"].held) == (1, 1)


def test_a_response_id_seen_again_replaces_the_one_looked_for() -> None:
    talk = Talk().create("a").create("b").create("c").created("r1", "a")
    _added(talk, "r1", "i1", "a")
    talk.created("r1", "b")  # the same id on another lane: flow.responses holds this one
    talk.created("r3", "c")
    talk.server("r3", "response.output_text.delta", "c", item_id="i1", output_index=0,
                content_index=0, delta="x")
    assert talk.flow.responses["r1"].lane == "b"
    assert "wrong_lane" not in [code for code, _ in _connection_codes(talk)]


def test_a_sequence_number_of_another_lane_names_only_a_response_in_flight() -> None:
    talk = Talk().create("a").create("b").created("r1", "a").created("r2", "b")
    talk.server("r2", "response.in_progress", "b", response=_response("r2"))
    talk.seq["r1"] = 2  # r2's next number, on r1's lane
    talk.server("r1", "response.in_progress", "a", response=_response("r1"))
    talk.end("r2", lane="b")
    talk.seq["r1"] = 3  # r2's next again, but r2 has ended
    talk.server("r1", "response.in_progress", "a", response=_response("r1"))
    assert _connection_codes(talk) == [("wrong_lane", 5), ("sequence_gap", 7)]


def test_the_in_flight_index_is_rebuilt_after_a_checkpoint() -> None:
    talk = Talk().create("a").create("b").created("r1", "a")
    _added(talk, "r1", "i1", "a")
    talk.created("r2", "b")
    restored = load_connection(dump_connection(talk.flow))
    assert restored.responses["r1"].frames == talk.flow.responses["r1"].frames == [2, 3]
    talk.flow = restored
    talk.server("r1", "response.output_text.delta", "b", item_id="i1", output_index=0,
                content_index=0, delta="x")
    assert _connection_codes(talk) == [("wrong_lane", 5)]
    assert (restored.responses["r1"].held, restored.responses["r2"].held) == (1, 0)


def test_parse_frame_reads_text_once_and_says_what_is_wrong() -> None:
    assert parse_frame('{"type": "response.created"}') == {"type": "response.created"}
    assert parse_frame(b'{"type": "x"}') == {"type": "x"}
    assert parse_frame(bytearray(b'{"type": "x"}')) == {"type": "x"}
    assert parse_frame({"type": "x"}) == {"type": "x"}
    assert parse_frame('"{\\"type\\": \\"x\\"}"') == (
        "a frame holding str, not an event object")  # JSON text of JSON text: not parsed twice
    assert parse_frame(OrderedDict(type="x")) == (
        "a frame holding OrderedDict, not an event object")
    assert parse_frame('{"type": 1}') == "an event object without a string type"
    assert parse_frame("nope") == (
        "a frame that is not JSON (expected ident at line 1 column 2)")
    assert str(parse_frame('{"type": "x", "n": NaN}')).startswith("a frame that is not JSON")
    assert parse_frame(b"\xff") == "a frame that is not UTF-8 text"
    deep = '{"type": "x", "a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for frame in (deep, deep.encode(), "[" * 100_000):
        said = parse_frame(frame)
        assert isinstance(said, str) and said.startswith(
            "a frame that is not JSON (nested deeper than 200 levels"), said


def test_held_back_tracks_positions_of_any_width() -> None:
    record = ResponseRecord("r1", "a", ResponseFlow(protocol=WS_RESPONSES), 0)
    wide = (("setup", ("x", "y", "z"), True),)
    dependent = (("setup", ("x", "y", "z"), False),)
    assert not record.held_back(wide, {"x": 0, "y": 1, "z": 2})
    assert not record.held_back(dependent, {"x": 0, "y": 1, "z": 2})
    assert record.held_back(dependent, {"x": 0, "y": 1, "z": 3})
    assert not record.held_back(dependent, {"x": 0, "y": 1, "z": "3"})  # no position
    assert not record.held_back(SETUP_ROWS["response.output_text.delta"],
                                {"output_index": None, "content_index": 0})
    assert record.held_back(SETUP_ROWS["response.output_text.delta"],
                            {"output_index": 0, "content_index": 0})
    assert (record.held, record.setup) == (2, {("setup", (0, 1, 2))})
