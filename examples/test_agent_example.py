"""A tiny agent loop, tested offline with runflow's pytest plugin.

``answer`` is the agent code under test: it starts a streamed run with the real
openai client, calls its tools when the run requires action, submits their
outputs, and when a stream is cut or damaged it reads the run back over REST
(``flow.recover``) and carries on. The tests run it against every
scenario of runflow's local server, under every kind of fault, and against a
recording, with no network. ``answer_responses`` is the same agent on the
Responses API (``runflow.drive_response`` runs its function-call loop); its tests
pick the Responses scenarios with ``@pytest.mark.runflow_protocol("responses")``:

    pip install 'runflow-sse[testing]'
    pytest examples/test_agent_example.py

(CI runs this file from ``tests/test_examples.py``.)
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from runflow import DriveError, DrivenResponse, RunFlow, drive_response
from runflow.adapters.recording import DEMO_STREAM
from runflow.adapters.sdk import aconsume, consume
from runflow.testing.assertions import assert_valid_response, assert_valid_run
from runflow.testing.plugin import RunflowCase

FINAL = {"completed", "failed", "cancelled", "incomplete", "expired"}

TOOLS: dict[str, Any] = {
    "get_weather": lambda city: f"sunny in {city}",
    "get_time": lambda timezone: f"14:05 in {timezone}",
}

# what each scenario of the local server ends in
OUTCOME = {"cancel": "cancelled", "failure": "failed", "incomplete": "incomplete"}
RESPONSE_OUTCOME = {"failed": "failed", "incomplete": "incomplete"}


# --------------------------------------------------------------------------- #
# the agent code under test
# --------------------------------------------------------------------------- #
def _outputs(flow: RunFlow, done: set[str]) -> list[dict[str, str]]:
    outputs = []
    for call in flow.pending_tool_calls:
        if call.id not in done:
            args = json.loads(call.function.arguments or "{}")
            outputs.append({"tool_call_id": call.id,
                            "output": str(TOOLS[call.function.name](**args))})
    return outputs


def catch_up(client: openai.OpenAI, flow: RunFlow, thread_id: str) -> None:
    """After a cut or damaged stream: read the run's objects over REST into the flow."""
    runs = client.beta.threads.runs
    if flow.run_id is None:  # cut before the run was even named
        flow.recover(runs.list(thread_id=thread_id, limit=1).data[0])
    run_id = str(flow.run_id)
    for step in runs.steps.list(run_id=run_id, thread_id=thread_id, order="asc"):
        flow.recover(step)
    for message in client.beta.threads.messages.list(thread_id=thread_id, run_id=run_id,
                                                     order="asc"):
        flow.recover(message)
    flow.recover(runs.retrieve(run_id=run_id, thread_id=thread_id))


def answer(client: openai.OpenAI, assistant_id: str, question: str) -> tuple[RunFlow, str]:
    """Run the assistant on a new thread to the end; return the flow and the thread id."""
    thread = client.beta.threads.create(messages=[{"role": "user", "content": question}])
    runs = client.beta.threads.runs
    flow = RunFlow()
    ending: str = consume(flow, runs.create(thread_id=thread.id, assistant_id=assistant_id,
                                            stream=True))
    submitted: set[str] = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if ending != "done" or not flow.ok:  # the stream cannot be trusted: ask REST
            catch_up(client, flow, thread.id)
        if flow.run_status in FINAL:
            return flow, thread.id
        outputs = _outputs(flow, submitted) if flow.run_status == "requires_action" else []
        if outputs:
            submitted.update(o["tool_call_id"] for o in outputs)
            ending = consume(flow, runs.submit_tool_outputs(
                run_id=str(flow.run_id), thread_id=thread.id,
                tool_outputs=outputs, stream=True))  # type: ignore[arg-type]
        else:  # still running server-side (the stream was cut): poll
            time.sleep(0.01)
            ending = "poll"
    raise TimeoutError(f"run {flow.run_id} still {flow.run_status} after 10 s")


async def answer_async(client: openai.AsyncOpenAI, assistant_id: str) -> RunFlow:
    """The async agent, without recovery (its test has no fault)."""
    thread = await client.beta.threads.create()
    flow = RunFlow()
    runs = client.beta.threads.runs
    await aconsume(flow, await runs.create(thread_id=thread.id, assistant_id=assistant_id,
                                           stream=True))
    while flow.run_status == "requires_action":
        await aconsume(flow, await runs.submit_tool_outputs(
            run_id=str(flow.run_id), thread_id=thread.id,
            tool_outputs=_outputs(flow, set()), stream=True))  # type: ignore[arg-type]
    return flow


def answer_responses(client: openai.OpenAI, case: RunflowCase,
                     question: str) -> DrivenResponse:
    """The agent on the Responses API: the case's metadata picks the server's scenario."""
    return drive_response(client, model="gpt-4o", input=question, tools=TOOLS,
                          metadata=case.metadata)


def server_text(client: openai.OpenAI, thread_id: str, run_id: str) -> str:
    """The assistant's answer as the server stored it."""
    messages = client.beta.threads.messages.list(thread_id=thread_id, run_id=run_id,
                                                 order="asc")
    return "\n\n".join("".join(p.text.value for p in m.content if p.type == "text")
                       for m in messages if m.role == "assistant")


# --------------------------------------------------------------------------- #
# the tests
# --------------------------------------------------------------------------- #
@pytest.mark.runflow_scenarios("all")
def test_every_scenario_streams_a_valid_run(openai_client: openai.OpenAI,
                                            runflow_case: RunflowCase) -> None:
    flow, _ = answer(openai_client, runflow_case.assistant_id, "What should I wear?")
    assert_valid_run(flow, status=OUTCOME.get(runflow_case.scenario, "completed"),
                     ending="done")


@pytest.mark.runflow_scenarios("all")
@pytest.mark.runflow_faults("all")
def test_the_agent_survives_every_fault(openai_client: openai.OpenAI,
                                        runflow_case: RunflowCase) -> None:
    flow, thread_id = answer(openai_client, runflow_case.assistant_id, "What should I wear?")
    assert flow.run_status == OUTCOME.get(runflow_case.scenario, "completed")
    # whatever the fault did to the stream, the agent ends with the server's answer
    assert flow.text == server_text(openai_client, thread_id, str(flow.run_id))
    assert flow.text


@pytest.mark.runflow_scenarios("parallel_functions")
async def test_the_async_agent(async_openai_client: openai.AsyncOpenAI,
                               runflow_case: RunflowCase) -> None:
    flow = await answer_async(async_openai_client, runflow_case.assistant_id)
    assert_valid_run(flow, status="completed")
    assert "get_weather" in flow.text and "get_time" in flow.text


@pytest.mark.runflow_recording(DEMO_STREAM)
def test_a_recorded_run(openai_client: openai.OpenAI) -> None:
    """The recording's two streams are served in turn: requires_action, then the answer."""
    flow, _ = answer(openai_client, "asst_text", "Weather in Lisbon?")
    assert_valid_run(flow, status="completed", ending="done")
    assert flow.text == "It's 24°C and clear in Lisbon today."


@pytest.mark.runflow_protocol("responses")
@pytest.mark.runflow_scenarios("all")
def test_every_responses_scenario_streams_valid_responses(openai_client: openai.OpenAI,
                                                          runflow_case: RunflowCase) -> None:
    done = answer_responses(openai_client, runflow_case, "What should I wear?")
    failed = runflow_case.scenario == "failed"
    assert_valid_response(done, status=RESPONSE_OUTCOME.get(runflow_case.scenario, "completed"),
                          ending="error" if failed else "done")


@pytest.mark.runflow_protocol("responses")
@pytest.mark.runflow_scenarios("parallel_functions")
@pytest.mark.runflow_faults("all")
def test_the_responses_agent_under_every_fault(openai_client: openai.OpenAI,
                                               runflow_case: RunflowCase) -> None:
    if runflow_case.fault == "cut_after=0":
        # cut before the response was named: what the server did cannot be read back
        with pytest.raises(DriveError):
            answer_responses(openai_client, runflow_case, "Weather and time?")
        return
    done = answer_responses(openai_client, runflow_case, "Weather and time?")
    # whatever the fault did to a stream, each call was answered once and the
    # answer is the server's (read over REST after a cut)
    assert sorted(c.name for c in done.tool_calls) == ["get_time", "get_weather"]
    assert done.response.status == "completed"
    assert "get_weather" in done.text and "get_time" in done.text
