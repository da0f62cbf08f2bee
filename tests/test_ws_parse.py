"""How a ConnectionFlow reads one frame: a number that overflows to infinity anywhere
in a text frame is a malformed frame whatever its size and wherever it sits (the
screen that spares the walk of the parsed value misses none), the same as the bytes
path says it; and a dict handed in is the flow's own copy."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runflow.protocols.responses.websocket import ConnectionFlow, WsCode
from runflow.protocols.responses.websocket.records import OUT_OF_RANGE, parse_frame


def _delta(**fields: Any) -> dict[str, Any]:
    return {"type": "response.output_text.delta", "sequence_number": 3, "item_id":
            "msg_PZ1SaAqkrmRsLaghktHMj6tE", "output_index": 0, "content_index": 0,
            "logprobs": [], "delta": " word1", "obfuscation": "GP9bT6nFmR",
            "stream_id": "lane0", **fields}


def _with(literal: str, where: str, pad: int) -> str:
    """A delta frame as text with ``literal`` as the value of a field at ``where``
    (top level, or inside a nested object), padded to at least ``pad`` characters."""
    frame = _delta(padding="x" * pad)
    if where == "top":
        frame["extra"] = "@"
    else:
        frame["logprobs"] = [{"token": "a", "top_logprobs": [{"logprob": "@"}]}]
    return json.dumps(frame).replace('"@"', literal)


OVERFLOWING = ["1e999", "-1E400", "1e+400", "2.5e0309", "9" * 400, "-" + "9" * 320 + ".5",
               "1" + "0" * 320 + "e-3"]


@pytest.mark.parametrize("literal", OVERFLOWING)
@pytest.mark.parametrize("where", ["top", "nested"])
@pytest.mark.parametrize("pad", [0, 200, 5000])
def test_a_number_that_overflows_makes_the_text_frame_malformed(literal: str, where: str,
                                                                pad: int) -> None:
    text = _with(literal, where, pad)
    assert parse_frame(text) == OUT_OF_RANGE
    assert parse_frame(text.encode()) == OUT_OF_RANGE  # the bytes path: parse_json's words
    flow = ConnectionFlow()
    found = flow.receive(text)
    assert [(v.code, v.index, v.message) for v in found] == [
        (WsCode.MALFORMED_FRAME.value, 0, OUT_OF_RANGE)]


@pytest.mark.parametrize("literal", ["1e99", "1e-999", "123456789012345", "0.000001",
                                     "1" + "0" * 190, '"e123 999e400"'])
@pytest.mark.parametrize("pad", [0, 5000])
def test_finite_numbers_and_digits_in_strings_are_read(literal: str, pad: int) -> None:
    text = _with(literal, "top", pad)
    assert parse_frame(text) == json.loads(text)


def test_text_that_is_not_an_event_says_so_before_and_after_the_screen() -> None:
    assert parse_frame("[1e999]") == OUT_OF_RANGE
    assert parse_frame("[1]") == "a frame holding list, not an event object"
    assert parse_frame('{"type": 5}') == "an event object without a string type"
    assert str(parse_frame("{")).startswith("a frame that is not JSON (")


def test_a_dict_handed_in_is_copied_so_later_changes_do_not_reach_the_flow() -> None:
    flow = ConnectionFlow()
    refused: dict[str, object] = {"type": "error", "error": {"code": "x", "message": "m"}}
    flow.receive(refused)
    refused["type"] = "changed"
    refused["extra"] = True
    assert flow.errors == [{"type": "error", "error": {"code": "x", "message": "m"}}]


def _created(**response: Any) -> dict[str, Any]:
    return {"type": "response.created", "sequence_number": 0, "stream_id": "lane0",
            "response": {"id": "resp_1", "object": "response", "created_at": 1,
                         "status": "in_progress", "model": "gpt-4o", "output": [],
                         "tools": [], "parallel_tool_calls": True, "tool_choice": "auto",
                         **response}}


def test_a_dict_frame_holding_infinity_is_still_checked_by_the_response_flow() -> None:
    """Only text frames are vouched for (``feed(..., finite=True)``): parse_frame screened
    them. A dict handed in is not, so its response's flow walks it and refuses the
    infinite number as it refuses one fed to it directly."""
    flow = ConnectionFlow()
    flow.send({"type": "response.create", "stream_id": "lane0", "model": "gpt-4o"})
    found = flow.receive(_created(temperature=float("inf")))
    assert [(v.code, v.index, v.source) for v in found] == [("malformed_event", 1, "response")]
    assert "NaN or infinite" in found[0].message


def test_a_text_frame_skips_no_check_the_dict_frame_gets() -> None:
    """The same created event as text and as a dict: the same verdicts, the same
    response state (the text one skips only the walk its screen already did)."""
    outcomes = []
    for as_text in (True, False):
        flow = ConnectionFlow()
        flow.send({"type": "response.create", "stream_id": "lane0", "model": "gpt-4o"})
        frame = _created(temperature=1e308, metadata={"n": "9" * 300})
        flow.receive(json.dumps(frame) if as_text else frame)
        record = flow.response("resp_1")
        outcomes.append(([(v.code, v.index) for v in flow.violations],
                         record.flow.status, record.flow.to_json()))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == [] and outcomes[0][1] == "in_progress"
