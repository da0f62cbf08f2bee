"""The entity the last delta grew is kept for an Assistants delta too, found again by
its id string (pydantic_core's parse shares short strings, so the next delta of the
same message or step carries the very same object): here every Assistants capture,
and mutations of its deltas (sent to another entity or to an unknown id, their id
or delta made hostile, another event moved in between, a limit reached), are decided
alike with and without the engine's fast paths. And the SSE decoder's process-wide
cache of event names serves real streams again after a hostile one filled it.
"""

from __future__ import annotations

import json
import random
from functools import cache
from typing import Any

import pytest
from conftest import recordings_dir
from helpers import sse_fields

from runflow import Limits
from runflow.engine import sse
from runflow.engine.sse import SSEDecoder, cached_names
from runflow.protocols.assistants.flow import RunFlow

TIGHT = Limits(max_message_chars=40, max_tool_chars=25)
DELTAS = ("thread.message.delta", "thread.run.step.delta")
HOSTILE: list[Any] = [None, 7, "", "x", [], {}, {"content": 5}, {"step_details": []},
                      {"content": [{"index": 0, "type": "text", "text": {"value": 5}}]}]


class GeneralRunFlow(RunFlow):
    """The Assistants flow with the engine's shortcuts off: the general path only."""

    fast_paths = False


@cache
def _captures() -> list[tuple[str, list[tuple[str, Any]]]]:
    """Each Assistants SSE capture, as its ``(event name, parsed data)`` pairs."""
    out = []
    for path in sorted(recordings_dir().glob("*.sse")):
        events = [(name, data if data == "[DONE]" else json.loads(data))
                  for name, data in sse_fields(path) if name is not None and data is not None]
        out.append((path.name, events))
    return out


def _sse(events: list[tuple[str, Any]]) -> bytes:
    return b"".join(
        f"event: {name}\ndata: {data if data == '[DONE]' else json.dumps(data)}\n\n".encode()
        for name, data in events)


def _both_ways(data: bytes, limits: Limits | None = None) -> list[tuple[str, int]]:
    fast, general = RunFlow(limits=limits), GeneralRunFlow(limits=limits)
    for flow in (fast, general):
        flow.feed_sse(data)
        flow.close()
    assert [v.model_dump() for v in fast.violations] == [
        v.model_dump() for v in general.violations]
    assert json.loads(fast.to_json()) == json.loads(general.to_json())
    assert fast.history == general.history
    return [(v.code.value, v.index) for v in fast.violations]


@pytest.mark.parametrize("limits", [None, TIGHT], ids=["default", "tight"])
def test_every_assistants_capture_is_decided_alike(limits: Limits | None) -> None:
    captures = _captures()
    assert sum(name in DELTAS for _, events in captures for name, _ in events) > 1000
    for _, events in captures:
        _both_ways(_sse(events), limits)


def _mutated(rng: random.Random, events: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    events = list(events)
    deltas = [i for i, (name, _) in enumerate(events) if name in DELTAS]
    ids = [*sorted({data["id"] for name, data in events if name in DELTAS}), "msg_none"]
    for _ in range(1 + rng.randrange(4)):
        i = rng.choice(deltas)
        name, data = events[i]
        what = rng.randrange(4)
        if what == 0:  # sent to another entity, or one never seen
            events[i] = (name, {**data, "id": rng.choice(ids)})
        elif what == 1:  # a hostile delta
            events[i] = (name, {**data, "delta": rng.choice(HOSTILE)})
        elif what == 2:  # a hostile id, or none
            events[i] = (name, {**data, "id": rng.choice(HOSTILE)} if rng.randrange(4)
                         else {k: v for k, v in data.items() if k != "id"})
        else:  # another event moved in between
            j = rng.randrange(len(events))
            events.insert(i, events.pop(j))
    return events


@pytest.mark.parametrize("seed", range(60))
def test_mutated_assistants_deltas_are_decided_alike(seed: int) -> None:
    rng = random.Random(seed)
    captures = [events for _, events in _captures()
                if sum(name in DELTAS for name, _ in events) > 1]
    events = _mutated(rng, rng.choice(captures))
    _both_ways(_sse(events), rng.choice([None, TIGHT]))


def _text_answer() -> list[tuple[str, Any]]:
    """A capture whose message grows by many deltas in a row."""
    return dict(_captures())["dotnet_text_answer.sse"]


@pytest.mark.parametrize(("delta", "code"), [
    (7, "malformed_event"), (None, "malformed_event"), ({"content": 5}, "malformed_event")])
def test_a_bad_delta_after_a_good_one_of_the_same_message_is_rejected(delta: Any,
                                                                      code: str) -> None:
    events = _text_answer()
    first = next(i for i, (name, _) in enumerate(events) if name == "thread.message.delta")
    name, data = events[first + 1]
    assert name == "thread.message.delta" and data["id"] == events[first][1]["id"]
    events[first + 1] = (name, {**data, "delta": delta})
    assert (code, first + 1) in _both_ways(_sse(events))


# -- the SSE decoder's event names ---------------------------------------------- #

def test_event_names_are_kept_again_after_a_stream_of_junk_names() -> None:
    """10,000 distinct junk names through one decoder (a hostile stream early in a
    long-lived process) leave the cache bounded, and the names of a real stream that
    follows are kept again; every block decodes as the block-by-block path does."""
    junk = b"".join(b"event: junk." + str(i).encode() + b"\ndata: {}\n\n"
                    for i in range(10_000))
    real = _sse(_text_answer())
    for stream in (junk, real):
        chunks = [stream[i:i + 4096] for i in range(0, len(stream), 4096)]
        fast, general = SSEDecoder(), GeneralDecoder()
        assert [fast.feed(c) for c in chunks] == [general.feed(c) for c in chunks]
        assert 0 < len(cached_names()) <= sse._NAMES_MAX
    kept = cached_names()
    names = {name.encode() for name, _ in _text_answer()}
    assert len(names) > 5 and names <= kept.keys()
    assert all(kept[name] == name.decode() for name in names)


class GeneralDecoder(SSEDecoder):
    """The decoder looking at every block one by one (no search, no names kept)."""

    __slots__ = ()
    fast_path = False
