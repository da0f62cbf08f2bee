"""``runflow check`` streams: the layers grade each event as it arrives, the file is
read in chunks, and the findings are those of the batch layers before the change.

* every shared recording and a hostile corpus made from them (tests/check_corpus.py)
  gives the findings pinned from main before the layers became incremental (rule,
  index, severity, grouping, and a digest of every message, entity and line);
* the line of each event, worked out from the flow decoder's offsets, is the one
  feeding the file line by line gives, however the bytes are chunked;
* a recording larger than what is read at once is graded the same as one held in
  memory, and keeps the lines of only the events with a violation or a finding;
* the order layer's state stays within its limits on a stream of many entities.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from check_corpus import PINS, cases_of, check_json, hostile, pinned, recordings
from conftest import RECORDINGS, recordings_dir

from runflow.adapters.recording import (
    CHUNK,
    HEAD,
    RecordingError,
    new_flow,
    open_recording,
    read_recording,
)
from runflow.adapters.recording_feed import Feeder
from runflow.cli import main
from runflow.conform.events import TappedEvent
from runflow.conform.order import Order
from runflow.conform.recorded import grade_replay
from runflow.engine.limits import Limits
from runflow.protocols.registry import REGISTRY


def _names() -> list[str]:
    if not RECORDINGS.is_dir():
        return ["<recordings folder absent>"]
    return [p.relative_to(RECORDINGS).as_posix() for p in recordings(RECORDINGS)]


def _pins() -> dict[str, Any]:
    return dict(json.loads(PINS.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- #
# the same findings as before, on every shared recording and the hostile corpus
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", _names())
def test_check_gives_todays_findings_on_a_recording_and_its_hostile_inputs(
        name: str, tmp_path: Path) -> None:
    folder = recordings_dir()
    pins = _pins()
    differ = []
    for case, path in cases_of(folder / name, folder, tmp_path):
        assert case in pins, f"{case}: not pinned (regenerate: see tests/check_corpus.py)"
        if pinned(check_json(path)) != pins[case]:
            differ.append(case)
    assert differ == []


def test_every_pinned_case_is_still_made() -> None:
    folder = recordings_dir()
    made = set()
    for path in recordings(folder):
        made.add(path.relative_to(folder).as_posix())
        made.update(case for case, _suffix, _data in hostile(path, folder))
    assert made == set(_pins())


def test_the_pins_hold_findings_of_every_layer_and_consequences() -> None:
    rows = [row for pin in _pins().values() for row in pin["findings"]]
    layers = {row[0].split(".")[0] for row in rows}
    assert {"grammar", "payload", "order"} <= layers
    assert any(row[3] == 1 for row in rows)  # grouped under a root cause
    assert any(row[2] == "warning" for row in rows) and any(row[2] == "error" for row in rows)


# --------------------------------------------------------------------------- #
# lines, from the decoder's offsets, however the bytes are chunked
# --------------------------------------------------------------------------- #
def reference_lines(data: bytes, protocol: str) -> dict[int, int]:
    """Event index -> line, as the reader did before: the file fed line by line, each
    dispatched event at the first non-blank line since the last dispatch."""
    flow = new_flow(protocol)
    lines: dict[int, int] = {}
    block_start: int | None = None
    for number, raw in enumerate(data.splitlines(keepends=True), start=1):
        if block_start is None and raw.strip():
            block_start = number
        before = flow.event_count
        flow.feed_sse(raw)
        if flow.event_count > before:
            for index in range(before, flow.event_count):
                lines[index] = block_start if block_start is not None else number
            block_start = None
    if block_start is not None:
        before = flow.event_count
        flow.close()
        for index in range(before, flow.event_count):
            lines[index] = block_start
    return lines


def chunked_lines(data: bytes, protocol: str, size: int) -> dict[int, int]:
    feeder = Feeder(new_flow(protocol), "sse", every_line=True)
    for start in range(0, len(data), size):
        feeder.feed(data[start:start + size])
    feeder.finish(close=True)
    return feeder.lines


ODD_SSE = {
    "crlf": b"event: done\r\ndata: [DONE]\r\n\r\n: c\r\n\r\nevent: x\r\ndata: {}\r\n\r\n",
    "cr only": b"event: x\rdata: {}\r\r\revent: y\rdata: {}\r\r",
    "bom and comments": b"\xef\xbb\xbf: hi\n\n: again\n\nevent: x\ndata: {}\n\n\n\n"
                        b"  \n\t\nevent: y\ndata: {}\n\n",
    "whitespace lines in a block": b"event: x\n \ndata: {}\n\n \n\nevent: y\ndata: [DONE]",
    "no final blank line": b"data: {\"type\": \"response.created\"}\n\nevent: x\ndata: 1",
    "data only": b"data: {}\n\ndata: [DONE]\n\n\n\n\ndata: x\n\n",
}


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize("name", sorted(ODD_SSE))
def test_lines_of_odd_sse_match_feeding_line_by_line(name: str, size: int) -> None:
    data = ODD_SSE[name]
    assert chunked_lines(data, "assistants", size) == reference_lines(data, "assistants")


@pytest.mark.parametrize("name", [n for n in _names() if not n.endswith(".jsonl")])
def test_lines_of_a_recording_match_feeding_line_by_line(name: str) -> None:
    data = (recordings_dir() / name).read_bytes()
    protocol = read_recording(recordings_dir() / name).protocol
    expected = reference_lines(data, protocol)
    assert len(expected) > 0
    for size in (5, 97, 4096):
        assert chunked_lines(data, protocol, size) == expected


def test_jsonl_fed_in_small_chunks_gives_the_same_flow_and_lines() -> None:
    path = recordings_dir() / "dotnet_function_call_continuation.jsonl"
    data = path.read_bytes().replace(b"\n", b"\r\n", 3) + b"not json\r\n{\"event\": 3}"
    whole = Feeder(new_flow("assistants"), "jsonl", every_line=True)
    whole.feed(data)
    whole.finish(close=True)
    for size in (1, 2, 13):
        parts = Feeder(new_flow("assistants"), "jsonl", every_line=True)
        for start in range(0, len(data), size):
            parts.feed(data[start:start + size])
        parts.finish(close=True)
        assert parts.lines == whole.lines
        assert [(v.index, v.code, v.message) for v in parts.flow.violations] == [
            (v.index, v.code, v.message) for v in whole.flow.violations]
    assert [v.message for v in whole.flow.violations if v.code.value == "malformed_event"]


@pytest.mark.parametrize("ended", [True, False])
def test_a_jsonl_line_past_max_event_bytes_is_never_held_whole(ended: bool) -> None:
    """A line longer than the limit, fed in pieces: the feeder holds at most the limit
    of it, the flow counts it as one malformed event at its line, and the lines
    around it are read as usual."""
    cap = 4096
    good = json.dumps({"event": "thread.run.created", "data": {"id": "run_1"}}).encode()
    huge = b'{"event": "thread.message.delta", "data": "' + b"x" * (cap * 8) + b'"}'
    data = good + b"\n" + huge + (b"\n" + good if ended else b"")
    row = REGISTRY["assistants"]
    flow = row.flow_class(protocol=row.definition, limits=Limits(max_event_bytes=cap))
    seen: list[tuple[int, Any]] = []

    class Seen:  # what a grader beside the flow is told of each event
        def sse_event(self, index: int, name: str | None, raw: bytes | None,
                      parsed: Any) -> None:
            raise AssertionError("a JSON lines file has no SSE events")

        def jsonl_event(self, index: int, record: Any, raw: bytes) -> None:
            seen.append((index, record))

        def settle(self, violations: list[Any]) -> None:
            pass

    feeder = Feeder(flow, "jsonl", listener=Seen())
    held = 0
    for start in range(0, len(data), 1000):
        feeder.feed(data[start:start + 1000])
        held = max(held, feeder.held_bytes)
    feeder.finish(close=True)
    assert held <= cap + 1000
    [overlong] = [v for v in feeder.flow.violations if v.index == 1]
    assert overlong.code.value == "malformed_event"
    assert overlong.message == f"line 2: longer than max_event_bytes ({cap:,} bytes); not read"
    assert feeder.flow.event_count == (3 if ended else 2)
    assert [index for index, _ in seen] == list(range(feeder.flow.event_count))
    assert seen[1] == (1, None)  # the overlong line is an event the graders see too


# --------------------------------------------------------------------------- #
# a recording larger than one read: the same findings, lines only where found
# --------------------------------------------------------------------------- #
def _big_recording(tmp_path: Path) -> Path:
    """A real capture with its message grown to several reads' worth of deltas, and a
    payload problem and a duplicated delta near its end."""
    blocks = (recordings_dir() / "dotnet_text_answer.sse").read_bytes().split(b"\n\n")
    deltas = [i for i, b in enumerate(blocks) if b.startswith(b"event: thread.message.delta")]
    grown = blocks[:deltas[0]] + [blocks[deltas[0]]] * ((HEAD + 3 * CHUNK) // 200)
    grown += blocks[deltas[0]:]
    done = next(i for i, b in enumerate(grown) if b.startswith(b"event: thread.run.completed"))
    grown[done] = grown[done].replace(b'"completed_at":', b'"completed_at":null,"x":', 1)
    grown.insert(done - 3, grown[done - 3])
    path = tmp_path / "big.sse"
    path.write_bytes(b"\n\n".join(grown))
    assert path.stat().st_size > HEAD + 2 * CHUNK
    return path


def test_a_recording_larger_than_a_read_is_graded_as_one_held_in_memory(
        tmp_path: Path) -> None:
    path = _big_recording(tmp_path)
    report = check_json(path)
    memory = read_recording(path).replay()
    groups = grade_replay(memory)
    expected = [(g.root.rule, g.root.index,
                 memory.line(g.root.index) if g.root.index is not None else None)
                for g in groups]
    got = [(f["rule"], f["index"], f["line"]) for f in report["findings"]]
    assert got == expected
    assert {f["rule"] for f in report["findings"]} >= {"payload.run.completed_at"}
    assert report["events"] == memory.flow.event_count


def test_a_streamed_replay_keeps_only_the_lines_of_events_it_reports(tmp_path: Path) -> None:
    path = _big_recording(tmp_path)
    replay = open_recording(path).replay()
    assert replay.flow.event_count > 5_000
    assert set(replay.lines) == {v.index for v in replay.flow.violations} - {
        replay.flow.event_count}
    assert replay.recording.name == str(path) and not hasattr(replay.recording, "data")


def test_check_reads_standard_input_in_chunks(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    path = _big_recording(tmp_path)
    reads: list[int] = []

    class Stdin(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(Stdin(path.read_bytes())))
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["check", "--json", "-"])
    assert code == 1
    assert json.loads(out.getvalue())["findings"] == check_json(path)["findings"]
    assert reads and max(reads) <= HEAD and -1 not in reads


@pytest.mark.parametrize(("data", "suffix", "said"), [
    (None, ".sse", "no such file"),
    (b"", ".sse", "empty, no events"),
    (b"\x00\x01binary", ".jsonl", "binary data"),
    (b"just some prose\n" * 10, ".txt", "not a recording"),
    (b'{"object": "thread.run", "id": "run_1"}', ".json", "a single JSON object"),
    (b"[1, 2]", ".json", "a single JSON array"),
])
def test_an_unreadable_input_is_refused_as_before(tmp_path: Path, data: bytes | None,
                                                   suffix: str, said: str) -> None:
    path = tmp_path / f"input{suffix}"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(RecordingError, match=said) as streamed:
        open_recording(path)
    with pytest.raises(RecordingError) as held:
        read_recording(path)
    assert str(streamed.value) == str(held.value)


def test_prose_with_a_recording_line_past_the_head_is_still_a_recording(
        tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"prose\n" * (HEAD // 4) + b"event: done\ndata: [DONE]\n\n")
    assert open_recording(path).format == "sse"


# --------------------------------------------------------------------------- #
# bounded state
# --------------------------------------------------------------------------- #
def _deltas(count: int) -> Iterator[TappedEvent]:
    for i in range(count):
        data = {"id": f"msg_{i}", "object": "thread.message.delta", "delta": {}}
        yield TappedEvent(i, 0, "thread.message.delta", data, None)


def test_the_order_layer_keeps_at_most_its_limit_of_entities() -> None:
    protocol = REGISTRY["assistants"].definition
    layer = Order(protocol, Limits(max_entities=10, max_index=5))
    for event in _deltas(5000):
        assert layer.see(event) == []
    assert len(layer.last) == 15
    assert "message:msg_4999" in layer.last


def test_the_order_layer_forgets_a_stream_once_the_next_begins() -> None:
    protocol = REGISTRY["assistants"].definition
    layer = Order(protocol)
    for event in _deltas(100):
        layer.see(event)
    layer.see(TappedEvent(100, 1, "thread.message.delta", {"id": "msg_x"}, None))
    assert list(layer.last) == ["message:msg_x"]


# --------------------------------------------------------------------------- #
# watch plays a file in two passes of chunks
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", _names())
def test_watch_reads_the_same_events_and_pace_in_chunks(name: str) -> None:
    from runflow.cli.watch.pace import blocks, known_times, paced, schedule, stream_blocks

    recording = read_recording(recordings_dir() / name)
    whole = blocks(recording)
    data = recording.data + b"\r\n\r\n: tail\r"
    expected = list(stream_blocks(recording.format, [data]))
    for size in (3, 64, 4096):
        pieces = [data[i:i + size] for i in range(0, len(data), size)]
        assert list(stream_blocks(recording.format, pieces)) == expected
    stamps = [stamp for _, stamp in whole]
    assert list(paced(known_times(stamps), len(stamps))) == schedule(stamps)
    assert list(zip(paced(known_times(stamps)), range(len(stamps) + 3), strict=False))[-1][0] \
        == (schedule(stamps)[-1] if stamps else 0.0)
