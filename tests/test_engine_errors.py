"""What the engine does with its own failures and with text it cannot write: an
``internal_error`` violation naming where it came from (the flow goes on), and
checkpoints that stay valid UTF-8."""

from __future__ import annotations

import pytest
from conftest import load_events

from runflow import RunFlow
from runflow.accumulators import MessageContent

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
    assert internal[0].message.startswith("KeyError at flow.py:")
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
