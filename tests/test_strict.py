"""Strict mode: raise at the first error, exactly where collecting mode reports it.

For several one-mutation variants of real recordings, a strict flow must raise
:class:`ProtocolError` at the event where a collecting flow records its first
error, carrying that same violation; afterwards its state is what the collecting
flow had just after that event (unchanged for rejected events), and feeding can
go on. Warnings never raise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import load_bytes, load_events
from mutations import (
    Event,
    cut,
    drop,
    duplicate,
    move,
    rename_event,
    replace_id,
    set_field,
    set_status,
    swap,
)

from runflow import RULES, ProtocolError, RunFlow, Violation

TEXT = "dotnet_text_answer.jsonl"
ACTION = "dotnet_create_and_run_function_requires_action.jsonl"
RUBY = "rubyopenai_message_incomplete_max_tokens_run_completed_event_status_incomplete_2024.jsonl"
LISTED = "required_action.submit_tool_outputs.tool_calls.0"
TOOL = "delta.step_details.tool_calls.0"
MSG_ID = "msg_Tn5DNmiQEPZ80biW5AukKrvH"

Mutate = Callable[[list[Event]], list[Event]]

ERRORS: list[tuple[str, str, Mutate]] = [
    ("unknown_entity (rejected)", TEXT, lambda e: drop(e, 3)),
    ("duplicate_entity (rejected)", TEXT, lambda e: duplicate(e, 5)),
    ("content_index_gap (rejected)", TEXT, lambda e: set_field(e, 8, "delta.content.0.index", 2)),
    ("run_not_in_progress (rejected)", ACTION, lambda e: swap(e, 7, 8)),
    ("children_open_at_terminal (kept)", TEXT, lambda e: move(e, 42, 40)),
    ("tool_calls_mismatch (kept)", ACTION, lambda e: set_field(e, 8, f"{LISTED}.id", "call_x")),
    ("warning then error on one event", ACTION,
     lambda e: set_field(e, 8, f"{LISTED}.function.arguments", "{bad")),
    ("done_before_final", TEXT, lambda e: swap(e, 42, 43)),
    ("event_after_done", TEXT, lambda e: duplicate(e, 43)),
    ("truncated (at close)", TEXT, lambda e: cut(e, 43)),
    ("event_after_terminal", TEXT, lambda e: duplicate(e, 41, to=43)),
]

WARNINGS: list[tuple[str, str, Mutate]] = [
    ("real quirks", RUBY, lambda e: e),
    ("unknown_event", TEXT, lambda e: rename_event(e, 6, "thread.message.reviewed")),
    ("orphan_message", TEXT, lambda e: replace_id(e, MSG_ID, "msg_x", indices=[3, 4, 41])),
    ("status_mismatch", TEXT, lambda e: set_status(e, 41, "failed")),
    ("incomplete_details_on_completed", TEXT,
     lambda e: set_field(e, 42, "incomplete_details", {"reason": "max_prompt_tokens"})),
    ("invalid_tool_arguments", ACTION,
     lambda e: set_field(set_field(e, 7, f"{TOOL}.function.arguments", "{bad"),
                         8, f"{LISTED}.function.arguments", "{bad")),
]


def observe(flow: RunFlow) -> dict[str, Any]:
    def dump(model: Any) -> Any:
        return None if model is None else model.model_dump(mode="json", warnings=False)

    return {
        "run_status": flow.run_status,
        "steps": flow.step_states,
        "messages": flow.message_states,
        "ending": flow.ending,
        "events": flow.event_count,
        "run": dump(flow.run),
        "step": {i: dump(flow.step(i)) for i in flow.step_states},
        "message": {i: dump(flow.message(i)) for i in flow.message_states},
    }


def collecting(events: list[Event]) -> tuple[RunFlow, list[dict[str, Any]]]:
    """A collecting flow over ``events`` and its observed state after each event
    (and, last, after close)."""
    flow = RunFlow()
    after = []
    for e in events:
        flow.feed(e)
        after.append(observe(flow))
    flow.close()
    after.append(observe(flow))
    return flow, after


def key(v: Violation) -> tuple[Any, ...]:
    return (v.code, v.severity, v.index, v.event, v.entity, v.message)


@pytest.mark.parametrize(("recording", "mutate"), [c[1:] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_strict_raises_where_collecting_reports(recording: str, mutate: Mutate) -> None:
    events = mutate(load_events(recording))
    reference, after = collecting(events)
    assert reference.errors, "the mutation must give an error"
    # each event raises at most once: for its first error
    expected: list[Violation] = []
    for v in reference.errors:
        if not expected or expected[-1].index != v.index:
            expected.append(v)

    flow = RunFlow(strict=True)
    raised: list[tuple[int, Violation]] = []
    for i, e in enumerate(events):
        try:
            flow.feed(e)
        except ProtocolError as exc:
            raised.append((i, exc.violation))
            assert str(exc) == str(exc.violation)
            assert exc.violation.severity == "error"
            assert observe(flow) == after[i]
            if RULES[exc.violation.code].rejects:
                previous = after[i - 1] if i else observe(RunFlow())
                assert {k: v for k, v in observe(flow).items() if k != "events"} == {
                    k: v for k, v in previous.items() if k != "events"
                }
        else:
            assert observe(flow) == after[i]
    try:
        flow.close()
    except ProtocolError as exc:
        raised.append((len(events), exc.violation))
    assert observe(flow) == after[-1]

    first = reference.errors[0]
    assert raised[0][0] == min(first.index, len(events))
    assert key(raised[0][1]) == key(first)
    assert [key(v) for _, v in raised] == [key(v) for v in expected]
    # strict mode records exactly what collecting mode records
    assert [key(v) for v in flow.violations] == [key(v) for v in reference.violations]


@pytest.mark.parametrize(("recording", "mutate"), [c[1:] for c in WARNINGS],
                         ids=[c[0] for c in WARNINGS])
def test_warnings_never_raise(recording: str, mutate: Mutate) -> None:
    events = mutate(load_events(recording))
    flow = RunFlow(strict=True)
    for e in events:
        flow.feed(e)
    assert flow.close() == "done"
    assert flow.violations, "the case must give a warning"
    assert {v.severity for v in flow.violations} == {"warning"}


def test_strict_feed_sse_keeps_the_rest_of_a_chunk() -> None:
    """A whole stream in one chunk: the raise comes at the first error, and the
    events after it in the same chunk are still processed on the next calls."""
    raw = load_bytes("dotnet_text_answer.sse")
    # a second run.completed: invalid_transition at index 43, then done
    marker = b"event: done"
    at = raw.rindex(b"event: thread.run.completed")
    block = raw[at:raw.rindex(marker)]
    raw = raw[:at] + block + block + raw[raw.rindex(marker):]

    reference = RunFlow()
    reference.feed_sse(raw)
    reference.close()
    assert [(v.code.value, v.index) for v in reference.violations] == [
        ("invalid_transition", 43)
    ]

    flow = RunFlow(strict=True)
    with pytest.raises(ProtocolError) as exc:
        flow.feed_sse(raw)
    assert (exc.value.violation.code.value, exc.value.violation.index) == ("invalid_transition", 43)
    assert flow.event_count == 44
    assert flow.ending is None  # done is not processed yet
    assert flow.feed_sse(b"") == []
    assert flow.close() == "done"
    assert flow.event_count == 45
    assert flow.run_status == "completed"
    assert [key(v) for v in flow.violations] == [key(v) for v in reference.violations]


def test_strict_close_raises_truncated_once() -> None:
    flow = RunFlow(strict=True)
    for e in load_events(TEXT)[:20]:
        flow.feed(e)
    with pytest.raises(ProtocolError) as exc:
        flow.close()
    assert exc.value.violation.code.value == "truncated"
    assert exc.value.violation.index == 20
    assert flow.close() == "truncated"  # already reported: no second raise
    assert [v.code.value for v in flow.violations] == ["truncated"]


def test_strict_and_collecting_agree_on_a_clean_two_stream_run() -> None:
    flow = RunFlow(strict=True)
    for e in [*load_events(ACTION), *load_events("dotnet_function_call_continuation.jsonl")]:
        flow.feed(e)
    assert flow.close() == "done"
    assert flow.violations == []
    assert flow.run_status == "completed"
