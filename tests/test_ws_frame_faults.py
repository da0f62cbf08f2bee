"""Which server frame a WebSocket frame fault takes (runflow/server/websocket_faults.py):
the first fault due at the transcript's length, on a frame it can act on. The faults'
effect on a real client is proved end to end by tests/test_websocket_conform.py."""

from __future__ import annotations

from runflow.server import websocket
from runflow.server.websocket_faults import FAULTS, FRAME_FAULTS, WsFault, frame_fault

DELTA = {"type": "response.output_text.delta", "item_id": "msg_1", "delta": "x"}
CREATED = {"type": "response.created", "response": {"id": "resp_1"}}


def _due(*faults: WsFault) -> dict[str, WsFault]:
    return {f.name: f for f in faults}


def test_a_fault_waits_for_its_index() -> None:
    faults = _due(WsFault("duplicate", at=3))
    assert frame_fault(faults, 2, DELTA, []) is None
    assert frame_fault(faults, 3, DELTA, []) == WsFault("duplicate", 3)
    assert frame_fault(faults, 9, CREATED, []) == WsFault("duplicate", 3)


def test_drop_waits_for_a_frame_inside_a_response() -> None:
    faults = _due(WsFault("drop"))
    assert frame_fault(faults, 0, CREATED, []) is None
    assert frame_fault(faults, 1, DELTA, []) == WsFault("drop")


def test_wrong_lane_waits_for_an_item_frame_while_another_lane_runs() -> None:
    faults = _due(WsFault("wrong_lane"))
    assert frame_fault(faults, 0, DELTA, []) is None
    assert frame_fault(faults, 0, CREATED, ["b"]) is None
    assert frame_fault(faults, 0, DELTA, ["b"]) == WsFault("wrong_lane")


def test_the_first_fault_due_decides_and_connection_faults_take_no_frame() -> None:
    faults = _due(WsFault("steer_unacked"), WsFault("drop", at=0), WsFault("cut", at=0))
    assert frame_fault(faults, 0, DELTA, []) == WsFault("drop")
    # the first due cannot act on this frame: none does (the next frame is tried)
    assert frame_fault(faults, 0, CREATED, []) is None
    assert frame_fault(_due(WsFault("busy_lane"), WsFault("successor_uncommitted")),
                       5, DELTA, ["b"]) is None


def test_the_server_module_still_offers_the_switches() -> None:
    assert websocket.FAULTS is FAULTS and websocket.WsFault is WsFault
    assert set(FRAME_FAULTS) < set(FAULTS)
