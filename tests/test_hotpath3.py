"""The third pass over the short-stream path (issue 25) decides what the general path
decides.

The SSE decoder splits a chunk of canonical blocks (``event: NAME`` / ``data: ONE
LINE`` / blank line, as every real server sends them) by one search; here random
streams mixing canonical blocks with every other form the decoder knows (comments,
several data lines, no event line, CR line ends, blocks past ``max_pending``, blank
lines in a row), cut into random chunks, are decoded with the search and without
(``SSEDecoder.fast_path = False``): the same events come out of every ``feed`` and
``close`` -- names, data, byte offsets and oversize marks.

The screen that spares the walk for non-finite numbers (``may_overflow``, one search
of the bytes mapped to digit, exponent mark, letter and other) never clears a text
whose parsed value holds one, on random numbers of every form among hex ids and
strings holding exponents.

An object shape checks a field whose check is one of type alone, a non-empty string or
an optional list of such values in place (no ``fits`` call per field); every shape
answers ``fits`` as its naming walk does on every object of the Responses captures,
each field replaced by odd values.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from conftest import recordings_dir
from pydantic_core import from_json

from runflow.engine.core import SCREEN_FROM, may_overflow
from runflow.engine.jsonparse import has_non_finite
from runflow.engine.shapes import ANY, BOOL, ID, INDEX, NUMBER, STR, List, Obj, Opt, Req, Shape
from runflow.engine.sse import RawEvent, SSEDecoder
from runflow.protocols.assistants.definition import ASSISTANTS
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.flow import ResponseFlow


class GeneralDecoder(SSEDecoder):
    """The decoder looking at every block one by one."""

    __slots__ = ()
    fast_path = False


def _block(rng: random.Random) -> bytes:
    """One SSE block and its blank line; mostly canonical."""
    name = rng.choice([b"response.output_text.delta", b"x", b"", b"caf\xc3\xa9", b"\xff"])
    data = rng.choice([b'{"a":1}', b"", b"[DONE]", b"x" * rng.randrange(1, 90),
                       b"data: nested", b"event: inside"])
    form = rng.randrange(12)
    if form < 6:
        return b"event: " + name + b"\ndata: " + data + b"\n\n"
    return rng.choice([
        b"data: " + data + b"\n\n",                                 # no event line
        b"event: " + name + b"\n\n",                                # no data line
        b"event:" + name + b"\ndata:" + data + b"\n\n",             # no spaces
        b": comment\nevent: " + name + b"\ndata: " + data + b"\n\n",
        b"event: " + name + b"\ndata: " + data + b"\ndata: 2\n\n",  # two data lines
        b"event: " + name + b"\r\ndata: " + data + b"\r\n\r\n",     # CRLF
        b"\n",                                                      # a blank line more
    ])


def _chunks(stream: bytes, rng: random.Random) -> list[bytes]:
    out, at = [], 0
    while at < len(stream):
        size = rng.choice([0, 1, 2, 7, 40, 300, 2048])
        out.append(stream[at : at + size])
        at += size
    return out


def _decode(decoder: SSEDecoder, chunks: list[bytes]) -> list[list[RawEvent]]:
    return [decoder.feed(chunk) for chunk in chunks] + [decoder.close()]


@pytest.mark.parametrize("seed", range(40))
def test_canonical_chunks_decode_as_block_by_block(seed: int) -> None:
    rng = random.Random(seed)
    stream = b"".join(_block(rng) for _ in range(rng.randrange(1, 60)))
    if rng.random() < 0.3:
        stream = b"\xef\xbb\xbf" + stream
    if rng.random() < 0.5:
        stream += b"event: unfinished\ndata: " + b"y" * rng.randrange(0, 40)
    chunks = _chunks(stream, rng)
    max_pending = rng.choice([64 * 1024 * 1024, 100, 40, 20])
    fast = _decode(SSEDecoder(max_pending), chunks)
    general = _decode(GeneralDecoder(max_pending), chunks)
    assert fast == general
    assert [tuple(e) for batch in fast for e in batch] == [
        tuple(e) for batch in general for e in batch]


def test_a_canonical_stream_in_one_chunk() -> None:
    """A whole stream in one chunk gives every event with its offset; the unfinished
    block is held."""
    stream = (b"event: a\ndata: 1\n\n" b"event: bb\ndata: {}\n\n" b"event: c\ndata: 3")
    events = SSEDecoder().feed(stream)
    assert events == [RawEvent("a", b"1", 0), RawEvent("bb", b"{}", 18)]
    assert GeneralDecoder().feed(stream) == events


def test_an_oversize_canonical_block_is_dropped_in_place() -> None:
    stream = b"event: a\ndata: 1\n\nevent: b\ndata: " + b"x" * 50 + b"\n\nevent: c\ndata: 3\n\n"
    events = SSEDecoder(40).feed(stream)
    assert events == [RawEvent("a", b"1", 0), RawEvent(None, None, 18, 65),
                      RawEvent("c", b"3", 85)]
    assert GeneralDecoder(40).feed(stream) == events


def _literal(rng: random.Random) -> bytes:
    """A JSON number of any form: sign, integer digits, fraction, exponent of any
    sign, case and length (leading zeros too), finite or not."""
    digits = "".join(rng.choice("0123456789") for _ in range(rng.choice([1, 2, 3, 199, 210, 320])))
    digits = digits.lstrip("0") or "0"
    text = rng.choice(["", "-"]) + digits
    if rng.random() < 0.5:
        text += "." + "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 5)))
    if rng.random() < 0.6:
        exponent = rng.choice(["9", "99", "308", "309", "400", "0400", "00009", "1000"])
        text += rng.choice("eE") + rng.choice(["", "+", "-"]) + exponent
    return text.encode()


@pytest.mark.parametrize("seed", range(20))
def test_the_overflow_screen_never_clears_a_non_finite_number(seed: int) -> None:
    """Whatever the number's form and whatever sits around it (ids with hex runs,
    strings holding exponents), a text whose parsed value holds a NaN, an infinity or
    an integer too large for a float passes the screen to the walk."""
    rng = random.Random(seed)
    around = [b'"resp_8b0e7153bf7c3706d85c524e440066559a6656c90bd5"', b'"1e400"', b"true",
              b"null", b'"x-1e999-y"', b"[]", b"{}", b"1.5", b"-7"]
    flagged = 0
    for _ in range(300):
        items = [rng.choice(around) for _ in range(rng.randrange(0, 5))]
        items.insert(rng.randrange(len(items) + 1), _literal(rng))
        sep = rng.choice([b",", b", ", b",\n "])
        text = b'{"pad":"' + b"p" * SCREEN_FROM + b'","v":[' + sep.join(items) + b"]}"
        value = from_json(text, allow_inf_nan=False)
        if has_non_finite(value):
            flagged += 1
            assert may_overflow(text), text[-200:]
    assert flagged > 20  # the literals above do overflow, often


# --------------------------------------------------------------------------- #
# shapes: fields checked in place (by type, non-empty string, optional list)
# --------------------------------------------------------------------------- #
_ODD: list[Any] = [None, 0, -1, 1.5, "", "x", True, [], [1], ["s"], [{}], [None], {}, {"k": 1}]


def _shapes() -> list[Shape]:
    out: list[Shape] = [
        Obj({"id": ID, "s": STR, "n": Opt(NUMBER), "b": BOOL, "l": Opt(List(Obj())),
             "t": Opt(List(STR)), "a": ANY, "o": Opt(Obj()), "i": INDEX},
            required=("id",)),
        Obj({"id": Opt(ID), "l": List(STR), "r": Req(STR)}, tag="type",
            variants={"x": {"r": Req(ID), "l": Opt(List(Opt(STR)))}}),
    ]
    for protocol in (RESPONSES, ASSISTANTS):
        out += [s for s in protocol.event_shapes.values() if s is not None]
        for table in protocol.tables.values():
            out += [s for s in (table.shape, table.delta_shape) if s is not None]
    return out


def _nested(value: Any) -> list[dict[str, Any]]:
    """Every object in ``value``, itself first."""
    out = []
    todo = [value]
    while todo:
        item = todo.pop()
        if type(item) is dict:
            out.append(item)
            todo.extend(item.values())
        elif type(item) is list:
            todo.extend(item)
    return out


def _mutated(obj: dict[str, Any]) -> list[Any]:
    """``obj``, and ``obj`` with each field replaced by an odd value or removed."""
    out: list[Any] = [obj]
    for key in obj:
        out += [{**obj, key: odd} for odd in _ODD]
        out.append({k: v for k, v in obj.items() if k != key})
    return out


def test_fits_agrees_with_the_naming_walk_on_every_recorded_object() -> None:
    """Every shape of both definitions (and two that use every field kind) answers
    ``fits`` as its naming walk ``explain`` does, on an object of each layout nested
    in the Responses captures' events, each field replaced by odd values or removed."""
    objects = [{"id": "x", "s": "", "n": 1, "b": False, "l": [{}], "t": ["a"], "i": 0,
                "type": "x", "r": "y"}]
    for path in sorted((recordings_dir() / "responses").glob("*.sse")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("data:") and line[5:].strip() != "[DONE]":
                objects += _nested(json.loads(line[5:]))
    seen: set[tuple[tuple[str, str], ...]] = set()
    shapes = _shapes()
    for obj in objects:
        key = tuple(sorted((k, type(v).__name__) for k, v in obj.items()))
        if key in seen:  # one object of each layout: the mutations give the values
            continue
        seen.add(key)
        for variant in _mutated(obj):
            for shape in shapes:
                assert shape.fits(variant) == (shape.explain(variant) is None), (shape, variant)


# --------------------------------------------------------------------------- #
# the journal: what a new entity's event and a known entity's event put back
# --------------------------------------------------------------------------- #
_CHANGED_BY_THE_FAILURE = ("decoder", "index", "sequence", "violations", "repeats", "closed")
"""What an event that fails as a whole still changes: the input read, its position, its
number and the internal_error it is reported as."""


def _blocks(path_name: str) -> list[bytes]:
    data = (recordings_dir() / "responses" / path_name).read_bytes().replace(b"\r\n", b"\n")
    return [block + b"\n\n" for block in data.split(b"\n\n") if block.strip()]


def _state_of(flow: ResponseFlow) -> dict[str, Any]:
    state = json.loads(flow.to_json())["state"]
    return {k: v for k, v in state.items() if k not in _CHANGED_BY_THE_FAILURE}


@pytest.mark.parametrize("name", ["mirascope_parallel_function_calls_gpt4o.sse",
                                  "pydanticai_deepseek_reasoning_function_call.sse",
                                  "openaidotnet_hello_text_gpt4omini.sse"])
def test_a_status_event_failing_half_way_leaves_the_flow_as_it_was(name: str) -> None:
    """Every status event of a capture, fed after the ones before it with every after
    rule broken (a bug: the event fails after it was applied): the flow is exactly as
    before it -- a new item, part or response registered nowhere, a known one's state,
    object, value and history as they were -- and the event is an internal_error."""
    blocks = _blocks(name)
    rules = [r for r in RESPONSES.rules if r.phase == "after"]
    originals = [r.check for r in rules]

    def broken(*args: object) -> Any:
        raise RuntimeError("a rule with a bug")

    undone = {True: 0, False: 0}
    for i, block in enumerate(blocks):
        flow = ResponseFlow()
        for earlier in blocks[:i]:
            flow.feed_sse(earlier)
        before, count = _state_of(flow), len(flow.violations)
        for rule in rules:
            object.__setattr__(rule, "check", broken)  # the definition is frozen data
        try:
            flow.feed_sse(block)
        finally:
            for rule, check in zip(rules, originals, strict=True):
                object.__setattr__(rule, "check", check)
        if [v.code.value for v in flow.violations[count:]] != ["internal_error"]:
            continue  # no after rule ran for this event
        assert _state_of(flow) == before, (name, i)
        creates = b"response.created" in block or b".added" in block
        undone[creates] += 1
    assert undone[True] and undone[False]  # events of new entities and of known ones
