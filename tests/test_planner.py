"""The Assistants loop's decisions, without any I/O (runflow.adapters.drive.assistants.Planner)."""

from __future__ import annotations

import pytest
from conftest import load_events

from runflow import RunFlow, RunTimeout
from runflow.adapters.drive.assistants import Planner
from runflow.adapters.drive.budget import Budget, Polling

ACTION = "dotnet_create_and_run_function_requires_action.jsonl"
TEXT = "dotnet_text_answer.jsonl"


def flow_of(name: str, upto: int | None = None) -> RunFlow:
    flow = RunFlow()
    for event in load_events(name)[:upto]:
        flow.feed(event)
    return flow


def planner(poll_timeout: float = 60.0, *, interval: float = 0.05,
            deadline: float | None = None) -> Planner:
    return Planner(Budget(deadline), Polling(interval, poll_timeout))


def test_requires_action_submits_each_call_once() -> None:
    flow = flow_of(ACTION)
    plan = planner()
    plan.streamed("done")
    action, calls = plan.next(flow)
    assert action == "submit"
    assert [c.id for c in calls] == [c.id for c in flow.pending_tool_calls]
    plan.sent(calls)
    assert plan.next(flow) == ("poll", 0.05)  # nothing left to submit: wait and re-read
    assert plan.next(flow) == ("reconcile", None)


def test_a_cut_stream_is_reconciled_first() -> None:
    flow = flow_of(TEXT, 20)
    plan = planner()
    plan.streamed("truncated")
    assert plan.next(flow) == ("reconcile", None)


def test_polling_backs_off_and_times_out() -> None:
    flow = flow_of(TEXT, 20)  # the run is in_progress
    plan = planner()
    plan.streamed("done")
    delays = []
    for _ in range(8):
        action, arg = plan.next(flow)
        if action == "poll":
            delays.append(arg)
    assert delays == [0.05, 0.1, 0.2, 0.4]  # each poll is followed by a reconcile
    late = planner(poll_timeout=-1.0)
    late.streamed("done")
    with pytest.raises(RunTimeout, match="still 'in_progress'"):
        late.next(flow)


def test_a_terminal_run_stops() -> None:
    flow = flow_of(TEXT)
    plan = planner()
    plan.streamed("truncated")
    assert plan.next(flow) == ("stop", None)


def test_the_overall_deadline_ends_polling() -> None:
    flow = flow_of(TEXT, 20)  # the run is in_progress
    plan = planner(deadline=-1.0)
    plan.streamed("done")
    with pytest.raises(RunTimeout, match=r"still 'in_progress' at the deadline of -1.0s"):
        plan.next(flow)
    done = flow_of(TEXT)
    assert plan.next(done) == ("stop", None)  # a final run is returned, however late


def test_polling_never_sleeps_past_the_deadline() -> None:
    flow = flow_of(TEXT, 20)
    plan = planner(interval=5.0, deadline=1.0)
    plan.streamed("done")
    action, delay = plan.next(flow)
    assert action == "poll" and 0 < delay <= 1.0
