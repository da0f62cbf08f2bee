"""The engine's fast paths (issue 25) decide exactly what its general path decides.

A delta's entity is found by one lookup of the indices it carries, and the entity its
limit counts against is kept on the tracker; positions are read without the general
loop (``FlowCore.fast_paths``). Here every real Responses capture, and hostile
mutations of its positioned events (an index of another type, out of range,
pointing at another entity; an ``item_id`` of another type or value), are fed to a
flow with the fast paths and to one without, under the default and under tight
limits: the saved flows (states, snapshots, accumulators, violations, history) are
identical. The faster walk for non-finite numbers and the state changes made by
their slots are checked against the plain definitions.
"""

from __future__ import annotations

import json
import math
import random
from functools import cache
from typing import Any

import pytest
from conftest import recordings_dir
from helpers import sse_fields

from runflow import Limits
from runflow.engine.jsonparse import has_non_finite
from runflow.engine.state import StateChange, state_change
from runflow.protocols.responses.flow import ResponseFlow


class GeneralFlow(ResponseFlow):
    """The Responses flow with the engine's shortcuts off: the general path only."""

    fast_paths = False


POSITIONS = ("output_index", "content_index", "summary_index", "item_id")
HOSTILE: list[Any] = [True, False, 0.0, 1.0, -1, 1, 2, 10**6, 2**70, "0", "", None, [], {},
                      [0], "msg_other"]
TIGHT = Limits(max_message_chars=40, max_tool_chars=25, max_index=3)
MUTATIONS = 300
"""Mutated streams fed both ways (out of about 40,000 possible), picked with seed 0."""


@cache
def _captures() -> list[tuple[str, list[tuple[str | None, Any]]]]:
    """Each Responses capture, as its ``(event name, data text)`` pairs."""
    folder = recordings_dir() / "responses"
    out = []
    for path in sorted(folder.glob("*.sse")):
        events = [(name, data) for name, data in sse_fields(path) if data is not None]
        out.append((path.name, events))
    return out


def _sse(events: list[tuple[str | None, Any]]) -> bytes:
    blocks = []
    for name, data in events:
        line = f"event: {name}\n" if name is not None else ""
        blocks.append(f"{line}data: {data}\n\n")
    return "".join(blocks).encode()


def _saved(flow: ResponseFlow) -> Any:
    return json.loads(flow.to_json())


def _both_ways(data: bytes, limits: Limits | None) -> None:
    fast, general = ResponseFlow(limits=limits), GeneralFlow(limits=limits)
    for flow in (fast, general):
        flow.feed_sse(data)
        flow.close()
    assert [v.model_dump() for v in fast.violations] == [
        v.model_dump() for v in general.violations]
    assert _saved(fast) == _saved(general)
    assert fast.history == general.history


@pytest.mark.parametrize("limits", [None, TIGHT], ids=["default", "tight"])
def test_every_capture_is_decided_alike_with_and_without_the_fast_paths(
        limits: Limits | None) -> None:
    for _, events in _captures():
        _both_ways(_sse(events), limits)


def _mutations() -> list[tuple[str, bytes]]:
    """``(label, stream)`` for one position field of one event replaced by a hostile
    value or removed, or its index moved by one (another entity's, or none)."""
    candidates = []
    for name, events in _captures():
        for i, (_, text) in enumerate(events):
            try:
                data = json.loads(text)
            except ValueError:
                continue
            if type(data) is not dict:
                continue
            for fld in POSITIONS:
                if fld in data:
                    candidates.append((name, i, fld))
    rng = random.Random(0)
    out = []
    for name, i, fld in rng.sample(candidates, min(len(candidates), MUTATIONS)):
        events = dict(_captures())[name]
        data = json.loads(events[i][1])
        choice = rng.randrange(len(HOSTILE) + 3)
        if choice < len(HOSTILE):
            data[fld] = HOSTILE[choice]
        elif choice == len(HOSTILE):
            del data[fld]
        elif type(data[fld]) is int:
            data[fld] += 1 if choice == len(HOSTILE) + 1 else -1
        else:
            data[fld] = data[fld] + "x" if type(data[fld]) is str else None
        mutated = [*events[:i], (events[i][0], json.dumps(data)), *events[i + 1:]]
        out.append((f"{name}#{i}.{fld}", _sse(mutated)))
    return out


def _retargeted() -> list[tuple[str, bytes]]:
    """``(label, stream)`` for the first delta of each kind in each capture sent to
    each other index from 0 to 3: at another item or part (of another kind, such
    as a function call's arguments at a reasoning item), or at none."""
    out = []
    for name, events in _captures():
        seen = set()
        for i, (event, text) in enumerate(events):
            if event is None or not event.endswith("delta") or event in seen:
                continue
            seen.add(event)
            data = json.loads(text)
            for fld in ("output_index", "content_index", "summary_index"):
                for value in range(4):
                    if fld in data and data[fld] != value:
                        moved = {**data, fld: value}
                        mutated = [*events[:i], (event, json.dumps(moved)), *events[i + 1:]]
                        out.append((f"{name}#{i}.{fld}={value}", _sse(mutated)))
    return out


@pytest.mark.parametrize("limits", [None, TIGHT], ids=["default", "tight"])
def test_deltas_sent_elsewhere_are_decided_alike_with_and_without_the_fast_paths(
        limits: Limits | None) -> None:
    retargeted = _retargeted()
    assert len(retargeted) > 100
    for label, data in retargeted:
        try:
            _both_ways(data, limits)
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None


@pytest.mark.parametrize("limits", [None, TIGHT], ids=["default", "tight"])
def test_hostile_positions_are_decided_alike_with_and_without_the_fast_paths(
        limits: Limits | None) -> None:
    mutations = _mutations()
    assert len(mutations) == MUTATIONS
    rejected = 0
    for label, data in mutations:
        try:
            _both_ways(data, limits)
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None
        flow = ResponseFlow(limits=limits)
        flow.feed_sse(data)
        rejected += any(v.code.value in ("malformed_event", "unknown_entity", "limit_exceeded",
                                         "item_id_mismatch", "type_change")
                        for v in flow.violations)
    # the mutations reach the checks the fast paths shortcut, not only clean streams
    assert rejected > MUTATIONS // 4


def test_a_part_counts_against_its_item_on_every_delta() -> None:
    """The item a part's limit counts against is looked up once and kept: two parts of
    one message share ``max_message_chars``, the first delta past it stops both."""
    events = _captures()
    text = next(e for n, e in events if n == "openaidotnet_hello_text_gpt4omini.sse")
    limits = Limits(max_message_chars=8)
    fast, general = ResponseFlow(limits=limits), GeneralFlow(limits=limits)
    for flow in (fast, general):
        flow.feed_sse(_sse(text))
        flow.close()
    assert [v.code.value for v in fast.violations].count("limit_exceeded") == 1
    assert _saved(fast) == _saved(general)


# --------------------------------------------------------------------------- #
# the walk for non-finite numbers, and state changes made by their slots
# --------------------------------------------------------------------------- #
_FLOAT_MAX = int(1.7976931348623157e308)


def _reference(value: Any) -> bool:
    """The definition ``has_non_finite`` implements, recursively."""
    if type(value) is float:
        return not math.isfinite(value)
    if type(value) is int:
        return not -_FLOAT_MAX <= value <= _FLOAT_MAX
    if isinstance(value, dict):
        return any(_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(_reference(v) for v in value)
    return False


class _Dict(dict[str, Any]):
    pass


class _List(list[Any]):
    pass


def _value(rng: random.Random, depth: int) -> Any:
    leaves: list[Any] = [None, True, False, 0, -5, 1.5, "x", "", 10**400, -(10**400), 10**300,
                         float("inf"), float("-inf"), float("nan"), 1e308, (1, float("inf"))]
    if depth > 3 or rng.random() < 0.4:
        return rng.choice(leaves)
    size = rng.randrange(4)
    kind = rng.randrange(4)
    if kind == 0:
        return {str(k): _value(rng, depth + 1) for k in range(size)}
    if kind == 1:
        return [_value(rng, depth + 1) for _ in range(size)]
    if kind == 2:
        return _Dict({str(k): _value(rng, depth + 1) for k in range(size)})
    return _List(_value(rng, depth + 1) for _ in range(size))


def test_the_walk_for_non_finite_numbers_follows_its_definition() -> None:
    rng = random.Random(0)
    values = [_value(rng, 0) for _ in range(5000)]
    found = [has_non_finite(v) for v in values]
    assert found == [_reference(v) for v in values]
    assert 0 < sum(found) < len(found)  # both answers are exercised


def test_a_state_change_made_by_its_slots_is_the_dataclass() -> None:
    made = state_change(3, "message", "msg_1", "response.output_item.done", "in_progress",
                        "completed", 4)
    built = StateChange(3, "message", "msg_1", "response.output_item.done", "in_progress",
                        "completed", 4)
    assert (made, hash(made), repr(made)) == (built, hash(built), repr(built))
    assert state_change(0, "a", "b", "c", "d", "e").count == 1
    with pytest.raises(AttributeError):
        made.count = 5  # type: ignore[misc]
