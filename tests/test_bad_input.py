"""Bad input and SSE decoding.

Each kind of bad input gives one ``malformed_event`` at its index, and the flow
keeps going: later events are still processed and the run still reaches its
final state. SSE bytes may be split anywhere (even inside a UTF-8 character), use
LF, CRLF or CR line ends, and carry comments, ``id:`` and ``retry:`` lines: the
flow must end exactly as when fed the parsed ``.jsonl`` recording.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from conftest import load_bytes, load_events, recordings_dir, sse_files
from mutations import Event, drop, update

from runflow import Limits, ProtocolError, RunFlow
from runflow.engine.sse import RawEvent, SSEDecoder

TEXT = "dotnet_text_answer.jsonl"
CITATION = "dotnet_file_search_file_citation"
T_MSG = "msg_Tn5DNmiQEPZ80biW5AukKrvH"


def to_sse(events: list[Event]) -> bytes:
    """An SSE body as real servers send it: ``event:`` + one ``data:`` line."""
    out = []
    for e in events:
        data = e["data"]
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        out.append(f"event: {e['event']}\ndata: {text}\n\n".encode())
    return b"".join(out)


def summary(flow: RunFlow) -> dict[str, Any]:
    def dump(model: Any) -> Any:
        return None if model is None else model.model_dump(mode="json", warnings=False)

    return {
        "violations": [(v.code, v.severity, v.index, v.event, v.entity) for v in flow.violations],
        "ending": flow.ending,
        "events": flow.event_count,
        "run_status": flow.run_status,
        "steps": flow.step_states,
        "messages": flow.message_states,
        "run": dump(flow.run),
        "thread": dump(flow.thread),
        "step": {i: dump(flow.step(i)) for i in flow.step_states},
        "message": {i: dump(flow.message(i)) for i in flow.message_states},
        "text": flow.text,
    }


def from_events(events: list[Event]) -> RunFlow:
    flow = RunFlow()
    for e in events:
        flow.feed(e)
    flow.close()
    return flow


def from_chunks(chunks: list[bytes]) -> RunFlow:
    flow = RunFlow()
    for c in chunks:
        flow.feed_sse(c)
    flow.close()
    return flow


def split(raw: bytes, rng: random.Random, most: int = 200) -> list[bytes]:
    chunks, i = [], 0
    while i < len(raw):
        n = rng.randint(1, most)
        chunks.append(raw[i : i + n])
        i += n
    return chunks


def assert_kept_going(flow: RunFlow, total: int) -> None:
    assert flow.event_count == total
    assert flow.ending == "done"
    assert flow.run_status == "completed"
    assert flow.message_state(T_MSG) == "completed"


# --------------------------------------------------------------------------- #
# malformed events
# --------------------------------------------------------------------------- #
def malformed(flow: RunFlow) -> list[tuple[str, str, int, str | None]]:
    return [(v.code.value, v.severity, v.index, v.event) for v in flow.violations]


def test_invalid_json_via_feed_sse() -> None:
    events = load_events(TEXT)
    raw = to_sse(events)
    block = to_sse(events[6:7])
    bad = b"event: thread.message.in_progress\ndata: {bad\n\n"
    assert raw.count(block) == 1
    flow = from_chunks([raw.replace(block, bad)])
    assert malformed(flow) == [("malformed_event", "error", 6, "thread.message.in_progress")]
    assert f"at byte {raw.index(block)}" in flow.violations[0].message
    assert_kept_going(flow, len(events))
    # the same report, wherever the chunks are cut
    bad_raw = raw.replace(block, bad)
    for most in (1, 9, 300):
        other = from_chunks(split(bad_raw, random.Random(most), most))
        assert [str(v) for v in other.violations] == [str(v) for v in flow.violations]


@pytest.mark.parametrize("data", [b"{bad", b'{"id": "msg_', b"\xff\xfe{}", b""],
                         ids=["broken", "cut", "not utf-8", "empty"])
def test_invalid_json_via_feed(data: bytes) -> None:
    events = load_events(TEXT)
    events[6] = {"event": "thread.message.in_progress", "data": data}
    flow = from_events(events)
    assert malformed(flow) == [("malformed_event", "error", 6, "thread.message.in_progress")]
    assert_kept_going(flow, len(events))


@pytest.mark.parametrize("data", [[1, 2], "text", 42, None, True],
                         ids=["list", "str", "int", "None", "bool"])
def test_data_that_is_not_an_object(data: Any) -> None:
    events = load_events(TEXT)
    events[6] = {"event": "thread.message.in_progress", "data": data}
    flow = from_events(events)
    assert malformed(flow) == [("malformed_event", "error", 6, "thread.message.in_progress")]
    assert_kept_going(flow, len(events))


@pytest.mark.parametrize("index", [4, 6, 1])
def test_status_event_without_id(index: int) -> None:
    events = update(load_events(TEXT), index, lambda e: e["data"].pop("id"))
    flow = from_events(events)
    assert malformed(flow) == [("malformed_event", "error", index, events[index]["event"])]
    assert "id: required" in flow.violations[0].message
    assert_kept_going(flow, len(events))


def test_status_event_without_status() -> None:
    events = update(load_events(TEXT), 6, lambda e: e["data"].pop("status"))
    flow = from_events(events)
    assert malformed(flow) == [("malformed_event", "error", 6, "thread.message.in_progress")]
    assert "status: required" in flow.violations[0].message
    assert_kept_going(flow, len(events))


@pytest.mark.parametrize("field", ["id", "delta"])
def test_delta_without_id_or_delta(field: str) -> None:
    events = update(load_events(TEXT), 20, lambda e: e["data"].pop(field))
    flow = from_events(events)
    first, *rest = malformed(flow)
    assert first == ("malformed_event", "error", 20, "thread.message.delta")
    # the lost fragment is missing from the rebuilt text: the server's final word wins
    assert [v[0] for v in rest] == ["snapshot_divergence"]
    assert_kept_going(flow, len(events))


def test_sse_block_without_data() -> None:
    events = load_events(TEXT)
    raw = to_sse(events)
    block = to_sse(events[6:7])
    flow = from_chunks([raw.replace(block, b"event: thread.message.in_progress\n\n")])
    assert malformed(flow) == [("malformed_event", "error", 6, "thread.message.in_progress")]
    assert_kept_going(flow, len(events))


def test_done_without_data_is_accepted() -> None:
    events = load_events(TEXT)
    raw = to_sse(events).replace(b"event: done\ndata: [DONE]\n\n", b"event: done\n\n")
    flow = from_chunks([raw])
    assert flow.violations == []
    assert_kept_going(flow, len(events))


@pytest.mark.parametrize("event", [{}, {"event": None}, {"event": 7}],
                         ids=["missing", "None", "not a string"])
def test_mapping_without_event_name(event: dict[str, Any]) -> None:
    events = load_events(TEXT)
    events[6] = {**event, "data": events[6]["data"]}
    flow = from_events(events)
    assert malformed(flow) == [("malformed_event", "error", 6, None)]
    assert_kept_going(flow, len(events))


def test_several_bad_events_each_counted_once() -> None:
    events = load_events(TEXT)
    events[1] = {"event": "thread.run.queued", "data": b"{bad"}
    events[4] = {"data": events[4]["data"]}
    events[6] = {"event": "thread.message.in_progress", "data": [1]}
    flow = from_events(events)
    assert [(v.code.value, v.index) for v in flow.violations] == [
        ("malformed_event", 1), ("malformed_event", 4), ("malformed_event", 6)
    ]
    assert_kept_going(flow, len(events))


@pytest.mark.parametrize("body", [
    {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}},
    {"message": "boom", "type": "server_error", "param": None, "code": None},
], ids=["wrapped", "bare"])
def test_error_event_shapes(body: dict[str, Any]) -> None:
    events = [*drop(load_events(TEXT), 40, 41, 42, 43), {"event": "error", "data": body}]
    flow = from_events(events)
    assert flow.violations == []
    assert flow.ending == "error"
    assert flow.error is not None
    assert flow.error.message == "boom"


# --------------------------------------------------------------------------- #
# SSE decoding
# --------------------------------------------------------------------------- #
SSE_FILES = list(sse_files())


def jsonl_reference(sse_name: str) -> dict[str, Any]:
    return summary(from_events(load_events(sse_name.removesuffix(".sse") + ".jsonl")))


def test_sse_files_are_paired() -> None:
    recordings_dir()  # skips with a reason (fails under CI) when they are absent
    assert len(SSE_FILES) >= 20


@pytest.mark.parametrize("name", SSE_FILES)
def test_sse_in_random_chunks_equals_jsonl(name: str) -> None:
    raw = load_bytes(name)
    expected = jsonl_reference(name)
    assert summary(from_chunks([raw])) == expected
    rng = random.Random(name)
    for most in (3, 17, 500):
        assert summary(from_chunks(split(raw, rng, most))) == expected


@pytest.mark.parametrize("name", [f"{CITATION}.sse", "dotnet_text_answer.sse"])
def test_sse_byte_by_byte_equals_jsonl(name: str) -> None:
    raw = load_bytes(name)
    flow = RunFlow()
    for i in range(len(raw)):
        flow.feed_sse(raw[i : i + 1])
    flow.close()
    assert summary(flow) == jsonl_reference(name)


def test_split_inside_a_utf8_character() -> None:
    raw = load_bytes(f"{CITATION}.sse")
    marker = "【4:0†favorite_foods.txt】".encode()
    at = raw.index(marker) + 1  # inside the 3-byte "【"
    assert raw[at] & 0xC0 == 0x80  # a continuation byte
    flow = from_chunks([raw[:at], raw[at:]])
    assert summary(flow) == jsonl_reference(f"{CITATION}.sse")
    assert "【4:0†favorite_foods.txt】" in flow.text
    # and every split point inside every multi-byte character of the file
    points = [i for i in range(len(raw)) if raw[i] & 0xC0 == 0x80]
    assert len(points) > 10
    chunks, last = [], 0
    for p in points:
        chunks.append(raw[last:p])
        last = p
    chunks.append(raw[last:])
    assert summary(from_chunks(chunks)) == jsonl_reference(f"{CITATION}.sse")


@pytest.mark.parametrize("newline", [b"\r\n", b"\r", b"\n"], ids=["CRLF", "CR", "LF"])
def test_line_endings(newline: bytes) -> None:
    raw = load_bytes("dotnet_text_answer.sse")
    assert b"\r" not in raw
    converted = raw.replace(b"\n", newline)
    expected = jsonl_reference("dotnet_text_answer.sse")
    assert summary(from_chunks([converted])) == expected
    # byte by byte: a CRLF split between two chunks is still one line end
    assert summary(from_chunks([converted[i : i + 1] for i in range(len(converted))])) == expected
    rng = random.Random(7)
    assert summary(from_chunks(split(converted, rng, 40))) == expected


def test_comments_id_and_retry_are_ignored() -> None:
    events = load_events(TEXT)
    blocks = []
    for n, e in enumerate(events):
        block = to_sse([e])
        head, _, rest = block.partition(b"\n")
        blocks.append(b": keep-alive\n" + head + b"\nid: " + str(n).encode() + b"\nretry: 1000\n"
                      + rest)
        blocks.append(b": ping\n\n")  # a block with only a comment dispatches nothing
    raw = b"".join(blocks)
    expected = summary(from_events(events))
    assert summary(from_chunks([raw])) == expected
    assert summary(from_chunks(split(raw, random.Random(3), 11))) == expected


def test_multiline_data_is_joined_with_newlines() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: x\ndata: a\ndata:b\ndata:  c\n\n") == [
        RawEvent("x", b"a\nb\n c", 0)
    ]
    # a flow reads JSON spread over several data lines (JSON allows the newlines)
    events = load_events(TEXT)
    out = []
    for e in events:
        data = e["data"]
        text = data if isinstance(data, str) else json.dumps(data, indent=1)
        lines = "".join(f"data: {line}\n" for line in text.split("\n"))
        out.append(f"event: {e['event']}\n{lines}\n".encode())
    raw = b"".join(out)
    assert raw.count(b"\ndata: ") > 2 * len(events)
    assert summary(from_chunks([raw])) == summary(from_events(events))


def test_last_event_without_blank_line_is_dispatched_at_close() -> None:
    raw = load_bytes("dotnet_text_answer.sse").rstrip(b"\n")
    assert raw.endswith(b"data: [DONE]")
    flow = RunFlow()
    flow.feed_sse(raw)
    assert flow.event_count == 43
    assert flow.ending is None
    assert flow.close() == "done"
    assert flow.event_count == 44
    assert flow.violations == []

    decoder = SSEDecoder()
    assert decoder.feed(b"event: done\ndata: [DONE]") == []
    assert decoder.close() == [RawEvent("done", b"[DONE]", 0)]


def test_decoder_offsets_and_bom() -> None:
    decoder = SSEDecoder()
    body = b"event: a\ndata: 1\n\nevent: b\ndata: 2\n\n"
    assert decoder.feed(b"\xef\xbb\xbf" + body[:12]) == []
    assert decoder.feed(body[12:]) == [RawEvent("a", b"1", 0), RawEvent("b", b"2", 18)]
    assert decoder.close() == []


def test_feed_sse_returns_the_violations_of_its_chunk() -> None:
    events = load_events(TEXT)
    raw = to_sse(events[:6]) + b"event: thread.message.in_progress\ndata: {bad\n\n"
    flow = RunFlow()
    assert flow.feed_sse(raw[:-3]) == []
    new = flow.feed_sse(raw[-3:])
    assert [(v.code.value, v.index) for v in new] == [("malformed_event", 6)]


def test_bom_split_across_chunks_is_still_stripped() -> None:
    """The decoder strips a leading UTF-8 BOM; chunk boundaries may fall anywhere,
    including inside the BOM itself."""
    raw = b"\xef\xbb\xbf" + load_bytes("dotnet_text_answer.sse")
    expected = jsonl_reference("dotnet_text_answer.sse")
    assert summary(from_chunks([raw])) == expected
    assert summary(from_chunks([raw[:1], raw[1:]])) == expected
    assert summary(from_chunks([raw[i : i + 1] for i in range(len(raw))])) == expected


# --------------------------------------------------------------------------- #
# max_event_bytes and chunking (the limit itself is tested with the limits issue;
# these check that SSE chunking does not change what the flow reports)
# --------------------------------------------------------------------------- #
def strict_chunks(chunks: list[bytes], limits: Limits) -> tuple[RunFlow, list[int]]:
    """Feed a strict flow, catching each raise and going on until all is fed."""
    flow = RunFlow(strict=True, limits=limits)
    raised = []
    for chunk in chunks:
        for c in (chunk, *[b""] * 100):
            try:
                flow.feed_sse(c)
                break
            except ProtocolError as exc:
                raised.append(exc.violation.index)
    for _ in range(100):
        try:
            flow.close()
            break
        except ProtocolError as exc:
            raised.append(exc.violation.index)
    return flow, raised


def _three_chunks() -> list[bytes]:
    """The text answer in three chunks; the second ends inside message.created
    (block 5, 409 bytes) after two complete events (blocks 3 and 4)."""
    blocks = load_bytes("dotnet_text_answer.sse").split(b"\n\n")
    assert blocks[5].startswith(b"event: thread.message.created")
    return [
        b"\n\n".join(blocks[:3]) + b"\n\n",
        b"\n\n".join(blocks[3:5]) + b"\n\n" + blocks[5][:400],
        blocks[5][400:] + b"\n\n" + b"\n\n".join(blocks[6:]),
    ]


def test_oversized_event_keeps_its_place_in_the_stream() -> None:
    limits = Limits(max_event_bytes=350)
    flow = from_chunks_with(_three_chunks(), limits)
    # message.created is the 6th event (index 5); the two events before it in the
    # same chunk keep indices 3 and 4. (Blocks 0-2, full Run objects, are over the
    # limit too: the limit does not depend on chunking.)
    blocks = load_bytes("dotnet_text_answer.sse").split(b"\n\n")
    over = [i for i, block in enumerate(blocks) if len(block) > 350]
    assert 5 in over
    assert [v.index for v in flow.violations if v.code.value == "limit_exceeded"] == over
    assert flow.event_count == 44


def test_strict_oversized_event_loses_nothing() -> None:
    limits = Limits(max_event_bytes=350)
    chunks = _three_chunks()
    reference = from_chunks_with(chunks, limits)
    flow, raised = strict_chunks(chunks, limits)
    assert raised == [v.index for v in reference.errors]
    assert summary(flow) == summary(reference)


def from_chunks_with(chunks: list[bytes], limits: Limits) -> RunFlow:
    flow = RunFlow(limits=limits)
    for c in chunks:
        flow.feed_sse(c)
    flow.close()
    return flow


def test_max_event_bytes_does_not_depend_on_chunking() -> None:
    raw = load_bytes("dotnet_text_answer.sse")
    limits = Limits(max_event_bytes=700)
    big = [i for i, b in enumerate(raw.split(b"\n\n")) if len(b) > 700]
    assert big == [0, 1, 2, 42]
    results = []
    for chunks in ([raw], [raw[i : i + 100] for i in range(0, len(raw), 100)],
                   [raw[i : i + 1] for i in range(len(raw))]):
        flow = from_chunks_with(chunks, limits)
        results.append([(v.code.value, v.index) for v in flow.violations
                        if v.code.value == "limit_exceeded"])
    assert results[0] == results[1] == results[2]
    assert [i for _, i in results[2]] == big
