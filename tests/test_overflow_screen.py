"""The screen that spares the walk for infinite numbers never lets one through:
a large status object with a literal that overflows is still malformed."""

from __future__ import annotations

import json

import pytest

from runflow.engine.core import may_overflow
from runflow.protocols.responses.flow import ResponseFlow

PAD = b" " * 2000  # past the size from which the screen runs


@pytest.mark.parametrize("literal", [b"1e400", b"1E+400", b"-2.5e0400", b"1" + b"0" * 400 + b".0",
                                     b"1" + b"0" * 300 + b"e10", b"9" * 211 + b".5e99"])
def test_a_literal_that_overflows_passes_the_screen(literal: bytes) -> None:
    assert may_overflow(b'{"a":' + literal + b"}" + PAD)


@pytest.mark.parametrize("literal", [b"1.5", b"12e30", b"1700000000", b"\"resp_61e8190ab\"",
                                     b"\"msg_1e819\""])
def test_finite_literals_of_a_large_object_are_screened_out(literal: bytes) -> None:
    assert not may_overflow(b'{"a":' + literal + b"}" + PAD)


def _created(top_p: bytes) -> bytes:
    response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
                "model": "m", "output": [], "tools": [], "tool_choice": "auto",
                "parallel_tool_calls": True, "top_p": "X", "instructions": "x" * 2000}
    data = json.dumps({"type": "response.created", "sequence_number": 0,
                       "response": response}).encode().replace(b'"X"', top_p)
    return b"event: response.created\ndata: " + data + b"\n\n"


@pytest.mark.parametrize(("literal", "codes"), [
    (b"1e400", ["malformed_event"]), (b"1" + b"0" * 400 + b".0", ["malformed_event"]),
    (b"1" + b"0" * 300 + b"e10", ["malformed_event"]),
    (b"1e308", []), (b"0.5", []),
])
def test_a_large_response_with_an_infinite_number_is_malformed(literal: bytes,
                                                              codes: list[str]) -> None:
    flow = ResponseFlow()
    flow.feed_sse(_created(literal))
    assert [v.code.value for v in flow.violations] == codes
