"""A WebSocket checkpoint keeps the flow's Limits and its violation counts: the
restored ConnectionFlow stores, cuts and suppresses violations as the saved one
does, and gives the same limits to the responses it starts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runflow.engine.checkpoint import CheckpointError
from runflow.engine.limits import Limits
from runflow.protocols.responses.websocket import ConnectionFlow, WsCode
from runflow.protocols.responses.websocket.checkpoint import dump_connection, load_connection

LIMITS = Limits(max_repeated_violations=2, max_message_text=60, max_index=7)


def _stray(n: int) -> dict[str, Any]:
    """An event on a lane no create named: one unknown_lane each."""
    return {"type": "response.output_text.delta", "sequence_number": n,
            "stream_id": "nowhere-" + "x" * 80, "delta": "d"}


def _outcome(flow: ConnectionFlow) -> tuple[Any, ...]:
    return ([v.model_dump() for v in flow.violations], dict(flow.suppressed),
            dict(flow.repeats), flow.index)


@pytest.mark.parametrize("saved_after", [1, 2, 3, 5])
def test_a_restored_flow_suppresses_and_cuts_as_the_saved_one(saved_after: int) -> None:
    flow = ConnectionFlow(LIMITS)
    for n in range(saved_after):
        flow.receive(_stray(n))
    restored = load_connection(dump_connection(flow))
    assert restored.limits == LIMITS
    assert _outcome(restored) == _outcome(flow)
    for n in range(saved_after, 8):
        assert restored.receive(_stray(n)) == flow.receive(_stray(n))
    assert _outcome(restored) == _outcome(flow)
    codes = [v.code for v in flow.violations]
    assert codes == [WsCode.UNKNOWN_LANE.value] * 2 + ["limit_exceeded"]
    assert flow.suppressed == {WsCode.UNKNOWN_LANE.value: 6}
    assert all(len(v.message) < 100 for v in flow.violations)  # cut at 60, saying so


def test_a_response_started_after_the_restore_gets_the_saved_limits() -> None:
    flow = ConnectionFlow(LIMITS)
    flow.send({"type": "response.create", "model": "m", "input": "hi", "stream_id": "a"})
    restored = load_connection(dump_connection(flow))
    created = {"type": "response.created", "sequence_number": 0, "stream_id": "a",
               "response": {"id": "resp_1", "object": "response", "status": "in_progress",
                            "output": []}}
    assert restored.receive(created) == []
    assert restored.response("resp_1").flow.limits == LIMITS


def test_a_checkpoint_of_the_first_format_loads_with_the_default_limits() -> None:
    flow = ConnectionFlow(LIMITS)
    flow.receive(_stray(0))
    data = json.loads(dump_connection(flow))
    for name in ("limits", "repeats", "suppressed"):
        del data[name]
    data["format"] = "runflow.responses-ws/1"
    restored = load_connection(json.dumps(data))
    assert restored.limits == Limits()
    assert restored.repeats == {} and restored.suppressed == {}
    assert [v.code for v in restored.violations] == [WsCode.UNKNOWN_LANE.value]


@pytest.mark.parametrize(("name", "value"), [
    ("limits", {"max_index": 0}), ("limits", {"max_index": "7"}), ("limits", {"nope": 1}),
    ("limits", []), ("repeats", [["unknown_lane", 5, 1]]), ("repeats", [["c", None]]),
    ("repeats", {}), ("suppressed", {"unknown_lane": -1}), ("suppressed", {"x": 1.5}),
    ("suppressed", [])])
def test_broken_limits_or_counts_are_a_checkpoint_error(name: str, value: Any) -> None:
    data = json.loads(dump_connection(ConnectionFlow(LIMITS)))
    data[name] = value
    with pytest.raises(CheckpointError):
        load_connection(json.dumps(data))
