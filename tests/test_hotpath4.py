"""The fourth pass over the short-stream path (issue 25) decides what the paths it
replaces decided.

The undo journal of a status event saves what only a violation changes (the
violations, their counters, the strict error, the queued callbacks) when the event's
first violation is reported, not before every event: an event that reports a
violation and then fails half-way (a rule with a bug) still leaves the flow exactly as
it was, with one internal_error, in strict mode too, and the violation's callback
never fires.

A status event's move is read off a table built once from the definition's table and
the machine's moves (``Plan.steps``): for every event, kind and state of both
definitions, the plan allows what the table allows, leads where it says and enters
what the machine enters.

Hostile numbers nested in a status object (``1e999``, ``-1E+999``, 309-digit integers;
in a Response, whose bytes are screened first, and in an item or a part, which are
walked) are found as the walk alone finds them; finite ones and ones inside a string
raise no alarm.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import recordings_dir

from runflow.engine.definition import Finding
from runflow.engine.machines import build_machine, compiled
from runflow.engine.status import _plan
from runflow.engine.violations import ProtocolError, Violation
from runflow.protocols.assistants.definition import ASSISTANTS
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.flow import ResponseFlow

CAPTURES = ["mirascope_parallel_function_calls_gpt4o.sse",
            "pydanticai_deepseek_reasoning_function_call.sse",
            "openaidotnet_hello_text_gpt4omini.sse"]


def _blocks(path_name: str) -> list[bytes]:
    data = (recordings_dir() / "responses" / path_name).read_bytes().replace(b"\r\n", b"\n")
    return [block + b"\n\n" for block in data.split(b"\n\n") if block.strip()]


def _state_of(flow: ResponseFlow) -> dict[str, Any]:
    """The saved state but what an event failing as a whole still changes (the input
    read, its position and number, the internal_error and its count)."""
    state = json.loads(flow.to_json())["state"]
    return {k: v for k, v in state.items()
            if k not in ("decoder", "index", "sequence", "violations", "repeats", "closed")}


def _reports_then_fails(*args: object) -> Iterator[Finding]:
    yield Finding("a finding reported before the bug")
    raise RuntimeError("a rule with a bug")


def _feed_broken(flow: ResponseFlow, block: bytes) -> None:
    """Feed ``block`` with every after rule reporting a finding, then raising."""
    rules = [r for r in RESPONSES.rules if r.phase == "after"]
    originals = [r.check for r in rules]
    for rule in rules:
        object.__setattr__(rule, "check", _reports_then_fails)  # the definition is frozen
    try:
        flow.feed_sse(block)
    finally:
        for rule, check in zip(rules, originals, strict=True):
            object.__setattr__(rule, "check", check)


@pytest.mark.parametrize("name", CAPTURES)
def test_an_event_reporting_a_violation_then_failing_leaves_the_flow_as_it_was(
        name: str) -> None:
    """Every status event of a capture, fed after the ones before it with its after
    rules reporting a finding and then raising: the finding's violation, its count and
    its callback are undone with the rest; the event is one internal_error."""
    blocks = _blocks(name)
    undone = 0
    for i, block in enumerate(blocks):
        flow = ResponseFlow()
        told: list[Violation] = []
        flow.on_violation(told.append)
        for earlier in blocks[:i]:
            flow.feed_sse(earlier)
        before, kept = _state_of(flow), [v.model_dump() for v in flow.violations]
        repeats = dict(flow._s.repeats)
        told.clear()
        _feed_broken(flow, block)
        if len(flow.violations) == len(kept):
            continue  # no event of this block, or one failing before its after rules
        new = [v.code.value for v in flow.violations[len(kept):]]
        if "internal_error" not in new:
            continue  # no after rule ran for this event
        assert new == ["internal_error"], (name, i, new)
        assert [v.model_dump() for v in flow.violations[:len(kept)]] == kept
        assert _state_of(flow) == before, (name, i)
        repeats["internal_error None"] = repeats.get("internal_error None", 0) + 1
        assert flow._s.repeats == repeats
        assert [v.code.value for v in told] == ["internal_error"]
        undone += 1
    assert undone > 5


def test_a_strict_flow_raises_the_internal_error_not_the_undone_finding() -> None:
    blocks = _blocks("openaidotnet_hello_text_gpt4omini.sse")
    flow = ResponseFlow(strict=True)
    with pytest.raises(ProtocolError) as raised:
        _feed_broken(flow, blocks[0])  # response.created: its after rules run
    assert raised.value.violation.code.value == "internal_error"
    assert [v.code.value for v in flow.violations] == ["internal_error"]
    assert flow._first_error is None and not flow._undo_open and flow._undo_said is None
    flow.strict = False
    flow.feed_sse(b"".join(blocks[1:]))  # the next events: no error left over
    flow.close()
    assert [v.code.value for v in flow.violations] == ["internal_error"]


def test_a_violation_outside_a_status_event_saves_nothing() -> None:
    """A violation while no status event is applied (an unknown event) opens no record,
    and one reported while an event is applied is saved once, before it changes
    anything, and forgotten when the event has applied."""
    flow = ResponseFlow()
    flow.feed({"event": "no.such.event", "data": {"type": "no.such.event"}})
    assert flow._undo_said is None and not flow._undo_open
    blocks = _blocks("openaidotnet_hello_text_gpt4omini.sse")
    flow = ResponseFlow()
    first = blocks[0].replace(b'"sequence_number":0', b'"sequence_number":0,"x":1')
    flow.feed_sse(first)
    assert flow._undo_said is None and not flow._undo_open


# --------------------------------------------------------------------------- #
# the move table
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("protocol", [RESPONSES, ASSISTANTS], ids=["responses", "assistants"])
def test_each_plans_moves_are_the_tables_and_the_machines(protocol: Any) -> None:
    """For every event of every kind and every state: the plan allows the event
    exactly where the definition's table does, leads where it says, and enters the
    state the machine enters when triggered (a self-loop enters none)."""
    c = compiled(protocol)
    checked = 0
    for kind, table in protocol.tables.items():
        machine = build_machine(table)
        for name in {t.event for t in table.transitions}:
            plan = _plan(c, kind, name)
            for state in table.states:
                default = c.lookup[kind].get((state, name))
                step = plan.steps.get(state)
                if default is None:
                    assert step is None, (kind, name, state)
                    continue
                assert step is not None and step[0] == default, (kind, name, state)
                transitions = machine.events[name].transitions.get(state, [])
                machine_dest = transitions[0].dest if transitions else None
                assert step[1] == machine_dest, (kind, name, state, step, machine_dest)
                checked += 1
    assert checked > 20


# --------------------------------------------------------------------------- #
# hostile numbers: the screen of the bytes and the walk decide alike
# --------------------------------------------------------------------------- #
NON_FINITE = [b"1e999", b"-1E+999", b"1.8e308", b"1" + b"0" * 309, b"-" + b"9" * 309,
              b"1" + b"0" * 300 + b"e10"]
FINITE = [b"1e308", b"-1E+99", b"1" + b"0" * 300, b"1e-999", b"0." + b"0" * 400 + b"1e300",
          b'"1e999 NaN Infinity -1E+999"']
PLACES = [(b'"metadata":{}', b'"metadata":{"k":[%s]}'),            # the Response (screened)
          (b'"role":"assistant"', b'"role":"assistant","x":{"k":[%s]}'),  # an item (walked)
          (b'"annotations":[]', b'"annotations":[],"x":{"k":{"d":%s}}')]  # a part


def _injected(literal: bytes) -> list[tuple[int, bytes]]:
    """``(index, stream)``: the text capture with ``literal`` nested in one status
    object's field, one stream per event that holds a place."""
    blocks = _blocks("openaidotnet_hello_text_gpt4omini.sse")
    out = []
    for i, block in enumerate(blocks):
        for place, field in PLACES:
            if place in block:
                hostile = block.replace(place, field % literal, 1)
                out.append((i, b"".join([*blocks[:i], hostile, *blocks[i + 1:]])))
    return out


def _as_events(stream: bytes) -> list[dict[str, Any]]:
    """The stream's events as dicts of parsed data (fed with ``feed``: no bytes to
    screen, so every status object is walked)."""
    from pydantic_core import from_json

    events = []
    for block in stream.split(b"\n\n"):
        lines = dict(line.split(b": ", 1) for line in block.split(b"\n") if b": " in line)
        if b"data" in lines:
            events.append({"event": lines[b"event"].decode(),
                           "data": from_json(lines[b"data"], allow_inf_nan=False)})
    return events


@pytest.mark.parametrize("literal", NON_FINITE + FINITE)
def test_hostile_numbers_in_status_objects_are_found_as_the_walk_finds_them(
        literal: bytes) -> None:
    hostile = literal in NON_FINITE
    cases = _injected(literal)
    assert len(cases) >= 5
    for index, stream in cases:
        screened, walked = ResponseFlow(), ResponseFlow()
        screened.feed_sse(stream)
        screened.close()
        for event in _as_events(stream):
            walked.feed(event)
        walked.close()
        found = [(v.code.value, v.index) for v in screened.violations]
        assert found == [(v.code.value, v.index) for v in walked.violations]
        assert screened.history == walked.history
        assert (("malformed_event", index) in found) == hostile, (literal[:20], index, found)
        if hostile:
            message = next(v.message for v in screened.violations if v.index == index)
            assert "NaN or infinite" in message
