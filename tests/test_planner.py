"""The drive loops' decisions, without any I/O: the Assistants ``Planner`` (over one
run's flow) and the Responses one (over rounds of response flows)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import load_events

from runflow import DriveError, ResponseFlow, RunFlow, RunTimeout
from runflow.adapters.drive.assistants import Planner
from runflow.adapters.drive.budget import Budget, Polling
from runflow.adapters.drive.responses import STALLED_RESUMES, Round
from runflow.adapters.drive.responses import Planner as ResponsePlanner
from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.scenarios import ScenarioOptions

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


# -- the Responses loop's decisions (runflow.adapters.drive.responses.Planner) -----------------


BACKGROUND = script_response("text", ResponseRequest(
    {"model": "m", "input": "hi", "background": True}, ScenarioOptions()))


def response_planner(*, background: bool = True) -> ResponsePlanner:
    return ResponsePlanner(Budget(), poll_interval=0.05, poll_timeout=60.0, max_rounds=10,
                           background=background)


def stream(flow: ResponseFlow, events: list[dict[str, Any]]) -> None:
    """One stream of ``events``, cut after them."""
    flow.begin_stream()
    for event in events:
        flow.feed(event)
    flow.close()


def resume(plan: ResponsePlanner, r: Round, events: list[dict[str, Any]]) -> None:
    cursor, replayed = r.flow.sequence_number, r.flow.replayed
    stream(r.flow, events)
    plan.resumed(r, cursor, replayed)


def test_a_cut_background_response_is_resumed_while_resumes_bring_new_events() -> None:
    plan = response_planner()
    r = plan.begin()
    stream(r.flow, BACKGROUND[:3])
    assert plan.next(r) == ("resume", None)
    for k in range(4, len(BACKGROUND)):  # one new event per resume: never stalled
        resume(plan, r, BACKGROUND[:k])  # each resume replays what came before
        assert r.stalled == 0 and plan.next(r) == ("resume", None)
    resume(plan, r, BACKGROUND)
    assert r.flow.status == "completed" and plan.next(r) == ("stop", None)


def test_resumes_that_bring_nothing_fall_back_to_rest() -> None:
    plan = response_planner()
    r = plan.begin()
    stream(r.flow, BACKGROUND[:3])
    for _ in range(STALLED_RESUMES):
        assert plan.next(r) == ("resume", None)
        resume(plan, r, [])
    assert plan.next(r) == ("retrieve", 0.0)  # the first read at once, then backing off
    assert plan.next(r) == ("retrieve", 0.05)


def test_resumes_that_only_replay_end_in_a_drive_error() -> None:
    plan = response_planner()
    r = plan.begin()
    stream(r.flow, BACKGROUND[:3])
    for _ in range(STALLED_RESUMES):
        assert plan.next(r) == ("resume", None)
        resume(plan, r, BACKGROUND[:3])
    assert (r.stalled, r.replays, r.flow.replayed) == (STALLED_RESUMES, 6, 6)
    with pytest.raises(DriveError, match=r"2 resumes in a row after sequence_number 2 brought "
                       r"no new event, only 6 replayed one\(s\)"):
        plan.next(r)


def test_a_cut_foreground_response_is_read_over_rest() -> None:
    plan = response_planner(background=False)
    r = plan.begin()
    stream(r.flow, BACKGROUND[:3])
    assert [plan.next(r) for _ in range(3)] == [("retrieve", 0.0), ("retrieve", 0.05),
                                                ("retrieve", 0.1)]
