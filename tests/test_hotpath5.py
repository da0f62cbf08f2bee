"""The entity the last delta grew is kept (``FlowCore._last_delta``) while only deltas
with its name and the very same index objects follow: such a delta skips the lookup
and the checks of states and limits, which nothing but another event can change
(``_process`` drops it at any other event, :meth:`recover` too, a limit reached as
well). Here streams that switch entities, end them, rename their item, reach a limit,
send indices of other types, end the response or recover it between deltas, are
decided alike with and without the engine's fast paths (``GeneralFlow``), in order
and shuffled, with hostile values in the deltas. The SSE decoder's kept event names
decode as the block-by-block path does.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from runflow import Limits
from runflow.engine import sse
from runflow.engine.sse import SSEDecoder
from runflow.protocols.responses.flow import ResponseFlow

P = "response."
TIGHT = Limits(max_message_chars=30, max_index=3)


class GeneralFlow(ResponseFlow):
    """The Responses flow with the engine's shortcuts off: the general path only."""

    fast_paths = False


def _response(status: str) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "created_at": 1, "status": status,
            "model": "m", "output": [], "tools": []}


def _message(i: int, status: str) -> dict[str, Any]:
    return {"type": "message", "id": f"msg_{i}", "role": "assistant", "status": status,
            "content": []}


def _part() -> dict[str, Any]:
    return {"type": "output_text", "text": "", "annotations": []}


def _delta(i: int, text: str = "ab", **changes: Any) -> dict[str, Any]:
    return {"type": P + "output_text.delta", "item_id": f"msg_{i}", "output_index": i,
            "content_index": 0, "delta": text, **changes}


def _opened(i: int) -> list[dict[str, Any]]:
    return [{"type": P + "output_item.added", "output_index": i,
             "item": _message(i, "in_progress")},
            {"type": P + "content_part.added", "item_id": f"msg_{i}", "output_index": i,
             "content_index": 0, "part": _part()}]


def _closed(i: int, text: str = "") -> list[dict[str, Any]]:
    part = {**_part(), "text": text}
    return [{"type": P + "output_text.done", "item_id": f"msg_{i}", "output_index": i,
             "content_index": 0, "text": text},
            {"type": P + "content_part.done", "item_id": f"msg_{i}", "output_index": i,
             "content_index": 0, "part": part},
            {"type": P + "output_item.done", "output_index": i,
             "item": {**_message(i, "completed"), "content": [part]}}]


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(
        f"event: {e['type']}\ndata: {json.dumps({**e, 'sequence_number': n})}\n\n".encode()
        for n, e in enumerate(events))


def _decided(flow: ResponseFlow) -> Any:
    return ([v.model_dump() for v in flow.violations], json.loads(flow.to_json()),
            flow.history)


def _both_ways(data: bytes, limits: Limits | None = None, recover_at: int | None = None
               ) -> list[Any]:
    fast, general = ResponseFlow(limits=limits), GeneralFlow(limits=limits)
    for flow in (fast, general):
        if recover_at is None:
            flow.feed_sse(data)
        else:
            flow.feed_sse(data[:recover_at])
            from openai.types.responses import Response
            flow.recover(Response.model_validate({**_response("completed"),
                                                  "parallel_tool_calls": True,
                                                  "tool_choice": "auto"}))
            flow.feed_sse(data[recover_at:])
        flow.close()
    assert _decided(fast) == _decided(general)
    return [(v.code.value, v.index) for v in fast.violations]


CREATED = {"type": P + "created", "response": _response("in_progress")}
COMPLETED = {"type": P + "completed", "response": _response("completed")}


def test_deltas_switching_between_two_parts() -> None:
    events = [CREATED, *_opened(0), *_opened(1), _delta(0), _delta(1), _delta(0), _delta(0),
              _delta(1), *_closed(0), *_closed(1), COMPLETED]
    found = _both_ways(_sse(events))
    assert ("items_interleaved", 3) in found


@pytest.mark.parametrize(("between", "expected"), [
    ([{"type": P + "output_text.done", "item_id": "msg_0", "output_index": 0,
       "content_index": 0, "text": "ab"}], ("invalid_transition", 5)),  # the value ended
    ([COMPLETED], ("event_after_terminal", 5)),  # the response ended
    ([_delta(0, item_id="msg_9")], ("item_id_mismatch", 4)),  # renamed, then as before
    ([_delta(0, output_index=True)], ("malformed_event", 4)),  # True is not 0... nor 1
    ([_delta(0, delta=7)], ("malformed_event", 4)),  # a delta of another type
])
def test_an_event_between_deltas_is_seen_by_the_next(between: list[dict[str, Any]],
                                                     expected: tuple[str, int]) -> None:
    events = [CREATED, *_opened(0), _delta(0), *between, _delta(0), _delta(0)]
    assert expected in _both_ways(_sse(events))


def test_deltas_past_a_limit_stop_growing_alike() -> None:
    events = [CREATED, *_opened(0), *[_delta(0, "0123456789") for _ in range(5)], *_closed(0)]
    found = _both_ways(_sse(events), TIGHT)
    assert found.count(("limit_exceeded", 6)) == 1


def test_indices_past_the_shared_small_integers_take_the_general_path() -> None:
    events = [CREATED]
    for i in range(300):
        events += [*_opened(i), _delta(i), _delta(i), *_closed(i, "abab")]
    assert _both_ways(_sse(events)) == [("truncated", len(events))]  # no other


def test_a_recovered_response_between_deltas_ends_them() -> None:
    events = [CREATED, *_opened(0), _delta(0), _delta(0), _delta(0)]
    data = _sse(events)
    cut = data.index(b"event: " + (P + "output_text.delta").encode()) + 1
    cut = data.index(b"event: ", cut)  # after the first delta
    assert ("event_after_terminal", 5) in _both_ways(data, recover_at=cut)


HOSTILE: list[Any] = [True, 0, 1, 2, -1, 300, 0.0, "0", None, [], {}]


@pytest.mark.parametrize("seed", range(150))
def test_shuffled_streams_with_hostile_deltas_are_decided_alike(seed: int) -> None:
    rng = random.Random(seed)
    events: list[dict[str, Any]] = [CREATED]
    for i in range(2):
        events += _opened(i)
    events += [_delta(rng.randrange(2), rng.choice(["a", "bc", ""])) for _ in range(12)]
    for i in range(2):
        events += _closed(i)
    events.append(COMPLETED)
    body = events[1:]
    for _ in range(rng.randrange(4)):  # a few events moved
        j, k = rng.randrange(len(body)), rng.randrange(len(body))
        body[j], body[k] = body[k], body[j]
    for _ in range(rng.randrange(4)):  # a few deltas with a hostile field
        j = rng.randrange(len(body))
        if body[j]["type"].endswith(".delta"):
            key = rng.choice(["output_index", "content_index", "item_id", "delta"])
            body[j] = {**body[j], key: rng.choice(HOSTILE)}
    _both_ways(_sse([events[0], *body]), rng.choice([None, TIGHT]))


class GeneralDecoder(SSEDecoder):
    """The decoder looking at every block one by one (no search, no names kept)."""

    __slots__ = ()
    fast_path = False


@pytest.mark.parametrize("max_pending", [64 * 1024 * 1024, 60])
def test_event_names_decode_alike_once_kept(max_pending: int) -> None:
    """The canonical path keeps the event names it decoded (at most 512 of at most
    64 bytes, emptied when full): names of bad UTF-8, long names and more names than
    it keeps come out as the block-by-block path decodes them, in every chunk, with
    or without blocks past ``max_pending``."""
    names = [f"name.{i}".encode() for i in range(700)] + [
        b"\xff", b"caf\xc3\xa9", b"caf\xc3", b"n" * 65, b"\xe2\x82"]
    stream = b"".join(b"event: " + name + b"\ndata: {\"i\": " + str(i).encode() + b"}\n\n"
                      for i, name in enumerate(names * 2))
    chunks = [stream[i:i + 2048] for i in range(0, len(stream), 2048)]
    fast, general = SSEDecoder(max_pending), GeneralDecoder(max_pending)
    assert [fast.feed(c) for c in chunks] == [general.feed(c) for c in chunks]
    assert fast.close() == general.close()
    kept = sse.cached_names()
    assert kept[b"caf\xc3"] == "caf\ufffd"
    assert all(text == name.decode("utf-8", "replace") for name, text in kept.items())
    assert len(kept) <= sse._NAMES_MAX and b"n" * 65 not in kept
