"""End to end: every scenario of the test server, over real loopback HTTP with the real
openai clients, driven by ``drive``/``adrive`` or fed with
``runflow.adapters.sdk.consume``; the flow's
final snapshots must equal the server's stored objects read back over REST."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import openai
import pytest
import pytest_asyncio
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from runflow import RunFlow
from runflow.adapters.drive import adrive, drive
from runflow.adapters.sdk import aconsume, consume
from runflow.server.scenarios import (
    CITED_FILE,
    CODE,
    DEFAULT_TEXT,
    FUNCTION_CALLS,
    chunk_text,
)
from runflow.testing import SCENARIOS, Server

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]

# run status, then (step status, message status) of the message-creation step
EXPECTED: dict[str, tuple[str, str, str]] = {
    "text": ("completed", "completed", "completed"),
    "parallel_functions": ("completed", "completed", "completed"),
    "code_interpreter": ("completed", "completed", "completed"),
    "file_search": ("completed", "completed", "completed"),
    "cancel": ("cancelled", "cancelled", "incomplete"),
    "failure": ("failed", "failed", "incomplete"),
    "incomplete": ("incomplete", "completed", "incomplete"),
}
# violations a clean run of each scenario is expected to produce (all: none)
EXPECTED_WARNINGS: dict[str, list[tuple[str, int]]] = {name: [] for name in SCENARIOS}
ANSWER = "Here is what I found. get_weather: 18C, sunny. get_time: 14:05."
# cancel, failure and incomplete stop after the first half of the default text's tokens
HALF = "".join(chunk_text(DEFAULT_TEXT)[: len(chunk_text(DEFAULT_TEXT)) // 2])


def weather(city: str) -> str:
    assert city == "Paris"
    return "18C, sunny"


def clock(timezone: str) -> str:
    assert timezone == "Europe/Paris"
    return "14:05"


async def aweather(city: str) -> str:
    return weather(city)


# tools take keyword arguments, read from the call's JSON arguments
TOOLS: dict[str, Callable[..., str]] = {"get_weather": weather, "get_time": clock}
ATOOLS = {"get_weather": aweather, "get_time": clock}  # one async, one sync tool


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
        yield c


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def aclient(server: Server) -> AsyncIterator[openai.AsyncOpenAI]:
    """One async client for the module; the async tests share its event loop
    (``loop_scope="module"``), so its connections stay on that loop."""
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test",
                                  max_retries=0) as c:
        yield c


def as_dict(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(obj.to_json())
    return data


# -- what is compared ---------------------------------------------------------------


def tool_call_summary(call: dict[str, Any]) -> dict[str, Any]:
    kind = call["type"]
    body = call[kind]
    if kind == "function":
        detail = {k: body.get(k) for k in ("name", "arguments", "output")}
    elif kind == "code_interpreter":
        detail = {"input": body.get("input"), "outputs": body.get("outputs")}
    else:
        detail = {"results": body.get("results"), "ranking_options": body.get("ranking_options")}
    return {"id": call["id"], "type": kind, **detail}


def summary(run: Any, steps: list[Any], messages: list[Any]) -> dict[str, Any]:
    """The fields the brief names, from SDK objects (a flow's or REST's alike)."""
    r = as_dict(run)
    out: dict[str, Any] = {
        "run": {k: r.get(k) for k in ("id", "thread_id", "assistant_id", "status",
                                      "last_error", "incomplete_details", "required_action",
                                      "usage")},
        "steps": [],
        "messages": [],
    }
    for step in map(as_dict, steps):
        details = step["step_details"]
        entry: dict[str, Any] = {"id": step["id"], "status": step["status"],
                                 "type": step["type"], "run_id": step["run_id"]}
        if details["type"] == "tool_calls":
            entry["tool_calls"] = [tool_call_summary(c) for c in details["tool_calls"]]
        else:
            entry["message_id"] = details["message_creation"]["message_id"]
        out["steps"].append(entry)
    for message in map(as_dict, messages):
        content = []
        for part in message["content"]:
            if part["type"] == "text":
                content.append({"type": "text", "value": part["text"]["value"],
                                "annotations": part["text"]["annotations"]})
            else:
                content.append(part)
        out["messages"].append({
            "id": message["id"], "status": message["status"], "role": message["role"],
            "run_id": message["run_id"], "incomplete_details": message["incomplete_details"],
            "content": content,
        })
    return out


def check_against_rest(client: openai.OpenAI, flow: RunFlow, thread_id: str) -> dict[str, Any]:
    """The flow's final snapshots equal what REST returns; returns the summary."""
    assert flow.run is not None and flow.run_id is not None
    run = client.beta.threads.runs.retrieve(flow.run_id, thread_id=thread_id)
    steps = client.beta.threads.runs.steps.list(flow.run_id, thread_id=thread_id,
                                                order="asc").data
    messages = client.beta.threads.messages.list(thread_id, run_id=flow.run_id,
                                                 order="asc").data
    mine = summary(flow.run, flow.steps, flow.messages)
    assert mine == summary(run, steps, messages)
    # and nothing else differs either
    assert as_dict(flow.run) == as_dict(run)
    assert [as_dict(s) for s in flow.steps] == [as_dict(s) for s in steps]
    assert [as_dict(m) for m in flow.messages] == [as_dict(m) for m in messages]
    return mine


def check_scenario(scenario: str, flow: RunFlow, got: dict[str, Any], thread_id: str) -> None:
    """Independent expectations: statuses, texts, tool calls, violations."""
    run_status, step_status, message_status = EXPECTED[scenario]
    assert flow.run_status == run_status
    assert got["run"]["status"] == run_status
    assert got["run"]["thread_id"] == thread_id
    assert got["run"]["assistant_id"] == f"asst_{scenario}"
    assert [(v.code.value, v.index) for v in flow.violations] == EXPECTED_WARNINGS[scenario]
    assert flow.ending == "done"
    assert flow.error is None
    creation = [s for s in got["steps"] if s["type"] == "message_creation"]
    tools = [s for s in got["steps"] if s["type"] == "tool_calls"]
    assert len(creation) == 1 and creation[0]["status"] == step_status
    assert len(got["messages"]) == 1
    message = got["messages"][0]
    assert message["id"] == creation[0]["message_id"]
    assert message["status"] == message_status and message["role"] == "assistant"
    assert flow.step_states == {s["id"]: s["status"] for s in got["steps"]}
    assert flow.message_states == {message["id"]: message_status}
    texts = [p for p in message["content"] if p["type"] == "text"]
    assert len(texts) == 1
    text = texts[0]
    assert flow.text == text["value"]
    if scenario == "text":
        assert text == {"type": "text", "value": DEFAULT_TEXT, "annotations": []}
        assert tools == []
    elif scenario in ("cancel", "failure", "incomplete"):
        assert text == {"type": "text", "value": HALF, "annotations": []}
        assert tools == []
        reason = {"cancel": "run_cancelled", "failure": "run_failed",
                  "incomplete": "max_tokens"}[scenario]
        assert message["incomplete_details"] == {"reason": reason}
        if scenario == "failure":
            assert got["run"]["last_error"]["code"] == "server_error"
        if scenario == "incomplete":
            assert got["run"]["incomplete_details"] == {"reason": "max_completion_tokens"}
    elif scenario == "parallel_functions":
        assert text == {"type": "text", "value": ANSWER, "annotations": []}
        assert len(tools) == 1 and tools[0]["status"] == "completed"
        calls = tools[0]["tool_calls"]
        assert [(c["name"], json.loads(c["arguments"])) for c in calls] == FUNCTION_CALLS
        assert [c["output"] for c in calls] == ["18C, sunny", "14:05"]
        assert len({c["id"] for c in calls}) == 2
        assert all(c["id"].startswith("call_") for c in calls)
        assert got["run"]["required_action"] is None
        assert [s["type"] for s in got["steps"]] == ["tool_calls", "message_creation"]
    elif scenario == "code_interpreter":
        (call,) = tools[0]["tool_calls"]
        assert call["type"] == "code_interpreter" and call["input"] == CODE
        assert call["outputs"][0] == {"type": "logs", "logs": "1.0\n"}
        assert call["outputs"][1]["type"] == "image"
        image = call["outputs"][1]["image"]["file_id"]
        assert message["content"][0]["type"] == "image_file"
        assert message["content"][0]["image_file"]["file_id"] == image
        assert text["value"] == "Here is the plot of sin(x); its maximum is 1.0."
    elif scenario == "file_search":
        (call,) = tools[0]["tool_calls"]
        assert call["type"] == "file_search"
        (result,) = call["results"]
        assert result["file_name"] == CITED_FILE
        (annotation,) = text["annotations"]
        assert annotation["type"] == "file_citation"
        assert annotation["file_citation"]["file_id"] == result["file_id"]
        marker = f"【4:0†{CITED_FILE}】"
        assert annotation["text"] == marker
        assert text["value"][annotation["start_index"]:annotation["end_index"]] == marker
        assert text["value"] == f"The launch is scheduled for Tuesday{marker}."
    else:  # pragma: no cover - a new scenario needs expectations here
        raise AssertionError(f"no expectations for scenario {scenario!r}")


# -- sync --------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_drive(client: openai.OpenAI, scenario: str) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    tools = TOOLS if scenario == "parallel_functions" else {}
    flow = drive(client, thread_id=thread.id, assistant_id=f"asst_{scenario}", tools=tools,
                 poll_interval=0.005, poll_timeout=5)
    check_scenario(scenario, flow, check_against_rest(client, flow, thread.id), thread.id)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_consume(client: openai.OpenAI, scenario: str) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    flow = RunFlow()
    runs = client.beta.threads.runs
    ending = consume(flow, runs.create(thread_id=thread.id, assistant_id=f"asst_{scenario}",
                                      stream=True))
    assert ending == "done"
    if scenario == "parallel_functions":
        assert flow.run_status == "requires_action"
        calls = flow.pending_tool_calls
        assert [c.function.name for c in calls] == ["get_weather", "get_time"]
        outputs: list[ToolOutput] = [
            {"tool_call_id": c.id,
             "output": TOOLS[c.function.name](**json.loads(c.function.arguments))}
            for c in calls]
        assert flow.run_id is not None
        ending = consume(flow, runs.submit_tool_outputs(
            run_id=flow.run_id, thread_id=thread.id, tool_outputs=outputs, stream=True))
        assert ending == "done"
    check_scenario(scenario, flow, check_against_rest(client, flow, thread.id), thread.id)


# -- async -------------------------------------------------------------------------


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_adrive(aclient: openai.AsyncOpenAI, client: openai.OpenAI, scenario: str) -> None:
    thread = await aclient.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    tools = ATOOLS if scenario == "parallel_functions" else {}
    flow = await adrive(aclient, thread_id=thread.id, assistant_id=f"asst_{scenario}",
                        tools=tools, poll_interval=0.005, poll_timeout=5, tool_timeout=5)
    check_scenario(scenario, flow, check_against_rest(client, flow, thread.id), thread.id)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_aconsume(aclient: openai.AsyncOpenAI, client: openai.OpenAI, scenario: str) -> None:
    thread = await aclient.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    flow = RunFlow()
    runs = aclient.beta.threads.runs
    ending = await aconsume(flow, await runs.create(
        thread_id=thread.id, assistant_id=f"asst_{scenario}", stream=True))
    assert ending == "done"
    if scenario == "parallel_functions":
        outputs: list[ToolOutput] = [
            {"tool_call_id": c.id,
             "output": TOOLS[c.function.name](**json.loads(c.function.arguments))}
            for c in flow.pending_tool_calls]
        assert len(outputs) == 2 and flow.run_id is not None
        ending = await aconsume(flow, await runs.submit_tool_outputs(
            run_id=flow.run_id, thread_id=thread.id,
            tool_outputs=outputs, stream=True))
        assert ending == "done"
    check_scenario(scenario, flow, check_against_rest(client, flow, thread.id), thread.id)
