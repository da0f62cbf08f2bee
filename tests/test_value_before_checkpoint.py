"""``StreamedText.before`` (the value before the last ``absorb``, which the
``value_kept`` rule compares a final object with when no delta built the value) is
not saved in checkpoints, and need not be: every event the rule runs at carries an
object, which the engine absorbs (setting ``before``) before any ``after`` rule
runs, so the rule never reads a ``before`` an earlier event left. Here a flow loaded
from a checkpoint at every event -- right after the value event too -- finds what
the uninterrupted flow finds."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runflow.engine.violations import Code
from runflow.protocols.responses.flow import ResponseFlow


def _call(arguments: str, status: str) -> dict[str, Any]:
    return {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "f",
            "arguments": arguments, "status": status}


def _stream(value: str, final: str) -> bytes:
    """A function call without deltas (LM Studio's): its value event says ``value``,
    its output_item.done (event 3) ``final``."""
    response = {"id": "resp_1", "object": "response", "created_at": 1,
                "status": "in_progress", "model": "m", "output": [], "tools": []}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {"type": "response.output_item.added", "output_index": 0,
         "item": _call("", "in_progress")},
        {"type": "response.function_call_arguments.done", "item_id": "fc_1",
         "output_index": 0, "arguments": value},
        {"type": "response.output_item.done", "output_index": 0,
         "item": _call(final, "completed")},
        {"type": "response.completed",
         "response": {**response, "status": "completed", "output": [_call(final, "completed")]}},
    ]
    return b"".join(
        f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n".encode()
        for n, e in enumerate(events))


def _found(flow: ResponseFlow) -> list[tuple[str, int, str]]:
    return [(v.code.value, v.index, v.message) for v in flow.violations]


@pytest.mark.parametrize(("value", "final", "kept"), [
    ('{"a": 1}', '{"a": 2}', [(Code.SNAPSHOT_DIVERGENCE, 3)]),
    ('{"a": 1}', '{"a": 1}', []),
])
def test_a_flow_loaded_at_any_event_finds_the_same(value: str, final: str,
                                                   kept: list[tuple[Code, int]]) -> None:
    data = _stream(value, final)
    whole = ResponseFlow()
    whole.feed_sse(data)
    whole.close()
    assert [(v.code, v.index) for v in whole.violations] == kept
    for cut in [i for i in range(len(data)) if data.startswith(b"event: ", i)]:
        first = ResponseFlow()
        first.feed_sse(data[:cut])
        loaded = ResponseFlow.from_json(first.to_json())
        loaded.feed_sse(data[cut:])
        loaded.close()
        assert _found(loaded) == _found(whole), cut
