"""flow.recover: full objects read over REST after a cut, fed into the flow."""

from __future__ import annotations

import pytest
from conftest import load_events
from helpers import text_of
from openai.types.beta import Thread
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from runflow import RunFlow
from runflow.engine.flow import RecoveryError
from runflow.engine.state import RECOVERED

TEXT = "dotnet_text_answer.jsonl"


def final_objects() -> tuple[Run, RunStep, Message]:
    events = load_events(TEXT)
    last = {e["event"]: e["data"] for e in events}
    return (Run.construct(**last["thread.run.completed"]),
            RunStep.construct(**last["thread.run.step.completed"]),
            Message.construct(**last["thread.message.completed"]))


def test_a_cut_flow_catches_up_and_fires_enter_callbacks() -> None:
    events = load_events(TEXT)
    flow = RunFlow()
    entered: list[str] = []
    flow.on_run("completed")(lambda run: entered.append(run.status))
    for event in events[:20]:  # cut mid-message
        flow.feed(event)
    assert flow.close() == "truncated"
    run, step, message = final_objects()
    assert flow.recover(step) and flow.recover(message) and flow.recover(run)
    assert (flow.run_status, flow.step_state(step.id), flow.message_state(message.id)) == (
        "completed", "completed", "completed")
    assert text_of(flow.message(message.id).content[0]) == text_of(message.content[0])
    assert entered == ["completed"]
    assert [c.event for c in flow.history[-3:]] == [RECOVERED] * 3
    assert flow.history[-1].source == "in_progress" and flow.history[-1].dest == "completed"
    assert not flow.recover(run)  # nothing changed the second time


def test_recovery_refuses_what_does_not_belong() -> None:
    flow = RunFlow()
    for event in load_events(TEXT)[:5]:
        flow.feed(event)
    run, step, _ = final_objects()
    other = run.model_copy(update={"id": "run_other"})
    with pytest.raises(RecoveryError, match="not this flow's run"):
        flow.recover(other)
    with pytest.raises(RecoveryError, match="belongs to run run_elsewhere"):
        flow.recover(step.model_copy(update={"run_id": "run_elsewhere", "id": "step_x"}))
    with pytest.raises(RecoveryError, match="status 'paused'"):
        flow.recover(run.model_copy(update={"status": "paused"}))
    with pytest.raises(RecoveryError, match="cannot recover a Thread"):
        flow.recover(Thread.construct(id="thread_1", object="thread"))
    assert flow.run_status == "in_progress"  # nothing was applied
