"""The whole Assistants REST surface through the real openai client: CRUD, pagination.

Pagination is checked against the documented semantics with five messages
m0...m4 (see runflow.server.pagination), and through the SDK's own
auto-pagination in both orders.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from runflow.testing import Server

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
        yield c


@pytest.fixture(scope="module")
def five(client: openai.OpenAI) -> tuple[str, list[str]]:
    """A thread with messages m0...m4 (oldest first); their ids."""
    thread = client.beta.threads.create()
    ids = [client.beta.threads.messages.create(thread.id, role="user", content=f"m{i}").id
           for i in range(5)]
    return thread.id, ids


def listed(server: Server, thread_id: str, **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/threads/{thread_id}/messages", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(("params", "expected", "has_more"), [
    ({"order": "asc", "limit": 2}, [0, 1], True),
    ({"order": "asc", "limit": 2, "after": 1}, [2, 3], True),
    ({"order": "asc", "limit": 2, "after": 3}, [4], False),
    ({"order": "asc", "limit": 2, "before": 4}, [2, 3], True),  # the bug in the issue
    ({"order": "asc", "limit": 2, "before": 2}, [0, 1], False),
    ({"order": "asc", "limit": 5, "before": 3}, [0, 1, 2], False),
    ({"order": "desc", "limit": 2}, [4, 3], True),
    ({"order": "desc", "limit": 2, "after": 3}, [2, 1], True),
    ({"order": "desc", "limit": 2, "before": 0}, [2, 1], True),
    ({"order": "desc", "limit": 2, "before": 2}, [4, 3], False),
    ({"order": "asc", "after": 0, "before": 4}, [1, 2, 3], False),
    ({"order": "asc", "limit": 1, "after": 0, "before": 4}, [1], True),
    ({"order": "asc", "after": 4}, [], False),
    ({}, [4, 3, 2, 1, 0], False),  # desc, limit 20 by default
    ({"limit": 100}, [4, 3, 2, 1, 0], False),
    ({"limit": 1}, [4], True),
])
def test_pages_follow_the_documented_semantics(server: Server, five: tuple[str, list[str]],
                                               params: dict[str, Any], expected: list[int],
                                               has_more: bool) -> None:
    thread_id, ids = five
    query = {k: ids[v] if k in ("after", "before") else v for k, v in params.items()}
    page = listed(server, thread_id, **query)
    assert [m["id"] for m in page["data"]] == [ids[i] for i in expected]
    assert page["has_more"] is has_more
    assert page["first_id"] == (ids[expected[0]] if expected else None)
    assert page["last_id"] == (ids[expected[-1]] if expected else None)
    assert page["object"] == "list"


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sdk_auto_pagination_in_both_orders(client: openai.OpenAI, five: tuple[str, list[str]],
                                            order: Any) -> None:
    thread_id, ids = five
    pages = client.beta.threads.messages.list(thread_id, order=order, limit=2)
    seen = [m.id for m in pages]  # iterating fetches page after page via ``after``
    assert seen == (ids if order == "asc" else ids[::-1])
    sizes = [len(p.data) for p in pages.iter_pages()]
    assert sizes == [2, 2, 1]


def test_auto_pagination_of_runs_steps_and_assistants(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    runs = [client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=a,
                                                     poll_interval_ms=5).id
            for a in ("asst_text", "asst_code_interpreter", "asst_file_search")]
    assert [r.id for r in client.beta.threads.runs.list(thread.id, limit=1,
                                                        order="asc")] == runs
    steps = client.beta.threads.runs.steps.list(runs[1], thread_id=thread.id, limit=1,
                                                order="asc")
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    made = [client.beta.assistants.create(model="gpt-4o", name=f"a{i}").id for i in range(3)]
    everything = [a.id for a in client.beta.assistants.list(limit=2, order="asc")]
    assert everything[-3:] == made and "asst_text" in everything


def test_assistants_crud(client: openai.OpenAI) -> None:
    made = client.beta.assistants.create(model="gpt-4o-mini", name="mine", temperature=0.5,
                                         metadata={"scenario": "failure", "team": "x"})
    assert (made.model, made.name, made.temperature) == ("gpt-4o-mini", "mine", 0.5)
    updated = client.beta.assistants.update(made.id, name="renamed", metadata={"team": "y"})
    assert updated.name == "renamed"
    assert updated.metadata == {"scenario": "failure", "team": "y"}  # the scenario stays
    assert client.beta.assistants.retrieve(made.id).name == "renamed"
    run = client.beta.threads.create_and_run_poll(assistant_id=made.id, poll_interval_ms=5)
    assert run.status == "failed"
    deleted = client.beta.assistants.delete(made.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (made.id, True, "assistant.deleted")
    with pytest.raises(openai.NotFoundError):
        client.beta.assistants.retrieve(made.id)


def test_threads_and_messages_crud(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create(metadata={"k": "v"},
                                        messages=[{"role": "user", "content": "hello"}])
    assert client.beta.threads.update(thread.id, metadata={"k": "w"}).metadata == {"k": "w"}
    assert client.beta.threads.retrieve(thread.id).metadata == {"k": "w"}
    message = client.beta.threads.messages.list(thread.id).data[0]
    assert message.content[0].text.value == "hello"  # type: ignore[union-attr]
    changed = client.beta.threads.messages.update(message.id, thread_id=thread.id,
                                                  metadata={"seen": "yes"})
    assert changed.metadata == {"seen": "yes"}
    again = client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
    assert again.metadata == {"seen": "yes"}
    parts = client.beta.threads.messages.create(
        thread.id, role="assistant", content=[{"type": "text", "text": "a"},
                                              {"type": "image_url",
                                               "image_url": {"url": "https://x/y.png"}}])
    assert [p.type for p in parts.content] == ["text", "image_url"]
    gone = client.beta.threads.messages.delete(parts.id, thread_id=thread.id)
    assert gone.deleted and gone.object == "thread.message.deleted"
    assert [m.id for m in client.beta.threads.messages.list(thread.id)] == [message.id]
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id,
                                                   assistant_id="asst_text", poll_interval_ms=5)
    dropped = client.beta.threads.delete(thread.id)
    assert dropped.deleted and dropped.object == "thread.deleted"
    for call in (lambda: client.beta.threads.retrieve(thread.id),
                 lambda: client.beta.threads.runs.retrieve(run.id, thread_id=thread.id),
                 lambda: client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)):
        with pytest.raises(openai.NotFoundError):
            call()


def test_runs_update_and_steps_retrieve(client: openai.OpenAI) -> None:
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread.id, assistant_id="asst_parallel_functions")
    updated = client.beta.threads.runs.update(run.id, thread_id=thread.id,
                                              metadata={"who": "me"})
    assert updated.metadata == {"who": "me"}
    calls = client.beta.threads.runs.retrieve(
        run.id, thread_id=thread.id).required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
    final = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, poll_interval_ms=5,
        tool_outputs=[{"tool_call_id": c.id, "output": "ok"} for c in calls])
    assert final.status == "completed"
    assert final.metadata == {"who": "me"}  # later snapshots carry the update
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    one = client.beta.threads.runs.steps.retrieve(steps[1].id, thread_id=thread.id,
                                                  run_id=run.id)
    assert one.id == steps[1].id and one.type == "message_creation"


def test_streamed_and_polled_forms_agree(client: openai.OpenAI) -> None:
    polled = client.beta.threads.create_and_run_poll(
        assistant_id="asst_text", metadata={"text": "same words"}, poll_interval_ms=5)
    with client.beta.threads.create_and_run_stream(
            assistant_id="asst_text", metadata={"text": "same words"}) as stream:
        stream.until_done()
        streamed = stream.get_final_run()
    assert polled.status == streamed.status == "completed"
    texts = []
    for run in (polled, streamed):
        message = client.beta.threads.messages.list(run.thread_id).data[0]
        texts.append(message.content[0].text.value)  # type: ignore[union-attr]
    assert texts == ["same words", "same words"]
