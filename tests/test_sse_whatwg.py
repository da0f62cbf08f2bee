"""The SSE decoder against the WHATWG event-stream parsing algorithm.

:func:`whatwg_events` below is a small reference parser written straight from
the spec text (HTML Living Standard, "9.2.6 Interpreting an event stream"), kept
deliberately naive: decode the whole stream, walk it line by line, run the field
rules. The differential tests feed thousands of random streams (random fields,
values, comments, line ends, BOMs) to :class:`runflow.engine.sse.SSEDecoder` in random
chunks -- empty chunks included, CR/LF/CRLF split anywhere -- and compare the
dispatched ``(event, data)`` sequence with the reference's.

runflow's intentional differences, each checked here rather than filtered away:

1. :meth:`SSEDecoder.close` dispatches a final block that lacks the closing blank
   line (the spec discards it). Real servers close the connection right after
   ``data: [DONE]``; losing that event would misclassify the ending. So what the
   decoder yields in total equals the reference run on ``stream + "\\n\\n"``,
   while what ``feed`` yields alone equals the reference on ``stream``.
2. A block with an ``event`` field and no ``data`` field is dispatched with
   ``data`` None (the spec drops it: its data buffer is empty). One real server
   sent ``event: done`` that way. The reference marks such blocks (the one
   addition to the spec text, flagged below) so the test checks the decoder
   yields exactly those.
3. The event name is the event type buffer verbatim: None when the block had no
   ``event`` field, ``""`` for an empty one. The spec dispatches both as
   ``"message"``; the comparison maps them so.
4. ``data`` is the raw bytes (the flow parses them once as JSON); the comparison
   decodes them as the spec does (UTF-8, errors replaced).
5. ``id`` and ``retry`` are parsed by the spec for reconnection, which runflow does
   not do: the decoder ignores them (they never change what is dispatched).
"""

from __future__ import annotations

import random

import pytest

from runflow.engine.jsonparse import dump_json, parse_json
from runflow.engine.sse import RawEvent, SSEDecoder

Dispatched = tuple[str, str]


# --------------------------------------------------------------------------- #
# the reference: WHATWG "Interpreting an event stream", line by line
# --------------------------------------------------------------------------- #
def whatwg_events(stream: bytes) -> tuple[list[Dispatched], list[int]]:
    """``(dispatched, dropped)``: what a spec-conforming parser dispatches for the
    whole ``stream``; ``dropped`` lists the positions (in ``dispatched``) where a
    block with an ``event`` field but no data was discarded (not spec: see 2.)."""
    # "The stream must then be parsed by ... utf-8 decode": strip one leading BOM,
    # replace invalid sequences with U+FFFD.
    if stream.startswith(b"\xef\xbb\xbf"):
        stream = stream[3:]
    text = stream.decode("utf-8", "replace")

    dispatched: list[Dispatched] = []
    dropped: list[int] = []
    data_buffer = ""
    event_type_buffer = ""
    last_event_id_buffer = ""
    reconnection_time: int | None = None
    saw_event_field = False  # not in the spec: only to locate difference 2

    # "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED
    # (CRLF) character pair, a single U+000A LINE FEED (LF) character, or a single
    # U+000D CARRIAGE RETURN (CR) character." A last line with no end of line is
    # not a line: "any pending data must be discarded".
    lines: list[str] = []
    start = i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\r":
            lines.append(text[start:i])
            i += 2 if text.startswith("\n", i + 1) else 1
            start = i
        elif ch == "\n":
            lines.append(text[start:i])
            i += 1
            start = i
        else:
            i += 1

    for line in lines:
        if line == "":
            # "If the line is empty (a blank line): Dispatch the event"
            last_event_id = last_event_id_buffer  # noqa: F841 (the spec sets it)
            if data_buffer == "":
                if saw_event_field:
                    dropped.append(len(dispatched))
                data_buffer = ""
                event_type_buffer = ""
                saw_event_field = False
                continue
            if data_buffer.endswith("\n"):
                data_buffer = data_buffer[:-1]
            dispatched.append((event_type_buffer or "message", data_buffer))
            data_buffer = ""
            event_type_buffer = ""
            saw_event_field = False
            continue
        if line.startswith(":"):
            continue  # a comment
        if ":" in line:
            field, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
        else:
            field, value = line, ""
        if field == "event":
            event_type_buffer = value
            saw_event_field = True
        elif field == "data":
            data_buffer += value + "\n"
        elif field == "id":
            if "\0" not in value:
                last_event_id_buffer = value
        elif field == "retry":
            if value and all("0" <= c <= "9" for c in value):
                reconnection_time = int(value)  # noqa: F841 (the spec sets it)
        # "Otherwise: The field is ignored."
    return dispatched, dropped


# --------------------------------------------------------------------------- #
# random streams
# --------------------------------------------------------------------------- #
_FIELDS = [b"event", b"data", b"data", b"data", b"id", b"retry", b"", b"Event",
           b"dat", b"datas", b"x-unknown", b" data", b"\xef\xbb\xbfdata", b"event "]
_VALUES = [b"", b"a", b"thread.run.created", b'{"id": "x"}', b" lead", b"a:b", b"::",
           b"\xc3\xa9", b"\xe2\x82", b"\xff", b"\x00", b"123", b"9x", b"\xef\xbb\xbf",
           b"[DONE]", b"  two"]
_ENDS = [b"\n", b"\r\n", b"\r"]


def random_stream(rng: random.Random) -> bytes:
    out = [b"\xef\xbb\xbf" * rng.choice([0, 0, 0, 1, 1, 2])]
    for _ in range(rng.randint(0, 12)):
        for _ in range(rng.randint(0, 5)):
            kind = rng.random()
            if kind < 0.1:
                line = b":" + rng.choice(_VALUES)  # a comment
            elif kind < 0.2:
                line = rng.choice(_FIELDS)  # a field with no colon
            else:
                sep = rng.choice([b":", b": ", b":  "])
                line = rng.choice(_FIELDS) + sep + rng.choice(_VALUES)
            out.append(line + rng.choice(_ENDS))
        out.append(rng.choice(_ENDS) * rng.choice([1, 1, 1, 2]))  # the blank line(s)
    if rng.random() < 0.3:  # end without the closing blank line, maybe mid-line
        out.append(rng.choice([b"data: tail", b"event: e\ndata: t\n", b"data: x\r", b"\r"]))
    return b"".join(out)


def random_chunks(raw: bytes, rng: random.Random) -> list[bytes]:
    """Split anywhere, with empty chunks in between (often right after a CR)."""
    if rng.random() < 0.1:
        cuts = list(range(len(raw) + 1))  # one byte at a time
    else:
        cuts = sorted(rng.sample(range(len(raw) + 1), min(len(raw) + 1, rng.randint(0, 12))))
    chunks, last = [], 0
    for cut in [*cuts, len(raw)]:
        chunks.append(raw[last:cut])
        last = cut
        while rng.random() < 0.3:
            chunks.append(b"")
    return chunks


def as_spec(events: list[RawEvent]) -> list[Dispatched]:
    return [(e.event or "message", e.data.decode("utf-8", "replace"))
            for e in events if e.data is not None]


def decode(chunks: list[bytes], rng: random.Random | None = None) -> tuple[
        list[RawEvent], list[RawEvent]]:
    """``(fed, closed)``: what ``feed`` yielded over all chunks, then ``close``.
    With ``rng``, the decoder is sometimes checkpointed and restored in between."""
    decoder = SSEDecoder()
    fed: list[RawEvent] = []
    for chunk in chunks:
        fed.extend(decoder.feed(chunk))
        if rng is not None and rng.random() < 0.2:
            state = parse_json(dump_json(decoder.state())[0])
            decoder = SSEDecoder()
            decoder.restore(state)
    return fed, decoder.close()


def check_against_reference(raw: bytes, chunks: list[bytes], rng: random.Random) -> None:
    fed, closed = decode(chunks, rng)
    expected, dropped = whatwg_events(raw)
    assert as_spec(fed) == expected, (raw, chunks)
    # difference 2: a data-less block with an event field, exactly where the spec
    # dropped one
    positions = []
    n = 0
    for e in fed:
        if e.data is None:
            positions.append(n)
        else:
            n += 1
    assert positions == dropped, (raw, chunks)
    # difference 1: close() dispatches the unterminated last block
    expected_all, _ = whatwg_events(raw + b"\n\n")
    assert as_spec(fed + closed) == expected_all, (raw, chunks)
    assert len(closed) <= 1
    # chunking never changes what is yielded, offsets included
    whole_fed, whole_closed = decode([raw])
    assert fed + closed == whole_fed + whole_closed, (raw, chunks)


@pytest.mark.parametrize("seed", range(4))
def test_random_streams_match_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(1000):
        raw = random_stream(rng)
        check_against_reference(raw, random_chunks(raw, rng), rng)


def test_random_bytes_match_the_reference() -> None:
    """Unstructured bytes, mostly separators: no assumption about well-formedness."""
    rng = random.Random(99)
    alphabet = [b"\r", b"\n", b":", b" ", b"d", b"data", b"event", b"x", b"\xef\xbb\xbf", b"\xff"]
    for _ in range(2000):
        raw = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        check_against_reference(raw, random_chunks(raw, rng), rng)


# --------------------------------------------------------------------------- #
# the cases that used to break, by name
# --------------------------------------------------------------------------- #
def test_empty_chunk_after_a_chunk_ending_in_cr_keeps_the_crlf_whole() -> None:
    """CRLF split by an empty chunk is still one line end, not a blank line."""
    chunks = [b"event: a\r", b"", b"\ndata: 1\r", b"", b"\n\r", b"", b"\n"]
    fed, closed = decode(chunks)
    assert fed == [RawEvent("a", b"1", 0)]
    assert closed == []


def test_crlf_split_across_a_checkpoint() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\r") == []
    restored = SSEDecoder()
    restored.restore(parse_json(dump_json(decoder.state())[0]))
    assert restored.feed(b"") == []
    assert restored.feed(b"\ndata: 2\r\n\r\n") == [RawEvent(None, b"1\n2", 0)]


def test_bom_is_stripped_once_per_stream() -> None:
    """Only the first BOM of a stream is a BOM; after close() the next bytes are a
    new stream (the response to ``submit_tool_outputs``) and may start with one."""
    bom = b"\xef\xbb\xbf"
    decoder = SSEDecoder()
    assert decoder.feed(bom[:1]) == []
    assert decoder.feed(b"") == []
    assert decoder.feed(bom[1:] + bom + b"data: x\n\ndata: y\n\n") == [RawEvent(None, b"y", 12)]
    # (the second BOM is data: it makes the first line a field named "\ufeffdata")
    assert decoder.close() == []
    fed = decoder.feed(bom + b"data: z\n\n")
    assert [(e.event, e.data) for e in fed] == [(None, b"z")]


def test_cr_at_the_very_end_ends_the_line() -> None:
    fed, closed = decode([b"data: x\r", b"\r"])
    assert fed == [RawEvent(None, b"x", 0)]
    fed, closed = decode([b"data: x\r"])
    assert fed == [] and [(e.event, e.data) for e in closed] == [(None, b"x")]
