"""``runflow check`` of a Responses stream: the grader's short path for deltas gives
exactly the findings of the batch layers, whatever a delta holds.

Most events of a long Responses stream are deltas of a positioned item, numbered by
``sequence_number``; the grader (:class:`runflow.conform.recorded.Grader`) lets
them through a short path that only notes the item's last event and the stream's
run of sequence numbers, when nothing else could come of them. Each case here is a
stream whose deltas are broken in one way (a sequence number repeated, skipped,
not a number, an output index moved, a number that overflows to infinity, an
object the announcers read, a name that differs from the type, a ``[DONE]`` in the
middle...), and the findings and violations ``runflow check --json`` prints are
compared with those of the batch layers over the same file held in memory
(:func:`runflow.conform.recorded.grade_replay`, which sees every event through every
layer): same rule, index, line, severity, entity, message and grouping.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from check_corpus import check_json
from conftest import recordings_dir

from runflow.adapters.recording import Recording, read_recording
from runflow.cli.check import is_ok, report
from runflow.conform.events import tap_recording
from runflow.conform.order import Order, Seen
from runflow.conform.recorded import grade_replay

Blocks = list[bytes]
P = "response."


# --------------------------------------------------------------------------- #
# a small stream in the shape of the captures, built here (no recording needed)
# --------------------------------------------------------------------------- #
def _event(kind: str, seq: int, **fields: Any) -> bytes:
    body = json.dumps({"type": kind, "sequence_number": seq, **fields}, separators=(",", ":"))
    return f"event: {kind}\ndata: {body}".encode()


def built_stream() -> Blocks:
    """A response with a message (12 text deltas) and a function call (8 argument
    deltas, at output index 1), then completed."""
    blocks: Blocks = []
    seq = iter(range(10_000))
    response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
                "model": "gpt-4o", "output": [], "tools": [], "usage": None,
                "parallel_tool_calls": True, "tool_choice": "auto"}  # the SDK requires both
    blocks.append(_event(P + "created", next(seq), response=response))
    blocks.append(_event(P + "in_progress", next(seq), response=response))
    msg = {"id": "msg_1", "type": "message", "status": "in_progress", "content": [],
           "role": "assistant"}
    blocks.append(_event(P + "output_item.added", next(seq), output_index=0, item=msg))
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    blocks.append(_event(P + "content_part.added", next(seq), **where, part=empty))
    words = [f" w{i}" for i in range(12)]
    for word in words:
        blocks.append(_event(P + "output_text.delta", next(seq), **where, delta=word,
                             logprobs=[], obfuscation="abc"))
    text = "".join(words)
    part = {**empty, "text": text}
    blocks.append(_event(P + "output_text.done", next(seq), **where, text=text, logprobs=[]))
    blocks.append(_event(P + "content_part.done", next(seq), **where, part=part))
    msg_done = {**msg, "status": "completed", "content": [part]}
    blocks.append(_event(P + "output_item.done", next(seq), output_index=0, item=msg_done))
    call = {"id": "fc_1", "type": "function_call", "status": "in_progress", "arguments": "",
            "call_id": "call_1", "name": "f"}
    blocks.append(_event(P + "output_item.added", next(seq), output_index=1, item=call))
    arguments = '{"city":"Paris"}'
    for i in range(0, len(arguments), 2):
        blocks.append(_event(P + "function_call_arguments.delta", next(seq), item_id="fc_1",
                             output_index=1, delta=arguments[i:i + 2], obfuscation="x"))
    blocks.append(_event(P + "function_call_arguments.done", next(seq), item_id="fc_1",
                         output_index=1, arguments=arguments))
    call_done = {**call, "status": "completed", "arguments": arguments}
    blocks.append(_event(P + "output_item.done", next(seq), output_index=1, item=call_done))
    usage = {"input_tokens": 9, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": 20, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": 29}
    final = {**response, "status": "completed", "output": [msg_done, call_done], "usage": usage}
    blocks.append(_event(P + "completed", next(seq), response=final))
    return blocks


# --------------------------------------------------------------------------- #
# what is done to a delta
# --------------------------------------------------------------------------- #
def _data(block: bytes) -> dict[str, Any]:
    line = next(x for x in block.split(b"\n") if x.startswith(b"data:"))
    return dict(json.loads(line[5:]))


def _with(block: bytes, data: dict[str, Any] | None = None, raw: bytes | None = None) -> bytes:
    """``block`` with its data line replaced by ``data`` (or the text ``raw``)."""
    body = raw if raw is not None else json.dumps(data, separators=(",", ":")).encode()
    lines = [b"data: " + body if x.startswith(b"data:") else x for x in block.split(b"\n")]
    return b"\n".join(lines)


def _set(field: str, value: Any) -> Callable[[bytes], bytes]:
    def change(block: bytes) -> bytes:
        return _with(block, {**_data(block), field: value})
    return change


def _shift(field: str, by: int) -> Callable[[bytes], bytes]:
    def change(block: bytes) -> bytes:
        data = _data(block)  # a capture without sequence numbers: counted from 0
        return _with(block, {**data, field: data.get(field, 0) + by})
    return change


def _drop(field: str) -> Callable[[bytes], bytes]:
    def change(block: bytes) -> bytes:
        data = _data(block)
        data.pop(field, None)
        return _with(block, data)
    return change


def _literal(field: str, text: bytes) -> Callable[[bytes], bytes]:
    """The field's value written as raw JSON text (numbers json.dumps cannot write)."""
    def change(block: bytes) -> bytes:
        data = _data(block)
        data[field] = "\x00mark"
        body = json.dumps(data, separators=(",", ":")).encode()
        return _with(block, raw=body.replace(b'"\\u0000mark"', text))
    return change


def _event_line(name: bytes | None) -> Callable[[bytes], bytes]:
    def change(block: bytes) -> bytes:
        lines = [x for x in block.split(b"\n") if not x.startswith(b"event:")]
        return b"\n".join(([b"event: " + name] if name is not None else []) + lines)
    return change


HUGE = b"1" + b"0" * 400
STEP = {"object": "thread.run.step", "id": "step_1",
        "step_details": {"message_creation": {"message_id": "msg_1"}}}

CHANGES: dict[str, Callable[[bytes], bytes]] = {
    "sequence repeated": _shift("sequence_number", -1),
    "sequence back to the start": _set("sequence_number", 0),
    "sequence skips ahead": _shift("sequence_number", 5),
    "sequence one ahead": _shift("sequence_number", 1),
    "sequence true": _set("sequence_number", True),
    "sequence float": _literal("sequence_number", b"7.0"),
    "sequence text": _set("sequence_number", "7"),
    "sequence null": _set("sequence_number", None),
    "sequence absent": _drop("sequence_number"),
    "sequence huge": _literal("sequence_number", HUGE),
    "sequence infinite": _literal("sequence_number", b"1e999"),
    "output index moved": _shift("output_index", 1),
    "output index far": _set("output_index", 900),
    "output index negative": _set("output_index", -1),
    "output index true": _set("output_index", True),
    "output index float": _literal("output_index", b"0.0"),
    "output index text": _set("output_index", "0"),
    "output index huge": _literal("output_index", HUGE),
    "output index absent": _drop("output_index"),
    "extra infinite": _literal("x", b"1e999"),
    "extra negative infinite": _literal("x", b"-1E+400"),
    "extra huge integer": _literal("x", HUGE),
    "extra infinite in a list": _literal("x", b"[1,[2,1e999]]"),
    "extra infinite in an object": _literal("x", b'{"y":{"z":1e400}}'),
    "extra finite float": _literal("x", b"1.5e300"),
    "extra list": _literal("x", b"[1,2.5,\"a\"]"),
    "extra object": _literal("x", b"{}"),
    "logprobs with floats": _literal("logprobs", b'[{"token":"a","logprob":-0.25}]'),
    "object of a step": lambda b: _with(b, {**_data(b), **STEP}),
    "object of a message delta": _set("object", "thread.message.delta"),
    "type another delta": _set("type", P + "refusal.delta"),
    "type a status event": _set("type", P + "in_progress"),
    "type unknown": _set("type", P + "nothing.delta"),
    "type absent": _drop("type"),
    "type a number": _set("type", 3),
    "no event line": _event_line(None),
    "event line another delta": _event_line(P.encode() + b"refusal.delta"),
    "event line unknown": _event_line(b"something"),
    "item id another": _set("item_id", "msg_other"),
    "delta a number": _set("delta", 4),
    "data an array": lambda b: _with(b, raw=b"[1,2]"),
    "data not json": lambda b: _with(b, raw=b'{"type": "response.output_text.delta",'),
}
"""Each done to one delta (or, with the structural changes below, around it)."""

OUT_OF_RANGE: dict[str, Callable[[bytes], bytes]] = {
    "infinite": _literal("x", b"1e999"),
    "huge integer": _literal("x", HUGE),
    "infinite in a list": _literal("x", b"[[1e999]]"),
    "infinite, no event line": lambda b: _event_line(None)(_literal("x", b"1e999")(b)),
    "infinite, event line another delta": lambda b: _event_line(
        P.encode() + b"refusal.delta")(_literal("x", b"1e999")(b)),
}
"""A number a float cannot hold in a delta, then the next event repeating its sequence
number: the layers keep a delta's data whatever numbers it holds
(:func:`runflow.conform.events.layers_data`), so the number is counted and the repeat
is one for them (``tests/test_delta_numbers.py`` pins what they report)."""

MOVES: dict[str, Callable[[Blocks, int], Blocks]] = {
    "duplicated": lambda bs, i: [*bs[:i + 1], bs[i], *bs[i + 1:]],
    "swapped with the next": lambda bs, i: [*bs[:i], bs[i + 1], bs[i], *bs[i + 2:]],
    "dropped": lambda bs, i: [*bs[:i], *bs[i + 1:]],
    "[DONE] before it": lambda bs, i: [*bs[:i], b"data: [DONE]", *bs[i:]],
    "an error before it": lambda bs, i: [
        *bs[:i], b'event: error\ndata: {"type":"error","code":"x","message":"m"}', *bs[i:]],
    "a heartbeat before it": lambda bs, i: [*bs[:i], b"event: keepalive\ndata: {}", *bs[i:]],
    "created again before it": lambda bs, i: [*bs[:i], bs[0], *bs[i:]],
}


def _deltas(blocks: Blocks) -> list[int]:
    return [i for i, b in enumerate(blocks) if b.split(b"\n", 1)[0].endswith(b".delta")]


def _variants(blocks: Blocks) -> dict[str, bytes]:
    """Every change at the second delta and at the middle one, and every move there."""
    deltas = _deltas(blocks)
    places = sorted({deltas[1], deltas[len(deltas) // 2]})
    out: dict[str, bytes] = {"as captured": b"\n\n".join(blocks) + b"\n\n"}
    for at in places:
        for name, change in CHANGES.items():
            changed = [*blocks[:at], change(blocks[at]), *blocks[at + 1:]]
            out[f"{name} at #{at}"] = b"\n\n".join(changed) + b"\n\n"
        for name, move in MOVES.items():
            out[f"{name} at #{at}"] = b"\n\n".join(move(blocks, at)) + b"\n\n"
        for name, change in OUT_OF_RANGE.items():
            changed = [*blocks]
            changed[at] = change(blocks[at])
            seq = _data(blocks[at]).get("sequence_number")
            if seq is not None:
                changed[at + 1] = _set("sequence_number", seq)(blocks[at + 1])
            out[f"{name}, then its number again at #{at}"] = b"\n\n".join(changed) + b"\n\n"
    both = [*blocks]
    for at in places:  # a repeat early, then the stream goes on with its numbers
        both[at] = CHANGES["sequence repeated"](both[at])
    out["sequence repeated twice"] = b"\n\n".join(both) + b"\n\n"
    return out


class _KeptOrder(Order):
    """The order layer of the grader, kept to be looked at after the check."""

    made: ClassVar[list[Order]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _KeptOrder.made.append(self)


def _compared(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``runflow check --json`` of ``path``, and the same report from the batch layers;
    each with ``"last"``: the order layer's last event per entity at the end."""
    _KeptOrder.made.clear()
    streamed = check_json(path)
    [grader_order] = _KeptOrder.made
    memory = read_recording(path).replay()
    groups = grade_replay(memory)
    batch = report(memory, is_ok(memory, strict=False), groups)
    layer = Order(memory.flow.protocol, memory.flow.limits)
    assert isinstance(memory.recording, Recording)
    events = tap_recording(memory.flow.protocol, memory.recording)
    assert len(events) == memory.flow.event_count  # else the batch grades the grammar alone
    for event in events:
        layer.see(event)
    return {**streamed, "last": grader_order.last}, {**batch, "last": layer.last}


def _differences(folder: Path, blocks: Blocks) -> tuple[list[str], set[str]]:
    differ: list[str] = []
    rules: set[str] = set()
    for number, (name, data) in enumerate(_variants(blocks).items()):
        path = folder / f"case{number}.sse"
        path.write_bytes(data)
        streamed, batch = _compared(path)
        rules.update(f["rule"] for f in batch["findings"])
        for key in ("findings", "violations", "events", "ending", "status", "last"):
            if streamed[key] != batch[key]:
                differ.append(f"{name}: {key} differ")
    return differ, rules


# --------------------------------------------------------------------------- #
# the tests
# --------------------------------------------------------------------------- #
@pytest.fixture(autouse=True)
def _keep_the_order_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runflow.conform.grade.Order", _KeptOrder)  # the layers make it


def test_the_short_path_gives_the_batch_findings_on_every_broken_delta(
        tmp_path: Path) -> None:
    differ, rules = _differences(tmp_path, built_stream())
    assert differ == []
    # the cases reach the findings the short path must not lose
    assert {"order.sequence.no_repeats", "grammar.sequence_gap",
            "grammar.unknown_event"} <= rules


RECORDINGS_WITH_DELTAS = (
    "responses/mirascope_parallel_function_calls_gpt4o.sse",
    "responses/pydanticai_reasoning_summary_o3mini.sse",
    "responses/pydanticai_hosted_shell_gpt52.sse",
    "responses/vercel_azure_web_search_preview_gpt41mini.sse",
    "responses/llmopenaiplugin_json_schema_noseq_gpt4omini.sse",
    "responses/openaidotnet_logprobs_gpt4omini.sse",
)


@pytest.mark.parametrize("name", RECORDINGS_WITH_DELTAS)
def test_the_short_path_gives_the_batch_findings_on_a_capture_broken_anew(
        name: str, tmp_path: Path) -> None:
    data = (recordings_dir() / name).read_bytes()
    blocks = [b.strip(b"\n") for b in data.replace(b"\r\n", b"\n").split(b"\n\n") if b.strip()]
    differ, _rules = _differences(tmp_path, blocks)
    assert differ == []


def test_a_clean_stream_takes_the_short_path_for_its_deltas(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a speed test: that the deltas of a clean stream do go the short way, past
    the layers (and that the checks above compare it, not the long way twice)."""
    layered: list[int] = []
    see = Order.see

    def counted(self: Order, event: Any) -> Any:
        layered.append(event.index)
        return see(self, event)

    monkeypatch.setattr(_KeptOrder, "see", counted)
    blocks = built_stream()
    path = tmp_path / "clean.sse"
    path.write_bytes(b"\n\n".join(blocks) + b"\n\n")
    assert check_json(path)["findings"] == []
    deltas = _deltas(blocks)
    assert deltas and layered == [i for i in range(len(blocks)) if i not in deltas]


def test_seen_next_notes_what_add_would_and_nothing_else() -> None:
    """The short path's sequence check (:meth:`Seen.next`, inlined in the grader) agrees
    with :meth:`Seen.add` on streams counting up, repeating, skipping and going back."""
    rng = random.Random(25)
    for _ in range(300):
        short, full = Seen(6), Seen(6)
        seq = rng.randint(0, 3)
        for _step in range(60):
            seq = max(0, seq + rng.choice((1, 1, 1, 1, 0, -1, -3, 2, 5)))
            if short.next(seq):
                assert full.add(seq)
            else:
                assert short.add(seq) == full.add(seq)
            assert (short.low, short.high, short.others) == (full.low, full.high, full.others)
