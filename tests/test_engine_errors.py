"""What the engine does with its own failures and with text it cannot write: an
``internal_error`` violation naming where it came from (the flow goes on), and
checkpoints that stay valid UTF-8."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import load_events

from runflow import RunFlow
from runflow.protocols.assistants.accumulators import MessageContent

TEXT = "dotnet_text_answer.jsonl"


def test_an_exception_while_applying_is_an_internal_error(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    events = load_events(TEXT)
    first_delta = next(i for i, e in enumerate(events) if e["event"] == "thread.message.delta")

    def broken(self: MessageContent, delta: object, room: int, max_index: int) -> int:
        raise KeyError("boom")

    monkeypatch.setattr(MessageContent, "merge", broken)
    flow = RunFlow()
    for event in events:
        flow.feed(event)
    assert flow.close() == "done"
    internal = [v for v in flow.violations if v.code.value == "internal_error"]
    assert internal and internal[0].index == first_delta
    # the innermost frame inside runflow: the engine's delta path called the merge
    assert internal[0].message.startswith("KeyError at engine/deltas.py:")
    assert "(_on_delta)" in internal[0].message
    assert "(_on_delta)" in internal[0].message and "bug in runflow" in internal[0].message
    assert flow.run_status == "completed"  # everything after the broken events applied


def test_strict_mode_raises_an_internal_error_like_any_error(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    from runflow import ProtocolError

    monkeypatch.setattr(MessageContent, "merge",
                        lambda self, delta, room, max_index: 1 / 0)
    flow = RunFlow(strict=True)
    with pytest.raises(ProtocolError, match="internal_error"):
        for event in load_events(TEXT):
            flow.feed(event)


def test_a_checkpoint_of_invalid_unicode_is_valid_utf8_and_warns() -> None:
    flow = RunFlow()
    flow.feed({"event": "thread.run.created\ud800", "data": {}})
    with pytest.warns(UnicodeWarning, match="replaced with U\\+FFFD"):
        text = flow.to_json()
    text.encode("utf-8")  # no lone surrogate left
    restored = RunFlow.from_json(text)
    assert restored.violations[0].code.value == "unknown_event"
    assert restored.violations[0].event == "thread.run.created\ufffd"


def _state(flow: RunFlow) -> tuple[object, ...]:
    return (flow.run_status, flow.step_states, flow.message_states, flow.history,
            [m.model_dump() for m in flow.messages], [s.model_dump() for s in flow.steps],
            flow.text, flow.stream_state)


def _fed_up_to(name: str) -> tuple[list[dict[str, Any]], int, RunFlow]:
    """The text recording, the index of its first ``name`` event, and a flow fed
    every event before it."""
    events = load_events(TEXT)
    at = next(i for i, e in enumerate(events) if e["event"] == name)
    flow = RunFlow()
    for event in events[:at]:
        flow.feed(event)
    return events, at, flow


def test_a_status_event_that_fails_half_way_is_undone() -> None:
    """A rule that raises after the event was applied (the step moved, its object
    merged, its history written): the event is undone whole."""
    events, at, flow = _fed_up_to("thread.run.step.completed")
    completed: list[str] = []
    flow.on_step("completed")(lambda step: completed.append(step.id))
    before = _state(flow)
    count = len(flow.violations)
    rule = next(r for r in flow.protocol.rules if r.name == "message_inside_step")
    assert rule in flow.protocol.after_rules[("step", "thread.run.step.completed")]
    original = rule.check

    def broken(*args: object) -> object:
        raise RuntimeError("a rule with a bug")

    object.__setattr__(rule, "check", broken)  # the definition is frozen data
    try:
        flow.feed(events[at])
    finally:
        object.__setattr__(rule, "check", original)
    assert [v.code.value for v in flow.violations[count:]] == ["internal_error"]
    assert "RuntimeError" in flow.violations[-1].message
    assert _state(flow) == before  # exactly as before the event
    assert completed == []  # and its enter callback never fired
    for event in events[at:]:  # the same event again, now with the rule mended
        flow.feed(event)
    assert flow.close() == "done" and flow.run_status == "completed"
    assert completed == [events[at]["data"]["id"]]  # once, for the event that applied


def test_a_delta_that_fails_half_way_is_undone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A general-path delta whose merge breaks after changing the parts."""
    import runflow.protocols.assistants.accumulators as accumulators
    from runflow.protocols.assistants.content import apply_content

    events, at, flow = _fed_up_to("thread.message.delta")
    before = _state(flow)

    def half(parts: list[object], content: object) -> int:
        apply_content(parts, content)  # type: ignore[arg-type]
        raise RuntimeError("half way")

    monkeypatch.setattr(accumulators, "apply_content", half)
    flow.feed(events[at])
    assert flow.violations[-1].code.value == "internal_error"
    assert _state(flow) == before


def test_an_error_object_of_the_wrong_shape_is_malformed() -> None:
    flow = RunFlow()
    new = flow.feed({"event": "error", "data": {"error": {"message": 5, "type": "x"}}})
    assert [(v.code.value, v.index) for v in new] == [("malformed_event", 0)]
    assert "error.message: expected string, got integer" in new[0].message
    assert flow.error is None and flow.close() == "truncated"
