"""Checkpoints: ``to_json`` anywhere, ``from_json``, feed the rest; nothing changes.

The outcome of a flow restored at any event index (or between any two
``feed_sse`` chunks, even mid-event or mid-character) must equal the outcome of
the uninterrupted flow: snapshots, states, violations, history and ending.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import load_bytes, load_events
from helpers import feed_all, function_calls_of

from runflow import ASSISTANTS, Code, Limits, RunFlow
from runflow.engine.checkpoint import CheckpointError
from runflow.engine.flow import Flow

Event = dict[str, Any]

FUNCTION = "dotnet_create_and_run_function_requires_action.jsonl"
CONTINUATION = "dotnet_function_call_continuation.jsonl"
IMAGE = "simpleopenai_create_and_run_code_interpreter_image_v1_2024.jsonl"
CITATION = "dotnet_file_search_file_citation"


def outcome(flow: RunFlow) -> dict[str, Any]:
    """Everything a user can observe of a flow, as plain data."""

    def dump(model: Any) -> Any:
        return model.model_dump(mode="json", warnings=False) if model is not None else None

    return {
        "run": dump(flow.run),
        "thread": dump(flow.thread),
        "messages": [dump(m) for m in flow.messages],
        "steps": [dump(s) for s in flow.steps],
        "violations": [v.model_dump(mode="json") for v in flow.violations],
        "history": list(flow.history),
        "ending": flow.ending,
        "error": dump(flow.error),
        "text": flow.text,
        "pending": [dump(c) for c in flow.pending_tool_calls],
        "states": (flow.run_status, flow.step_states, flow.message_states),
        "events": flow.event_count,
        "ids": (flow.run_id, flow.thread_id),
    }


def tool_call_run() -> list[Event]:
    """The requires_action stream, then the submit_tool_outputs stream: one run."""
    return load_events(FUNCTION) + load_events(CONTINUATION)


def restored(flow: RunFlow) -> RunFlow:
    text = flow.to_json()
    json.loads(text)  # plain JSON
    again = RunFlow.from_json(text)
    assert again.to_json() == text  # a restored flow saves the same checkpoint
    return again


# --------------------------------------------------------------------------- #
# at every event index
# --------------------------------------------------------------------------- #
def test_tool_call_run_restored_at_every_event_index() -> None:
    events = tool_call_run()
    whole = feed_all(events)
    assert whole.close() == "done"
    expected = outcome(whole)
    assert expected["states"][0] == "completed"
    assert [h.event for h in whole.history].count("thread.run.requires_action") == 1

    for cut in range(len(events) + 1):
        first = feed_all(events[:cut])
        flow = feed_all(events[cut:], restored(first))
        assert flow.close() == "done", cut
        assert outcome(flow) == expected, f"restored after {cut} event(s)"


def test_pending_tool_calls_survive_the_checkpoint_between_streams() -> None:
    events = load_events(FUNCTION)
    flow = restored(feed_all(events))
    assert flow.ending == "done"
    assert flow.run_status == "requires_action"
    pending = flow.pending_tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in pending] == [
        ("call_xyFYaEeyocjyE6jN64QTcxip", "get_current_weather", "{}")
    ]
    # the continuation is accepted as the same run, not as events after done
    feed_all(load_events(CONTINUATION), flow)
    assert flow.close() == "done"
    assert flow.violations == []
    call = function_calls_of(flow.steps[0])[0]
    assert (call.id, call.function.output) == (pending[0].id, "warm and sunny")


def test_chain_of_restores_after_every_event() -> None:
    events = load_events(IMAGE)
    whole = feed_all(events)
    whole.close()
    flow = RunFlow()
    for event in events:
        flow.feed(event)
        flow = RunFlow.from_json(flow.to_json())
    flow.close()
    assert outcome(flow) == outcome(whole)


@pytest.mark.parametrize("name", [
    IMAGE,
    "rubyopenai_message_incomplete_max_tokens_run_completed_event_status_incomplete_2024.jsonl",
    "simpleopenai_EDITED_error_event_after_partial_message.jsonl",
    "simpleopenai_EDITED_file_search_step_deltas.jsonl",
])
def test_recordings_with_violations_and_errors_restore(name: str) -> None:
    events = load_events(name)
    whole = feed_all(events)
    whole_end = whole.close()
    expected = outcome(whole)
    cuts = sorted({*range(0, len(events) + 1, 11), len(events) - 1, len(events)} | {
        i for i, e in enumerate(events) if e["event"].endswith((".completed", ".incomplete"))
    })
    for cut in cuts:
        flow = feed_all(events[cut:], restored(feed_all(events[:cut])))
        assert flow.close() == whole_end
        assert outcome(flow) == expected, f"restored after {cut} event(s)"


def test_violations_recorded_before_the_checkpoint_are_kept() -> None:
    events = tool_call_run()
    bad = copy.deepcopy(events)
    i = next(n for n, e in enumerate(bad) if e["event"] == "thread.message.delta")
    bad.insert(i, {"event": "thread.unknown", "data": {}})
    whole = feed_all(bad)
    whole.close()
    assert [v.code for v in whole.violations] == [Code.UNKNOWN_EVENT]
    flow = feed_all(bad[i + 1 :], restored(feed_all(bad[: i + 1])))
    flow.close()
    assert outcome(flow) == outcome(whole)


def test_closed_truncated_flow_restores_closed() -> None:
    events = tool_call_run()[:20]
    flow = feed_all(events)
    assert flow.close() == "truncated"
    again = restored(flow)
    assert again.ending == "truncated"
    assert again.close() == "truncated"  # no second truncated violation
    assert outcome(again) == outcome(flow)
    assert [v.code for v in again.violations] == [Code.TRUNCATED]


def test_settings_saved_and_overridable() -> None:
    flow = feed_all(load_events(FUNCTION)[:5], strict=True)
    assert RunFlow.from_json(flow.to_json()).strict is True
    assert RunFlow.from_json(flow.to_json(), strict=False).strict is False
    assert RunFlow.from_json(flow.to_json().encode()).strict is True  # bytes accepted


# --------------------------------------------------------------------------- #
# between feed_sse chunks, mid-event
# --------------------------------------------------------------------------- #
def sse_outcome(blob: bytes, size: int, restore_every: int) -> tuple[dict[str, Any], list[str]]:
    """Feed ``blob`` in ``size``-byte chunks; checkpoint/restore every few chunks.
    Returns the outcome and the pending bytes each checkpoint held."""
    flow = RunFlow()
    pendings = []
    for n, start in enumerate(range(0, len(blob), size)):
        flow.feed_sse(blob[start : start + size])
        if restore_every and n % restore_every == 0:
            text = flow.to_json()
            pendings.append(json.loads(text)["state"]["decoder"]["pending"])
            flow = RunFlow.from_json(text)
    assert flow.close() == "done"
    return outcome(flow), pendings


def test_sse_restored_between_chunks_cut_mid_event() -> None:
    blob = (load_bytes(FUNCTION.replace(".jsonl", ".sse"))
            + load_bytes(CONTINUATION.replace(".jsonl", ".sse")))
    expected, _ = sse_outcome(blob, len(blob), 0)
    assert expected["states"][0] == "completed"
    assert expected["violations"] == []
    # the SSE bytes and the JSONL events tell the same story
    assert expected == outcome(feed_all(tool_call_run()))
    for size, every in ((97, 1), (1000, 1), (13, 7)):
        got, pendings = sse_outcome(blob, size, every)
        assert got == expected, f"chunks of {size}, restored every {every}"
        assert sum(1 for p in pendings if p) > len(pendings) // 2  # most cut mid-event


def test_sse_restored_mid_utf8_character() -> None:
    blob = load_bytes(CITATION + ".sse")
    marker = "【".encode()
    expected, _ = sse_outcome(blob, len(blob), 0)
    assert "【4:0†favorite_foods.txt】" in expected["text"]
    at = blob.index(marker)
    for cut in (at + 1, at + 2, blob.index(b"\n\n", at) + 1):
        first = RunFlow()
        first.feed_sse(blob[:cut])
        saved = json.loads(first.to_json())["state"]["decoder"]["pending"]
        assert saved  # the unfinished event is in the checkpoint
        flow = RunFlow.from_json(first.to_json())
        flow.feed_sse(blob[cut:])
        assert flow.close() == "done"
        assert outcome(flow) == expected, f"cut at byte {cut}"


# --------------------------------------------------------------------------- #
# damaged checkpoints
# --------------------------------------------------------------------------- #
def good_checkpoint() -> dict[str, Any]:
    flow = feed_all(tool_call_run()[:30])
    flow.feed_sse(b"event: thread.message.delta\ndata: {\"id\"")
    data: dict[str, Any] = json.loads(flow.to_json())
    return data


_DELETE = object()


FIRST = object()
"""In a path: the first entry of an object (children are keyed by id)."""


def damaged(path: list[Any], value: Any) -> str:
    """A good checkpoint with the field at ``path`` set to ``value`` (or deleted)."""
    data = good_checkpoint()
    target = data
    for key in path[:-1]:
        target = target[next(iter(target))] if key is FIRST else target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(data)


@pytest.mark.parametrize(("text", "match"), [
    ("", "not JSON"),
    ("{\"format\": \"runflow.engine.checkpoint\", ", "not JSON"),
    ("[1, 2]", "not a runflow checkpoint"),
    (json.dumps({"format": "something.else", "version": 1}), "not a runflow checkpoint"),
])
def test_text_that_is_no_checkpoint_raises_checkpoint_error(text: str, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        RunFlow.from_json(text)


_CHILD = ["state", "children"]


@pytest.mark.parametrize(("path", "value", "match"), [
    (["version"], 99, "version 99 is not supported"),
    (["version"], _DELETE, "version None is not supported"),
    (["state", "index"], _DELETE, "state.index: missing"),
    (["state", "index"], "seven", "state.index: expected a count"),
    ([*_CHILD, "message"], None, "state.children.message: expected an object"),
    ([*_CHILD, "step", FIRST, "entity"], "planet", "planet"),
    ([*_CHILD, "step", FIRST, "raw"], "not an object", r"raw: expected an object"),
    ([*_CHILD, "message", FIRST, "acc", "parts", 0], {"type": "text"}, "acc: damaged"),
    (["state", "violations"], [{"code": "no_such_code"}], "not a violation"),
    (["state", "history", 0], [1, 2], "state change of 6 fields"),
    (["settings", "limits"], {"no_such_limit": 1}, "no_such_limit: not a limit"),
    (["settings", "limits", "max_message_chars"], None, "max_message_chars: expected a positive"),
    (["state", "decoder"], _DELETE, "state.decoder: missing"),
    (["state", "planet"], 1, "state.planet: not a field"),
    (["settings", "profile"], "no_such_server", "unknown profile 'no_such_server'; known: "),
    (["settings", "profile"], 7, "settings.profile: expected a profile name or null"),
    # the entity's object, accumulator and counters agree with the definition
    ([*_CHILD, "step", FIRST, "raw"], {}, r"raw.id: required, got nothing \(not a step"),
    ([*_CHILD, "message", FIRST, "raw"], {}, r"raw.id: required, got nothing \(not a mess"),
    (["state", "root", "raw"], {}, r"root.raw.id: required"),
    ([*_CHILD, "message", FIRST, "acc", "parts"], [], r"13 delta\(s\) added 75 characters, "
                                                     "and it holds none"),
    ([*_CHILD, "message", FIRST, "size"], 9 * 2 ** 20, "past max_message_chars=8388608"),
    ([*_CHILD, "step", FIRST, "size"], 9 * 2 ** 20, "past max_tool_chars=8388608"),
    ([*_CHILD, "message", FIRST, "deltas"], 0, "75 characters, but no delta added them"),
    (["state", "decoder", "pending"], "x" * (16 * 2 ** 20 + 1),
     "decoder.pending: 16777217 bytes buffered, past max_event_bytes=16777216"),
])
def test_damaged_checkpoint_raises_checkpoint_error(path: list[Any], value: Any, match: str
                                                    ) -> None:
    with pytest.raises(CheckpointError, match=match):
        RunFlow.from_json(damaged(path, value))


def test_checkpoint_error_is_a_value_error_and_good_one_loads() -> None:
    assert issubclass(CheckpointError, ValueError)
    data = good_checkpoint()
    flow = RunFlow.from_json(json.dumps(data))
    assert flow.event_count == data["state"]["index"]
    assert (json.loads(flow.to_json())["state"]["decoder"]["pending"]
            == data["state"]["decoder"]["pending"])


@pytest.mark.parametrize(("path", "value"), [
    ([*_CHILD, "message", FIRST, "state"], "flying"),  # not a message state
    (["state", "root", "state"], "flying"),  # not a run state
    ([*_CHILD, "message", FIRST, "entity"], "step"),  # a step tracker among the messages
    (["state", "root", "entity"], "step"),  # a step where the run belongs
    (["state", "stream"], "exploded"),  # not a state of the stream machine
    (["state", "root", "id"], "run_other"),  # differs from its object's id and root_id
])
def test_checkpoint_with_impossible_values_raises_checkpoint_error(path: list[Any], value: Any
                                                                   ) -> None:
    """Well-formed JSON whose values no flow can be in is damaged too: loading it
    must fail clearly, not produce violations (or silence) several events later."""
    with pytest.raises(CheckpointError, match=str(value)):
        RunFlow.from_json(damaged(path, value))


def test_restoring_with_smaller_limits_refuses_what_is_already_past_them() -> None:
    text = json.dumps(good_checkpoint())
    with pytest.raises(CheckpointError, match="past max_message_chars=10"):
        RunFlow.from_json(text, limits=Limits(max_message_chars=10))
    with pytest.raises(CheckpointError, match=r"decoder\.pending: 39 bytes buffered, past "
                                              r"max_event_bytes=4"):
        RunFlow.from_json(text, limits=Limits(max_event_bytes=4))
    assert RunFlow.from_json(text, limits=Limits(max_message_chars=75)).event_count == 30


# --------------------------------------------------------------------------- #
# Responses checkpoints: the same checks, from the Responses definition
# --------------------------------------------------------------------------- #
def _responses_checkpoint() -> dict[str, Any]:
    from test_responses_hostile import Stream, fed

    stream = Stream().message(["Hel", "lo"])
    events = stream.events[:-3]  # the text is still streaming
    # a shell command is made by an event without an object: its empty raw loads
    events.append({"type": "response.output_item.added", "output_index": 1,
                   "sequence_number": len(events), "item": {
                       "id": "sh_1", "type": "shell_call", "status": "in_progress",
                       "call_id": "call_1", "action": {"commands": []}}})
    events.append({"type": "response.shell_call_command.added", "output_index": 1,
                   "command_index": 0, "sequence_number": len(events)})
    data: dict[str, Any] = json.loads(fed(events).to_json())
    return data


@pytest.mark.parametrize(("kind", "field", "value", "match"), [
    ("message", "raw", {}, r"raw.type: required, got nothing \(not a message object\)"),
    ("message", "raw", {"type": 7}, r"raw.type: expected string"),
    ("output_text", "raw", {}, r"raw.type: required, got nothing \(not a output_text"),
    ("output_text", "size", 9 * 2 ** 20, "past max_message_chars"),
    ("output_text", "deltas", 0, "5 characters, but no delta added them"),
    ("message", "deltas", 3, "a message takes no deltas"),
])
def test_a_damaged_responses_checkpoint_raises_checkpoint_error(
        kind: str, field: str, value: Any, match: str) -> None:
    from runflow.protocols.responses.flow import ResponseFlow

    data = _responses_checkpoint()
    good = ResponseFlow.from_json(json.dumps(data))
    assert good.text == "Hello"
    assert [v.code.value for v in good.violations] == ["items_interleaved"]  # a warning
    assert [t["raw"] for t in data["state"]["children"]["shell_command"].values()] == [{}]
    tracker = next(iter(data["state"]["children"][kind].values()))
    tracker[field] = value
    with pytest.raises(CheckpointError, match=match):
        ResponseFlow.from_json(json.dumps(data))


# --------------------------------------------------------------------------- #
# the engine's own flow: no definition of its own
# --------------------------------------------------------------------------- #
def test_the_engines_flow_runs_only_the_definition_it_is_given() -> None:
    with pytest.raises(TypeError, match="pass protocol="):
        Flow()
    text = feed_all(tool_call_run()[:30]).to_json()
    with pytest.raises(TypeError, match="needs protocol="):
        Flow.from_json(text)
    flow = Flow.from_json(text, protocol=ASSISTANTS)
    again = RunFlow.from_json(text)
    assert type(flow) is Flow and flow.definition is ASSISTANTS
    assert (flow.event_count, flow.root_state, flow.history) == (
        again.event_count, again.run_status, again.history)
    for event in tool_call_run()[30:]:
        flow.feed(event)
        again.feed(event)
    assert flow.close() == again.close() == "done"
    assert flow.violations == again.violations
    assert flow.states("step") == again.step_states
