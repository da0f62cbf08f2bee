"""``runflow check``: the line a finding names, far into a file read in chunks, whose
lines end in CRLF and LF by turns.

The feeder places each event by the flow decoder's byte offsets (line breaks
normalized to LF) and works out the line only for the events a finding or a
violation names; here the line is counted from the file itself (the first line of
the event's block), past the first read (``HEAD``) and several reads after it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from check_corpus import check_json
from test_check_streaming import ODD_SSE, reference_lines

from runflow.adapters.recording import CHUNK, HEAD, new_flow
from runflow.adapters.recording_feed import Feeder

P = "response."


def _block(kind: str, seq: int, **fields: Any) -> str:
    body = json.dumps({"type": kind, "sequence_number": seq, **fields}, separators=(",", ":"))
    return f"event: {kind}\ndata: {body}\n\n"


def _stream(deltas: int) -> list[str]:
    """A response with one message of ``deltas`` text deltas, then completed."""
    response = {"id": "resp_1", "object": "response", "created_at": 1,
                "status": "in_progress", "model": "gpt-4o", "output": [], "tools": [],
                "usage": None}
    msg = {"id": "msg_1", "type": "message", "status": "in_progress", "content": [],
           "role": "assistant"}
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    seq = iter(range(1_000_000))
    blocks = [_block(P + "created", next(seq), response=response),
              _block(P + "in_progress", next(seq), response=response),
              _block(P + "output_item.added", next(seq), output_index=0, item=msg),
              _block(P + "content_part.added", next(seq), **where, part=empty)]
    blocks += [_block(P + "output_text.delta", next(seq), **where, delta=" w",
                      logprobs=[], obfuscation="abcdefgh") for _ in range(deltas)]
    text = " w" * deltas
    part = {**empty, "text": text}
    blocks.append(_block(P + "output_text.done", next(seq), **where, text=text, logprobs=[]))
    blocks.append(_block(P + "content_part.done", next(seq), **where, part=part))
    done = {**msg, "status": "completed", "content": [part]}
    blocks.append(_block(P + "output_item.done", next(seq), output_index=0, item=done))
    blocks.append(_block(P + "completed", next(seq),
                         response={**response, "status": "completed", "output": [done]}))
    return blocks


def test_a_finding_far_into_a_file_of_crlf_and_lf_lines_names_its_line(
        tmp_path: Path) -> None:
    blocks = _stream(12_000)
    near_end = len(blocks) - 10
    # a delta sent twice, near the end: the repeat repeats its sequence number
    blocks.insert(near_end + 1, blocks[near_end])
    # every third block's lines end in CRLF, and one line is a lone CR's
    text = [b.replace("\n", "\r\n") if i % 3 == 0 else b for i, b in enumerate(blocks)]
    text[5] = text[5].replace("\n", "\r", 1)
    data = "".join(text).encode()
    assert len(data) > HEAD + 3 * CHUNK
    path = tmp_path / "mixed.sse"
    path.write_bytes(data)

    report = check_json(path)

    repeat = near_end + 1  # its index: one event per block
    line = len("".join(text[:repeat]).encode().replace(b"\r\n", b"\n")
               .replace(b"\r", b"\n").split(b"\n"))
    assert line == 3 * repeat + 1  # three lines a block, however they end
    found = [(f["rule"], f["index"], f["line"]) for f in report["findings"]]
    assert ("order.sequence.no_repeats", repeat, line) in found
    assert all(v["line"] == line for v in report["violations"] if v["index"] == repeat)


def _lines_found_later(data: bytes, size: int, again: int) -> dict[int, int]:
    """Every event's line, found by reading ``data`` again (in reads of ``again``
    bytes) after it was fed in chunks of ``size``."""
    feeder = Feeder(new_flow("assistants"), "sse", every_line=True)
    feeder.lines_later(lambda: (data[i:i + again] for i in range(0, len(data), again)))
    for start in range(0, len(data), size):
        feeder.feed(data[start:start + size])
    feeder.finish(close=True)
    assert feeder.lines == {}  # nothing counted while fed
    feeder.find_lines()
    return feeder.lines


@pytest.mark.parametrize("name", sorted(ODD_SSE))
def test_lines_found_by_reading_again_are_those_counted_while_fed(name: str) -> None:
    data = ODD_SSE[name]
    expected = reference_lines(data, "assistants")
    for size, again in ((1, 3), (7, 1), (64, 1 << 20), (1 << 20, 2)):
        assert _lines_found_later(data, size, again) == expected


def test_lines_of_an_input_that_cannot_be_read_again_stay_unknown() -> None:
    def gone() -> Iterator[bytes]:
        raise FileNotFoundError("gone")
        yield b""

    feeder = Feeder(new_flow("assistants"), "sse", every_line=True)
    feeder.lines_later(gone)
    feeder.feed(ODD_SSE["crlf"])
    feeder.finish(close=True)
    feeder.find_lines()
    assert feeder.lines == {}
