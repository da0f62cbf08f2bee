"""The test server, driven by the real openai client (and raw httpx) over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from conftest import load_bytes, load_events, recordings_dir
from helpers import function_calls_of, of_type, text_of
from openai.types.beta.threads import (
    Message,
    MessageDeltaEvent,
    Run,
    TextContentBlock,
    TextDeltaBlock,
)
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
from openai.types.beta.threads.runs import RunStep

from runflow.testing import (
    SCENARIOS,
    Fault,
    FaultSyntaxError,
    Server,
    apply_faults,
    encode_event,
    load_recording,
    parse_fault,
    split_sse,
)

# openai marks the Assistants API deprecated; the warnings point at this file, so
# pyproject's "openai.*" module filter does not catch them.
pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]

OPEN = ["run.created", "run.queued", "run.in_progress"]
MESSAGE = ["run.step.created", "run.step.in_progress", "message.created", "message.in_progress",
           "message.delta"]
TOOL_STEP = ["run.step.created", "run.step.in_progress", "run.step.delta"]
ANSWER = [*MESSAGE, "message.completed", "run.step.completed"]
ORDERS = {
    "text": [*OPEN, *ANSWER, "run.completed"],
    "parallel_functions": [*OPEN, *TOOL_STEP, "run.requires_action"],
    "code_interpreter": [*OPEN, *TOOL_STEP, "run.step.completed", *ANSWER, "run.completed"],
    "file_search": [*OPEN, *TOOL_STEP, "run.step.completed", *ANSWER, "run.completed"],
    "cancel": [*OPEN, *MESSAGE, "run.cancelling", "message.incomplete", "run.step.cancelled",
               "run.cancelled"],
    "failure": [*OPEN, *MESSAGE, "message.incomplete", "run.step.failed", "run.failed"],
    "incomplete": [*OPEN, *MESSAGE, "message.incomplete", "run.step.completed",
                   "run.incomplete"],
}
CONTINUATION = ["run.step.completed", "run.queued", "run.in_progress", *ANSWER, "run.completed"]
FINAL_STATUS = {"text": "completed", "parallel_functions": "requires_action",
                "code_interpreter": "completed", "file_search": "completed",
                "cancel": "cancelled", "failure": "failed", "incomplete": "incomplete"}


HTTP = httpx.Client(timeout=10)  # one client: each new one costs an SSL context


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    HTTP.close()


def collapse(names: list[str]) -> list[str]:
    """Event names without the ``thread.`` prefix, runs of the same delta merged."""
    out: list[str] = []
    for name in names:
        short = name.removeprefix("thread.")
        if not (out and short == out[-1] and short.endswith("delta")):
            out.append(short)
    return out


@pytest.fixture(autouse=True)
def _no_leftover_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").clear_faults()


@pytest.fixture
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
        yield c


def as_dict(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(obj.to_json())
    return data


def delta_text(delta: MessageDeltaEvent) -> str:
    """The text of a message delta's first content block, a text block."""
    assert delta.delta.content is not None
    block = of_type(TextDeltaBlock, delta.delta.content[0])
    assert block.text is not None and block.text.value is not None
    return block.text.value


def check_rest_agrees(client: openai.OpenAI, events: list[Any]) -> None:
    """Run, steps and messages read over REST equal the last streamed snapshots."""
    last: dict[str, dict[str, Any]] = {}
    run_id = thread_id = ""
    for event in events:
        data = as_dict(event.data)
        if data["object"] in ("thread.run", "thread.run.step", "thread.message"):
            last[data["id"]] = data
        if data["object"] == "thread.run":
            run_id, thread_id = data["id"], data["thread_id"]
    assert as_dict(client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)) == last[run_id]
    steps = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc")
    messages = client.beta.threads.messages.list(thread_id, run_id=run_id, order="asc")
    objects: list[RunStep | Message] = [*steps.data, *messages.data]
    for obj in objects:
        stored, streamed = as_dict(obj), last[obj.id]
        if streamed["status"] == "in_progress":  # REST also shows the deltas merged since
            stored.pop("step_details", stored.pop("content", None))
            streamed = {k: v for k, v in streamed.items() if k in stored}
        assert stored == streamed
    streamed_ids = {k for k, v in last.items() if v["object"] != "thread.run"}
    assert streamed_ids == {s.id for s in steps.data} | {m.id for m in messages.data}


# -- lifecycle ---------------------------------------------------------------------


def test_server_starts_on_free_port_and_stops_quickly() -> None:
    srv = Server().start()
    try:
        assert srv.base_url.startswith("http://127.0.0.1:") and srv.base_url.endswith("/v1")
        assert HTTP.get(srv.base_url + "/assistants/asst_text").json()["id"] == "asst_text"
        thread = srv._thread
    finally:
        srv.stop()
    # stop() returns only once the server thread has ended (no timing asserted)
    assert thread is not None and not thread.is_alive()


# -- scenarios over the real client --------------------------------------------------


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_runs_create_stream(client: openai.OpenAI, scenario: str) -> None:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    stream = client.beta.threads.runs.create(thread.id, assistant_id=f"asst_{scenario}",
                                             stream=True)
    events = list(stream)
    assert collapse([e.event for e in events]) == ORDERS[scenario]
    assert of_type(Run, events[-1].data).status == FINAL_STATUS[scenario]
    # the objects that have a thread_id: runs, steps and messages
    ids = {(e.data.thread_id, e.data.assistant_id) for e in events
           if isinstance(e.data, Run | RunStep | Message)}
    assert ids == {(thread.id, f"asst_{scenario}")}
    check_rest_agrees(client, events)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_create_and_run_stream_async(server: Server, scenario: str) -> None:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="t", max_retries=0) as c:
        stream = await c.beta.threads.create_and_run(
            assistant_id="asst_text", metadata={"scenario": scenario}, stream=True,
            thread={"messages": [{"role": "user", "content": "hello"}]})
        events = [event async for event in stream]
        assert events[0].event == "thread.created"
        assert collapse([e.event for e in events[1:]]) == ORDERS[scenario]
        messages = await c.beta.threads.messages.list(events[0].data.id, order="asc")
        assert messages.data[0].role == "user"
    with openai.OpenAI(base_url=server.base_url, api_key="t", max_retries=0) as sync:
        check_rest_agrees(sync, events)


def test_snapshots_carry_status_timestamps_and_usage(client: openai.OpenAI) -> None:
    events = list(client.beta.threads.create_and_run(assistant_id="asst_text", stream=True))
    runs = [as_dict(e.data) for e in events if e.event.startswith("thread.run.")
            and isinstance(e.data, Run) and e.data.object == "thread.run"]
    assert [r["status"] for r in runs] == ["queued", "queued", "in_progress", "completed"]
    assert runs[0]["started_at"] is None and runs[2]["started_at"] is not None
    assert all(r["usage"] is None for r in runs[:-1]) and runs[-1]["usage"]["total_tokens"] > 0
    assert runs[-1]["completed_at"] is not None and runs[-1]["expires_at"] is None
    by_name = {e.event: as_dict(e.data) for e in events}
    assert by_name["thread.message.created"]["content"] == []
    step = by_name["thread.run.step.created"]
    assert step["id"].startswith("step_") and step["usage"] is None
    assert step["step_details"]["message_creation"]["message_id"] == by_name[
        "thread.message.created"]["id"]
    assert by_name["thread.run.step.completed"]["usage"] is not None
    deltas = [as_dict(e.data)["delta"]["content"][0] for e in events
              if e.event == "thread.message.delta"]
    assert "annotations" in deltas[0]["text"]
    assert all("annotations" not in d["text"] for d in deltas[1:])
    text = "".join(d["text"]["value"] for d in deltas)
    final = by_name["thread.message.completed"]
    assert final["content"] == [{"type": "text", "text": {"value": text, "annotations": []}}]


def test_text_and_chunk_size_come_from_metadata(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    events = list(client.beta.threads.runs.create(
        thread.id, assistant_id="asst_text", stream=True,
        metadata={"text": "abcdefghij", "chunk_size": "3"}))
    values = [delta_text(e.data) for e in events if e.event == "thread.message.delta"]
    assert values == ["abc", "def", "ghi", "j"]


def test_parallel_functions_then_submit_tool_outputs_stream(client: openai.OpenAI) -> None:
    events = list(client.beta.threads.create_and_run(
        assistant_id="asst_parallel_functions", stream=True))
    run = of_type(Run, events[-1].data)
    assert run.status == "requires_action"
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Paris"}), ("get_time", {"timezone": "Europe/Paris"})]
    deltas = [as_dict(e.data)["delta"]["step_details"]["tool_calls"][0] for e in events
              if e.event == "thread.run.step.delta"]
    for index, call in enumerate(calls):
        mine = [d for d in deltas if d["index"] == index]
        assert mine[0] == {"index": index, "id": call.id, "type": "function",
                           "function": {"name": call.function.name, "arguments": "",
                                        "output": None}}
        assert len(mine) > 2 and all(set(d) == {"index", "type", "function"} for d in mine[1:])
        assert "".join(d["function"]["arguments"] for d in mine) == call.function.arguments
    step = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id).data[0]
    assert step.status == "in_progress"  # the tool step stays open across the two streams
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=run.thread_id, stream=True,
            tool_outputs=[{"tool_call_id": "call_wrong", "output": "x"}])
    with pytest.raises(openai.BadRequestError):  # one output missing
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=run.thread_id, stream=True,
            tool_outputs=[{"tool_call_id": calls[0].id, "output": "x"}])
    outputs: list[ToolOutput] = [{"tool_call_id": calls[0].id, "output": "18°C and sunny"},
                                 {"tool_call_id": calls[1].id, "output": "14:05"}]
    more = list(client.beta.threads.runs.submit_tool_outputs(
        run.id, thread_id=run.thread_id, tool_outputs=outputs, stream=True))
    assert collapse([e.event for e in more]) == CONTINUATION
    first = of_type(RunStep, more[0].data)
    assert first.id == step.id and first.status == "completed"
    assert [c.function.output for c in function_calls_of(first)] == ["18°C and sunny", "14:05"]
    assert of_type(Run, more[1].data).required_action is None
    message = of_type(Message, next(e for e in more
                                    if e.event == "thread.message.completed").data)
    text = text_of(message.content[0])
    assert "18°C and sunny" in text and "14:05" in text
    last = of_type(Run, more[-1].data)
    assert last.status == "completed" and last.id == run.id
    check_rest_agrees(client, events + more)
    with pytest.raises(openai.BadRequestError, match="do not accept tool outputs"):
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=run.thread_id, tool_outputs=outputs, stream=True)


def test_non_streamed_runs_progress_to_their_stop_points(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread.id, assistant_id="asst_parallel_functions")
    assert run.status == "queued"
    run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert run.status == "requires_action"
    assert run.required_action is not None
    outputs: list[ToolOutput] = [{"tool_call_id": c.id, "output": "ok"}
                                 for c in run.required_action.submit_tool_outputs.tool_calls]
    client.beta.threads.runs.submit_tool_outputs(run.id, thread_id=thread.id,
                                                 tool_outputs=outputs)
    assert client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "completed"
    polled = client.beta.threads.create_and_run_poll(assistant_id="asst_file_search",
                                                     poll_interval_ms=10)
    assert polled.status == "completed"


def test_high_level_stream_helper(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    with client.beta.threads.runs.stream(thread_id=thread.id,
                                         assistant_id="asst_file_search") as stream:
        stream.until_done()
        message = stream.get_final_messages()[0]
    text = of_type(TextContentBlock, message.content[0]).text
    assert text.annotations[0].type == "file_citation"


def test_code_interpreter_shapes(client: openai.OpenAI) -> None:
    events = [as_dict(e.data) | {"event": e.event} for e in
              client.beta.threads.create_and_run(assistant_id="asst_code_interpreter",
                                                 stream=True)]
    calls = [e["delta"]["step_details"]["tool_calls"][0] for e in events
             if e["event"] == "thread.run.step.delta"]
    assert calls[0]["code_interpreter"] == {"input": "", "outputs": []}
    outputs = [c["code_interpreter"]["outputs"][0] for c in calls
               if "outputs" in c["code_interpreter"] and c["code_interpreter"]["outputs"]]
    assert [(o["index"], o["type"]) for o in outputs] == [(0, "logs"), (1, "image")]
    image_id = outputs[1]["image"]["file_id"]
    tool_done = next(e for e in events if e["event"] == "thread.run.step.completed")
    code = tool_done["step_details"]["tool_calls"][0]["code_interpreter"]
    assert code["input"] == "".join(c["code_interpreter"].get("input", "") for c in calls)
    assert [o["type"] for o in code["outputs"]] == ["logs", "image"]
    first = next(e for e in events if e["event"] == "thread.message.delta")["delta"]["content"]
    assert first == [{"index": 0, "type": "image_file", "image_file": {"file_id": image_id}},
                     {"index": 1, "type": "text", "text": {"value": "", "annotations": []}}]
    final = next(e for e in events if e["event"] == "thread.message.completed")["content"]
    assert [p["type"] for p in final] == ["image_file", "text"] and final[1]["text"]["value"]


def test_file_search_citation_shapes(client: openai.OpenAI) -> None:
    events = [as_dict(e.data) | {"event": e.event} for e in
              client.beta.threads.create_and_run(assistant_id="asst_file_search",
                                                 stream=True)]
    step_deltas = [e for e in events if e["event"] == "thread.run.step.delta"]
    assert len(step_deltas) == 1
    search = step_deltas[0]["delta"]["step_details"]["tool_calls"][0]["file_search"]
    assert search["results"] == [] and "ranking_options" in search
    done = next(e for e in events if e["event"] == "thread.run.step.completed")
    results = done["step_details"]["tool_calls"][0]["file_search"]["results"]
    assert results[0]["file_name"] == "notes.txt"
    citation = next(e["delta"]["content"][0]["text"] for e in events
                    if e["event"] == "thread.message.delta"
                    and e["delta"]["content"][0]["text"].get("annotations"))
    annotation = citation["annotations"][0]
    assert citation["value"] == annotation["text"] == "【4:0†notes.txt】"
    final = next(e for e in events if e["event"] == "thread.message.completed")
    text = final["content"][0]["text"]
    assert text["value"][annotation["start_index"]:annotation["end_index"]] == citation["value"]
    assert text["annotations"][0]["file_citation"]["file_id"] == results[0]["file_id"]


# -- cancel endpoint, errors -------------------------------------------------------------


def test_cancel_endpoint(client: openai.OpenAI) -> None:
    events = list(client.beta.threads.create_and_run(
        assistant_id="asst_parallel_functions", stream=True))
    run = of_type(Run, events[-1].data)
    answer = client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
    assert answer.status == "cancelling"
    stored = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
    assert stored.status == "cancelled" and stored.cancelled_at is not None
    assert stored.required_action is None
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=run.thread_id).data
    assert [s.status for s in steps] == ["cancelled"]
    with pytest.raises(openai.BadRequestError, match="Cannot cancel run"):
        client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
    assert run.required_action is not None  # as the stream ended, at requires_action
    outputs: list[ToolOutput] = [{"tool_call_id": c.id, "output": "x"}
                                 for c in run.required_action.submit_tool_outputs.tool_calls]
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.submit_tool_outputs(run.id, thread_id=run.thread_id,
                                                     tool_outputs=outputs)


def test_cancel_during_a_slow_stream_ends_it_cancelled(server: Server) -> None:
    thread = HTTP.post(server.base_url + "/threads", json={}).json()
    url = f"{server.base_url}/threads/{thread['id']}/runs"
    body = {"assistant_id": "asst_text", "stream": True}
    names: list[str] = []
    run_id = ""
    with HTTP.stream(
            "POST", url, json=body, headers={"X-Runflow-Fault": "delay=0.05"}) as r:
        lines = r.iter_lines()
        for line in lines:
            if line.startswith("event: "):
                names.append(line[7:])
            if line.startswith("data: {") and names[-1] == "thread.run.created":
                run_id = json.loads(line[6:])["id"]
            if line.startswith("data: {") and names[-1] == "thread.message.delta":
                cancel = HTTP.post(f"{url}/{run_id}/cancel")
                assert cancel.json()["status"] == "cancelling"
                break
        rest = [line[7:] for line in lines if line.startswith("event: ")]
    assert rest[-4:] == ["thread.message.incomplete", "thread.run.step.cancelled",
                         "thread.run.cancelled", "done"]
    assert server.store.run(thread["id"], run_id)["status"] == "cancelled"


def test_openai_error_shapes(client: openai.OpenAI, server: Server) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.beta.threads.retrieve("thread_nope")
    assert info.value.body == {"message": "No thread found with id 'thread_nope'.",
                               "type": "invalid_request_error", "param": None, "code": None}
    thread = client.beta.threads.create()
    for call in (
        lambda: client.beta.threads.runs.retrieve("run_nope", thread_id=thread.id),
        lambda: client.beta.threads.runs.steps.list("run_nope", thread_id=thread.id),
        lambda: client.beta.threads.runs.create("thread_nope", assistant_id="asst_text"),
        lambda: client.beta.threads.runs.create(thread.id, assistant_id="asst_nope"),
        lambda: client.beta.threads.messages.list("thread_nope"),
        lambda: client.beta.threads.runs.cancel("run_nope", thread_id=thread.id),
        lambda: client.beta.threads.runs.submit_tool_outputs(
            "run_nope", thread_id=thread.id, tool_outputs=[], stream=True),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    missing = HTTP.get(server.url + "/v1/nowhere")
    assert missing.status_code == 404 and set(missing.json()["error"]) == {
        "message", "type", "param", "code"}


def test_assistants_and_messages_endpoints(client: openai.OpenAI) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o", name="mine",
                                              metadata={"scenario": "incomplete"})
    assert client.beta.assistants.retrieve(assistant.id).name == "mine"
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread.id, role="user", content="one")
    client.beta.threads.messages.create(thread.id, role="user", content="two")
    events = list(client.beta.threads.runs.create(thread.id, assistant_id=assistant.id,
                                                  stream=True))
    last = of_type(Run, events[-1].data)
    assert last.status == "incomplete"
    assert last.incomplete_details is not None
    assert last.incomplete_details.reason == "max_completion_tokens"
    newest_first = client.beta.threads.messages.list(thread.id)
    # the page's other fields, as the wire gave them (the SDK's page declares none)
    listed = newest_first.model_extra
    assert listed is not None
    assert listed["object"] == "list" and not newest_first.has_more
    assert newest_first.data[0].role == "assistant"
    assert listed["first_id"] == newest_first.data[0].id
    oldest = client.beta.threads.messages.list(thread.id, order="asc", limit=1)
    assert text_of(oldest.data[0].content[0]) == "one" and oldest.has_more
    assert client.beta.threads.retrieve(thread.id).id == thread.id


# -- recordings ---------------------------------------------------------------------------


def test_recording_pair_served_to_the_openai_client(fresh: Server) -> None:
    first = "dotnet_create_and_run_function_requires_action.jsonl"
    second = "dotnet_function_call_continuation.jsonl"
    assert fresh.enqueue_recording(recordings_dir() / first) == 1
    assert fresh.enqueue_recording(recordings_dir() / second) == 1
    with openai.OpenAI(base_url=fresh.base_url, api_key="t", max_retries=0) as client:
        events = list(client.beta.threads.create_and_run(assistant_id="asst_x", stream=True))
        expected = [e for e in load_events(first) if e["event"] != "done"]
        assert [(e.event, as_dict(e.data)) for e in events] == [
            (e["event"], e["data"]) for e in expected]
        run = of_type(Run, events[-1].data)
        more = list(client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=run.thread_id, stream=True,
            tool_outputs=[{"tool_call_id": "call_xyFYaEeyocjyE6jN64QTcxip", "output": "warm"}]))
        assert [e.event for e in more] == [e["event"] for e in load_events(second)][:-1]
        stored = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
        assert stored.status == "completed"  # replayed events reach the store too


def test_sse_recording_is_served_byte_for_byte(fresh: Server) -> None:
    name = "dotnet_file_search_file_citation.sse"
    fresh.enqueue_recording(recordings_dir() / name)
    body = HTTP.post(fresh.base_url + "/threads/runs",
                      json={"assistant_id": "a", "stream": True}).content
    assert body == load_bytes(name)


def test_enqueued_events_and_streams_split_at_done(fresh: Server) -> None:
    fresh.enqueue_events([("thread.run.step.mystery", {"id": "x"}), ("done", "[DONE]")])
    text = HTTP.post(fresh.base_url + "/threads/runs",
                      json={"assistant_id": "a", "stream": True}).text
    assert text == (
        'event: thread.run.step.mystery\ndata: {"id":"x"}\n\nevent: done\ndata: [DONE]\n\n')


def test_split_sse_round_trips_every_recording() -> None:
    paths = sorted(recordings_dir().glob("*.sse"))
    assert paths, f"no .sse recordings in {recordings_dir()}"
    for path in paths:
        raw = path.read_bytes()
        frames = split_sse(raw)
        assert b"".join(f.raw for f in frames) == raw, path.name
        expected = [e["event"] for e in load_events(path.with_suffix(".jsonl").name)]
        assert [f.event for f in frames] == expected, path.name
        streams = load_recording(path)
        assert sum(map(len, streams)) == len(frames)


# -- faults -----------------------------------------------------------------------------


def parse_frames(body: bytes) -> list[tuple[str, str | None]]:
    """An independent little SSE parser: (event, data) per blank-line separated block."""
    frames = []
    for block in body.decode().split("\n\n"):
        if block:
            fields = dict(line.split(": ", 1) for line in block.split("\n"))
            frames.append((fields["event"], fields.get("data")))
    return frames


def raw_stream(server: Server, fault: str | None = None, scenario: str = "text",
               **extra: Any) -> tuple[list[tuple[str, str | None]], bool]:
    """POST create-and-run with httpx; returns the frames and whether the body was complete."""
    headers = {"X-Runflow-Fault": fault} if fault else {}
    body = {"assistant_id": f"asst_{scenario}", "stream": True, **extra}
    data, complete = b"", True
    with HTTP.stream("POST", server.base_url + "/threads/runs", json=body,
                      headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        try:
            for chunk in response.iter_raw():
                data += chunk
        except httpx.RemoteProtocolError:
            complete = False
    return parse_frames(data), complete


def names(frames: list[tuple[str, str | None]]) -> list[str]:
    return [event for event, _ in frames]


@pytest.fixture(scope="module")
def baseline(server: Server) -> list[str]:
    frames, complete = raw_stream(server)
    assert complete and frames[-1] == ("done", "[DONE]")
    return names(frames)


def test_fault_cut_after(server: Server, baseline: list[str]) -> None:
    frames, complete = raw_stream(server, "cut_after=5")
    assert not complete and names(frames) == baseline[:5]
    run = json.loads(frames[2][1] or "")
    # the server kept going: a reconciling client sees the run finished
    stored = HTTP.get(f"{server.base_url}/threads/{run['thread_id']}/runs/{run['id']}").json()
    assert stored["status"] == "completed"
    messages = HTTP.get(f"{server.base_url}/threads/{run['thread_id']}/messages").json()
    assert messages["data"][0]["status"] == "completed"


def test_fault_cut_on_requires_action_run_stops_there(server: Server) -> None:
    frames, complete = raw_stream(server, "cut_after=4", scenario="parallel_functions")
    run = json.loads(frames[1][1] or "")
    url = f"{server.base_url}/threads/{run['thread_id']}/runs/{run['id']}"
    assert not complete and HTTP.get(url).json()["status"] == "requires_action"
    steps = HTTP.get(url + "/steps").json()["data"]
    calls = steps[0]["step_details"]["tool_calls"]  # deltas were merged into the stored step
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"city": "Paris"}, {"timezone": "Europe/Paris"}]


def test_fault_corrupt(server: Server, baseline: list[str]) -> None:
    frames, complete = raw_stream(server, "corrupt=3")
    assert complete and names(frames) == baseline
    for number, (_, data) in enumerate(frames[:-1], start=1):
        if number == 3:
            with pytest.raises(json.JSONDecodeError):
                json.loads(data or "")
        else:
            json.loads(data or "")


def test_fault_duplicate_drop_swap(server: Server, baseline: list[str]) -> None:
    frames, _ = raw_stream(server, "duplicate=4")
    assert names(frames) == baseline[:4] + baseline[3:]
    assert frames[3] == frames[4]
    frames, _ = raw_stream(server, "drop=4")
    assert names(frames) == baseline[:3] + baseline[4:]
    frames, _ = raw_stream(server, "swap=4")
    assert names(frames) == [*baseline[:3], baseline[4], baseline[3], *baseline[5:]]


def test_fault_error_after(server: Server, baseline: list[str]) -> None:
    frames, complete = raw_stream(server, "error_after=3")
    assert complete and names(frames) == [*baseline[:3], "error"]
    error = json.loads(frames[-1][1] or "")
    assert set(error["error"]) == {"message", "type", "param", "code"}
    assert error["error"]["type"] == "server_error"


def test_fault_error_after_raises_in_openai_client(client: openai.OpenAI,
                                                   server: Server) -> None:
    server.inject("error_after=4")
    with pytest.raises(openai.APIError, match="injected"):
        list(client.beta.threads.create_and_run(assistant_id="asst_text", stream=True))


def test_fault_cut_raises_connection_error_in_openai_client(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIConnectionError):
        list(client.beta.threads.create_and_run(
            assistant_id="asst_text", stream=True,
            extra_headers={"X-Runflow-Fault": "cut_after=6"}))


def test_fault_unknown_event(server: Server, baseline: list[str]) -> None:
    frames, _ = raw_stream(server, "unknown=2")
    assert names(frames) == [baseline[0], "thread.run.step.mystery", *baseline[1:]]
    assert json.loads(frames[1][1] or "")["object"] == "thread.run.step.mystery"


def test_fault_delay_keeps_rest_reads_in_step(server: Server) -> None:
    body = {"assistant_id": "asst_text", "stream": True, "metadata": {"text": "Hi there"}}
    seen = []
    with HTTP.stream(
            "POST", server.base_url + "/threads/runs", json=body,
            headers={"X-Runflow-Fault": "delay=0.05"}) as response:
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: {") and event.startswith("thread.run.") and json.loads(
                    line[6:])["object"] == "thread.run":
                run = json.loads(line[6:])
                url = f"{server.base_url}/threads/{run['thread_id']}/runs/{run['id']}"
                seen.append((run["status"], HTTP.get(url).json()["status"]))
    # the delay is what keeps REST in step: each read sees the status just streamed
    assert [a for a, _ in seen] == ["queued", "queued", "in_progress", "completed"]
    assert all(streamed == stored for streamed, stored in seen), seen


def test_injected_faults_once_and_always(server: Server, baseline: list[str]) -> None:
    server.inject(Fault(drop=1))
    assert names(raw_stream(server)[0]) == baseline[1:]
    assert names(raw_stream(server)[0]) == baseline
    server.inject("drop=2", always=True)
    assert names(raw_stream(server)[0]) == baseline[:1] + baseline[2:]
    frames, _ = raw_stream(server, "cut_after=2")  # the header replaces the standing fault
    assert names(frames) == baseline[:2]
    frames, complete = raw_stream(server, "none")  # ... "none" included
    assert complete and names(frames) == baseline
    server.inject("drop=3")  # a header also wins over a queued fault, which stays queued
    assert names(raw_stream(server, "none")[0]) == baseline
    assert names(raw_stream(server)[0]) == baseline[:2] + baseline[3:]
    server.clear_faults()
    assert names(raw_stream(server)[0]) == baseline


def test_combined_faults(server: Server, baseline: list[str]) -> None:
    frames, complete = raw_stream(server, "drop=1,corrupt=2,cut_after=3")
    assert not complete and names(frames) == baseline[1:4]
    with pytest.raises(json.JSONDecodeError):
        json.loads(frames[0][1] or "")


def test_bad_fault_header_is_a_400(server: Server) -> None:
    response = HTTP.post(server.base_url + "/threads/runs",
                          json={"assistant_id": "asst_text", "stream": True},
                          headers={"X-Runflow-Fault": "explode=1"})
    assert response.status_code == 400 and "explode" in response.json()["error"]["message"]


def test_parse_fault() -> None:
    assert parse_fault("cut_after=5") == Fault(cut_after=5)
    assert parse_fault(" corrupt=3, delay=0.05 ,swap=4") == Fault(corrupt=3, delay=0.05, swap=4)
    assert parse_fault("") == Fault() == parse_fault("none")
    assert parse_fault("cut_after=0") == Fault(cut_after=0) != Fault()
    standing = Fault(cut_after=5, delay=0.5)
    assert standing.merge(Fault(cut_after=0, delay=0.0)) == Fault(cut_after=0, delay=0.0)
    assert standing.merge(Fault()) == standing
    assert str(Fault()) == "none" and parse_fault(str(Fault(error_after=0))).error_after == 0
    fault = parse_fault("duplicate=4,drop=4,error_after=3,unknown=2")
    assert parse_fault(str(fault)) == fault
    for bad in ("cut_after", "corrupt=x", "drop=0", "delay=-1", "nope=1", "delay=1e9",
                "delay=nan", "delay=inf"):
        with pytest.raises(FaultSyntaxError):
            parse_fault(bad)


def test_apply_faults_on_frames_directly() -> None:
    frames = [encode_event(f"e{i}", {"n": i}) for i in range(1, 6)]
    out = list(apply_faults(iter(frames), Fault(swap=1, cut_after=3)))
    assert [getattr(f, "event", "CUT") for f in out] == ["e2", "e1", "e3", "CUT"]


def test_create_app_is_a_plain_asgi_app() -> None:
    from starlette.testclient import TestClient

    from runflow.testing import Store, create_app

    store = Store()
    with TestClient(create_app(store)) as http:
        thread = http.post("/v1/threads", json={}).json()
        run = http.post(f"/v1/threads/{thread['id']}/runs",
                        json={"assistant_id": "asst_failure"}).json()
    assert store.run(thread["id"], run["id"])["last_error"]["code"] == "server_error"


def test_constructor_takes_recordings_and_a_standing_fault() -> None:
    path = recordings_dir() / "dotnet_text_answer.jsonl"
    with Server(recordings=[path], fault="cut_after=2") as srv:
        frames, complete = raw_stream(srv)
        assert not complete and names(frames) == ["thread.run.created", "thread.run.queued"]
        frames, complete = raw_stream(srv)  # the recording is used up: a scripted run
        assert not complete and json.loads(frames[1][1] or "")["assistant_id"] == "asst_text"
