"""ConnectionFlow on hand-written conversations: each rule at its frame, the WebSocket
variant's optional setup events, the steering ledger and the callbacks."""

from __future__ import annotations

from typing import Any

from runflow.protocols.responses.websocket import ConnectionFlow, LaneRecord, SteerRecord
from runflow.protocols.responses.websocket.definition import (
    OPTIONAL_SETUP,
    RULES,
    WS_RESPONSES,
    WsCode,
)
from runflow.protocols.responses.websocket.records import ResponseRecord


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
