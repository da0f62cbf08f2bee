"""The layers of ``runflow check`` keep a delta's data whatever numbers it holds.

A JSON number a float cannot hold (``1e999``, 400 digits) is valid JSON that
:func:`runflow.engine.jsonparse.parse_json` refuses. Where the flow keeps such a value
it reports it (``malformed_event``), and the layers drop that event's data
(:func:`runflow.conform.events.layers_data`). A delta's values are kept by no layer:
its data stays, so its sequence number is counted (an event repeating it is a
repeat) and ``--types`` says what its shape breaks. Each case here holds on the
streamed grader (``runflow check``) and on the batch layers alike.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from check_corpus import check_json
from pydantic_core import from_json

from runflow.conform.events import TappedEvent, layers_data, observed, sse_event
from runflow.engine.definition import Protocol
from runflow.engine.sse import SSEDecoder
from runflow.protocols.registry import registered

RESPONSES = registered("responses").definition
ASSISTANTS = registered("assistants").definition


def _event(kind: str, seq: int, **fields: Any) -> str:
    body = json.dumps({"type": kind, "sequence_number": seq, **fields}, separators=(",", ":"))
    return f"event: {kind}\ndata: {body}\n\n"


def _stream(delta_extra: str, *, repeat: bool) -> bytes:
    """A response whose third text delta carries ``delta_extra`` (raw JSON members);
    with ``repeat`` the event after it repeats its sequence number."""
    response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
                "model": "m", "output": [], "tools": [], "usage": None,
                "parallel_tool_calls": True, "tool_choice": "auto"}
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    msg = {"id": "msg_1", "type": "message", "status": "in_progress", "content": [],
           "role": "assistant"}
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    out = [_event("response.created", 0, response=response),
           _event("response.in_progress", 1, response=response),
           _event("response.output_item.added", 2, output_index=0, item=msg),
           _event("response.content_part.added", 3, **where, part=part)]
    for i in range(5):
        block = _event("response.output_text.delta", 4 + i, **where, delta=f"w{i}",
                       logprobs=[])
        if i == 2:
            block = block.replace('"logprobs":[]', delta_extra)
        if i == 3 and repeat:
            block = block.replace('"sequence_number":7', '"sequence_number":6')
        out.append(block)
    return "".join(out).encode()


def _rules(report: dict[str, Any]) -> list[tuple[str, int]]:
    rows = []
    for group in report["findings"]:
        rows.append((group["rule"], group["index"]))
        rows += [(f["rule"], f["index"]) for f in group["consequences"]]
    return sorted(rows)


@pytest.mark.parametrize("extra", ['"logprobs":[],"x":1e999', '"logprobs":[],"x":-1E+400',
                                   '"logprobs":[],"x":[[1e999]]',
                                   '"logprobs":[],"x":1' + "0" * 400])
def test_a_repeat_after_a_delta_holding_an_out_of_range_number_is_one(
        tmp_path: Path, extra: str) -> None:
    path = tmp_path / "case.sse"
    path.write_bytes(_stream(extra, repeat=True))
    rules = _rules(check_json(path))
    # event #7 repeats #6's number 6: the layers counted #6 (before, its data was
    # dropped, and the repeat went unseen by them)
    assert ("order.sequence.no_repeats", 7) in rules
    path.write_bytes(_stream(extra, repeat=False))
    assert [r for r in _rules(check_json(path)) if r[0].startswith("order.")] == []


def test_types_says_what_an_out_of_range_number_breaks_in_a_delta(tmp_path: Path) -> None:
    path = tmp_path / "case.sse"
    path.write_bytes(_stream('"logprobs":[1e999]', repeat=False))
    report = check_json(path)
    typed = [f for g in report["findings"] for f in [g, *g["consequences"]]
             if f["rule"].startswith("types.")]
    assert [(f["index"], re.search(r"logprobs\[0\] is inf", f["message"]) is not None)
            for f in typed] == [(6, True)]


def _tapped(protocol: Protocol, block: bytes) -> TappedEvent:
    [raw] = SSEDecoder().feed(block + b"\n\n")
    return sse_event(protocol, 0, 0, raw)


@pytest.mark.parametrize(("block", "kept"), [
    (b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
     b'"sequence_number":3,"x":1e999}', True),
    # named by the type field, whatever the event line says
    (b'event: response.in_progress\ndata: {"type":"response.output_text.delta",'
     b'"sequence_number":3,"x":1e999}', True),
    (b'event: response.in_progress\ndata: {"type":"response.in_progress",'
     b'"sequence_number":3,"response":{"created_at":1e999}}', False),
    (b'event: response.output_text.delta\ndata: {"type":"response.in_progress",'
     b'"sequence_number":3,"x":1e999}', False),
    (b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
     b'"sequence_number":3,"x":1.5e300}', True),
    (b'data: {"sequence_number":3,"x":1e999}', False),  # no name: no delta
])
def test_the_layers_drop_an_out_of_range_number_but_in_a_delta(block: bytes,
                                                                kept: bool) -> None:
    tapped = _tapped(RESPONSES, block)
    assert (tapped.data is not None) is kept
    [raw] = SSEDecoder().feed(block + b"\n\n")
    assert raw.data is not None
    seen = observed(RESPONSES, 0, 0, raw.event, raw.data, from_json(raw.data))
    assert seen.data == tapped.data and seen.name == tapped.name


def test_an_assistants_delta_is_named_by_its_event_line() -> None:
    delta = b'event: thread.message.delta\ndata: {"id":"msg_1","delta":{"x":1e999}}'
    status = b'event: thread.message.in_progress\ndata: {"id":"msg_1","x":1e999}'
    assert _tapped(ASSISTANTS, delta).data is not None
    assert _tapped(ASSISTANTS, status).data is None
    assert layers_data(ASSISTANTS, "thread.message.delta", b"{}", {"x": 1}) == {"x": 1}
