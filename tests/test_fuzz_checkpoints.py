"""Checkpoints of flows the type fuzz builds: what the key fuzz's checkpoint oracle
(:mod:`runflow.testing.typefuzz_keyinput`) found when run over the value inputs
too. A flow must never save what it cannot load."""

from __future__ import annotations

import json

import pytest

from runflow import ResponseFlow

RESPONSE = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
            "model": "m", "output": [], "tools": [], "parallel_tool_calls": True,
            "tool_choice": "auto"}


@pytest.mark.parametrize("how", ["dict", "sse"])
def test_a_sequence_number_past_a_float_is_refused_and_the_flow_checkpoints(how: str) -> None:
    """A 400-digit ``sequence_number`` was taken (``sequence_gap``) and kept as the
    last number, and the checkpoint then did not load (``a number is out of range``)."""
    flow = ResponseFlow()
    flow.feed({"type": "response.created", "sequence_number": 0, "response": RESPONSE})
    event = {"type": "response.in_progress", "sequence_number": 10**400, "response": RESPONSE}
    if how == "dict":
        flow.feed(event)
    else:
        flow.feed_sse(b"event: response.in_progress\ndata: " + json.dumps(event).encode()
                      + b"\n\n")
    assert [(v.code, v.index) for v in flow.violations] == [("malformed_event", 1)]
    flow.feed({"type": "response.completed", "sequence_number": 1,
               "response": {**RESPONSE, "status": "completed"}})
    assert flow.close() == "done" and len(flow.violations) == 1
    saved = flow.to_json()
    assert ResponseFlow.from_json(saved).to_json() == saved
