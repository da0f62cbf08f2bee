"""Each fault of the test server, seen through ``runflow.adapters.sdk.consume`` / ``aconsume`` of a
real openai client stream over loopback HTTP: the exact violations (codes and indices)
and the ending it must produce.

Fault event numbers count the events of the unmodified stream from 1 (``done``
included), while violation indices are 0-based positions in the flow's input: event
number N is index N - 1 (shifted by one after a duplicated or unknown event, and back
by one after a dropped one). ``cut_after``/``error_after`` count frames written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
import pytest_asyncio

from runflow import RunFlow
from runflow.adapters import sdk
from runflow.server.faults import ERROR_MESSAGE, UNKNOWN_EVENT
from runflow.testing import Server

pytestmark = [
    pytest.mark.usefixtures("no_leftover_faults"),
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]

TEXT = "Hi there you"  # three deltas
# The clean "text" stream with TEXT, by flow index (fault number = index + 1):
TEXT_EVENTS = [
    "thread.run.created",  # 0
    "thread.run.queued",  # 1
    "thread.run.in_progress",  # 2
    "thread.run.step.created",  # 3
    "thread.run.step.in_progress",  # 4
    "thread.message.created",  # 5
    "thread.message.in_progress",  # 6
    "thread.message.delta",  # 7
    "thread.message.delta",  # 8
    "thread.message.delta",  # 9
    "thread.message.completed",  # 10
    "thread.run.step.completed",  # 11
    "thread.run.completed",  # 12
    "done",  # 13
]
N_TEXT = len(TEXT_EVENTS)
# The first stream of parallel_functions ends in requires_action (index 15), done (16).
N_FUNCTIONS = 17

Expected = list[tuple[str, int]]


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as c:
        yield c


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def aclient(server: Server) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test",
                                  max_retries=0) as c:
        yield c


def consume(server: Server, client: openai.OpenAI, fault: str | None,
            scenario: str = "text") -> tuple[RunFlow, str, str]:
    """A streamed run with ``fault`` on its stream; (flow, ending, thread id)."""
    thread = client.beta.threads.create()
    if fault:
        server.inject(fault)
    metadata = {"text": TEXT} if scenario == "text" else {}
    flow = RunFlow()
    ending = sdk.consume(flow, client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=f"asst_{scenario}", stream=True, metadata=metadata))
    return flow, ending, thread.id


async def aconsume(server: Server, client: openai.AsyncOpenAI, fault: str | None,
                   scenario: str = "text") -> tuple[RunFlow, str, str]:
    thread = await client.beta.threads.create()
    if fault:
        server.inject(fault)
    metadata = {"text": TEXT} if scenario == "text" else {}
    flow = RunFlow()
    ending = await sdk.aconsume(flow, await client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=f"asst_{scenario}", stream=True, metadata=metadata))
    return flow, ending, thread.id


def found(flow: RunFlow) -> Expected:
    return [(v.code.value, v.index) for v in flow.violations]


def server_status(client: openai.OpenAI, flow: RunFlow, thread_id: str) -> str:
    """Faults damage the wire only: the stored run is unaffected."""
    (run,) = client.beta.threads.runs.list(thread_id=thread_id).data
    assert flow.run_id in (None, run.id)
    return run.status


def test_the_clean_stream_is_what_the_table_says(server: Server,
                                                 client: openai.OpenAI) -> None:
    flow, ending, _ = consume(server, client, None)
    assert ending == "done" and flow.violations == []
    assert flow.event_count == N_TEXT
    assert [h.event for h in flow.history] == [
        e for e in TEXT_EVENTS if e not in ("thread.message.delta", "done")]
    assert [h.index for h in flow.history] == [
        i for i, e in enumerate(TEXT_EVENTS) if e not in ("thread.message.delta", "done")]
    assert flow.text == TEXT
    flow, ending, _ = consume(server, client, None, "parallel_functions")
    assert ending == "done" and flow.violations == [] and flow.event_count == N_FUNCTIONS
    assert flow.history[-1].event == "thread.run.requires_action"
    assert flow.history[-1].index == N_FUNCTIONS - 2


# -- cut_after -------------------------------------------------------------------------


@pytest.mark.parametrize("k", range(N_TEXT + 2))
def test_cut_after(server: Server, client: openai.OpenAI, k: int) -> None:
    flow, ending, thread_id = consume(server, client, f"cut_after={k}")
    if k < N_TEXT:
        assert ending == "truncated" and flow.ending == "truncated"
        assert found(flow) == [("truncated", k)]
        assert flow.violations[0].severity == "error" and flow.violations[0].event is None
        assert flow.event_count == k
        # what arrived is kept: the states are those of the last event received
        seen = [h.event for h in flow.history]
        assert seen == [e for e in TEXT_EVENTS[:k] if e not in ("thread.message.delta", "done")]
    else:  # nothing left to cut
        assert ending == "done" and found(flow) == [] and flow.event_count == N_TEXT
    assert flow.error is None
    assert server_status(client, flow, thread_id) == "completed"


@pytest.mark.parametrize("k", range(N_FUNCTIONS + 1))
def test_cut_after_in_a_tool_run(server: Server, client: openai.OpenAI, k: int) -> None:
    flow, ending, thread_id = consume(server, client, f"cut_after={k}", "parallel_functions")
    if k < N_FUNCTIONS:
        assert ending == "truncated" and found(flow) == [("truncated", k)]
    else:
        assert ending == "done" and found(flow) == []
    assert flow.run_status == ("requires_action" if k >= N_FUNCTIONS - 1 else
                               "in_progress" if k >= 3 else
                               "queued" if k >= 1 else "unseen")
    assert server_status(client, flow, thread_id) == "requires_action"


# -- per-event faults: exact violations --------------------------------------------------

# fault -> (ending, violations, events received)
CASES: dict[str, tuple[str, Expected, int]] = {
    # corrupt=N: the JSON of event N is broken -> malformed_event at N - 1 (then what follows
    # from the event being rejected)
    "corrupt=1": ("done", [("malformed_event", 0)], N_TEXT),  # queued adopts the run
    "corrupt=2": ("done", [("malformed_event", 1)], N_TEXT),
    "corrupt=4": ("done", [("malformed_event", 3), ("unknown_entity", 4),
                           ("orphan_message", 5), ("unknown_entity", 11)], N_TEXT),
    "corrupt=8": ("done", [("malformed_event", 7), ("snapshot_divergence", 10)], N_TEXT),
    # the message stays open: its step closes over it (11), then the run (12)
    "corrupt=11": ("done", [("malformed_event", 10), ("children_open_at_terminal", 11),
                            ("children_open_at_terminal", 12)], N_TEXT),
    "corrupt=13": ("done", [("malformed_event", 12), ("done_before_final", 13)], N_TEXT),
    "corrupt=14": ("truncated", [("malformed_event", 13), ("truncated", 14)], N_TEXT),
    # duplicate=N: a created event twice -> duplicate_entity; any other status event
    # twice -> invalid_transition (terminal states accept nothing); the copy is index N
    "duplicate=1": ("done", [("duplicate_entity", 1)], N_TEXT + 1),
    "duplicate=4": ("done", [("duplicate_entity", 4)], N_TEXT + 1),
    "duplicate=6": ("done", [("duplicate_entity", 6)], N_TEXT + 1),
    "duplicate=3": ("done", [("invalid_transition", 3)], N_TEXT + 1),
    "duplicate=11": ("done", [("invalid_transition", 11)], N_TEXT + 1),
    "duplicate=12": ("done", [("invalid_transition", 12)], N_TEXT + 1),
    "duplicate=13": ("done", [("invalid_transition", 13)], N_TEXT + 1),
    "duplicate=9": ("done", [("snapshot_divergence", 11)], N_TEXT + 1),  # a delta twice
    "duplicate=14": ("done", [("event_after_done", 14)], N_TEXT + 1),
    # swap=N: event N + 1 is sent before event N
    "swap=1": ("done", [("duplicate_entity", 1)], N_TEXT),  # queued adopts, then created
    "swap=2": ("done", [("invalid_transition", 2)], N_TEXT),  # queued after in_progress
    "swap=3": ("done", [("run_not_in_progress", 2), ("unknown_entity", 4),
                        ("orphan_message", 5), ("unknown_entity", 11)], N_TEXT),
    "swap=4": ("done", [("unknown_entity", 3)], N_TEXT),  # step in_progress before created
    "swap=6": ("done", [("unknown_entity", 5)], N_TEXT),
    "swap=10": ("done", [("snapshot_divergence", 9), ("invalid_transition", 10)], N_TEXT),
    "swap=12": ("done", [("children_open_at_terminal", 11), ("event_after_terminal", 12)],
                N_TEXT),
    "swap=13": ("done", [("done_before_final", 12), ("event_after_done", 13)], N_TEXT),
    # drop=N: event N never arrives
    "drop=4": ("done", [("unknown_entity", 3), ("orphan_message", 4), ("unknown_entity", 10)],
               N_TEXT - 1),
    "drop=6": ("done", [("unknown_entity", i) for i in range(5, 10)], N_TEXT - 1),
    "drop=9": ("done", [("snapshot_divergence", 9)], N_TEXT - 1),
    "drop=12": ("done", [("children_open_at_terminal", 11)], N_TEXT - 1),
    "drop=13": ("done", [("done_before_final", 12)], N_TEXT - 1),
    "drop=14": ("truncated", [("truncated", 13)], N_TEXT - 1),
    # unknown=N: an unknown event before event N -> a warning at N - 1, nothing else
    "unknown=1": ("done", [("unknown_event", 0)], N_TEXT + 1),
    "unknown=8": ("done", [("unknown_event", 7)], N_TEXT + 1),
    "unknown=14": ("done", [("unknown_event", 13)], N_TEXT + 1),
}


def check_case(flow: RunFlow, ending: str, fault: str) -> None:
    expected_ending, expected, events = CASES[fault]
    assert ending == expected_ending
    assert found(flow) == expected
    assert flow.event_count == events
    assert flow.error is None
    kind, _, number = fault.partition("=")
    if kind == "unknown":
        (warning,) = flow.violations
        assert warning.severity == "warning" and warning.event == UNKNOWN_EVENT
        assert flow.ok and flow.run_status == "completed" and flow.text == TEXT
    if kind == "corrupt":
        first = flow.violations[0]
        assert first.event == TEXT_EVENTS[int(number) - 1]
        assert "not valid JSON" in first.message


@pytest.mark.parametrize("fault", list(CASES))
def test_fault(server: Server, client: openai.OpenAI, fault: str) -> None:
    flow, ending, thread_id = consume(server, client, fault)
    check_case(flow, ending, fault)
    assert server_status(client, flow, thread_id) == "completed"


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("fault", list(CASES))
async def test_fault_async(server: Server, aclient: openai.AsyncOpenAI, fault: str) -> None:
    flow, ending, _ = await aconsume(server, aclient, fault)
    check_case(flow, ending, fault)


@pytest.mark.parametrize(("fault", "expected"), [
    ("duplicate=16", [("invalid_transition", 16)]),  # requires_action twice
    ("swap=16", [("done_before_final", 15), ("event_after_done", 16)]),
    ("drop=16", [("done_before_final", 15)]),
    ("corrupt=16", [("malformed_event", 15), ("done_before_final", 16)]),
    ("drop=17", [("truncated", 16)]),
])
def test_fault_in_a_tool_run(server: Server, client: openai.OpenAI, fault: str,
                             expected: Expected) -> None:
    flow, _, thread_id = consume(server, client, fault, "parallel_functions")
    assert found(flow) == expected
    assert server_status(client, flow, thread_id) == "requires_action"


# -- error_after -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 3, 7, 12, 13])
def test_error_after(server: Server, client: openai.OpenAI, n: int) -> None:
    flow, ending, thread_id = consume(server, client, f"error_after={n}")
    assert ending == "error" and flow.ending == "error"
    assert flow.error is not None
    assert flow.error.message == ERROR_MESSAGE
    assert flow.error.type == "server_error"
    assert found(flow) == []  # an error event is a legitimate ending, not a violation
    assert flow.event_count == n + 1  # n events, then the error event
    assert [h.event for h in flow.history] == [
        e for e in TEXT_EVENTS[:n] if e not in ("thread.message.delta", "done")]
    assert server_status(client, flow, thread_id) == "completed"


def test_error_after_the_whole_stream_changes_nothing(server: Server,
                                                      client: openai.OpenAI) -> None:
    flow, ending, _ = consume(server, client, f"error_after={N_TEXT}")
    assert ending == "done" and flow.error is None and found(flow) == []


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("n", [0, 5, 13])
async def test_error_after_async(server: Server, aclient: openai.AsyncOpenAI, n: int) -> None:
    flow, ending, _ = await aconsume(server, aclient, f"error_after={n}")
    assert ending == "error" and flow.error is not None
    assert flow.error.message == ERROR_MESSAGE
    assert found(flow) == [] and flow.event_count == n + 1


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("k", [0, 1, 7, N_TEXT - 1, N_TEXT])
async def test_cut_after_async(server: Server, aclient: openai.AsyncOpenAI, k: int) -> None:
    flow, ending, _ = await aconsume(server, aclient, f"cut_after={k}")
    if k < N_TEXT:
        assert ending == "truncated" and found(flow) == [("truncated", k)]
        assert flow.event_count == k
    else:
        assert ending == "done" and found(flow) == []


# -- delay -------------------------------------------------------------------------------


def outcome(flow: RunFlow) -> dict[str, Any]:
    return {
        "violations": found(flow),
        "events": flow.event_count,
        "ending": flow.ending,
        "path": [(h.index, h.entity, h.event, h.source, h.dest) for h in flow.history],
        "run": flow.run_status,
        "steps": list(flow.step_states.values()),
        "messages": list(flow.message_states.values()),
        "text": flow.text,
        "content": [m.model_dump(mode="json")["content"] for m in flow.messages],
    }


@pytest.mark.parametrize("scenario", ["text", "parallel_functions"])
def test_delay_changes_nothing(server: Server, client: openai.OpenAI, scenario: str) -> None:
    clean, _, _ = consume(server, client, None, scenario)
    # that the delay paces the stream is shown, without a clock, by
    # test_server.py::test_fault_delay_keeps_rest_reads_in_step
    slow, _, _ = consume(server, client, "delay=0.01", scenario)
    assert outcome(slow) == outcome(clean)
    assert outcome(slow)["violations"] == []
