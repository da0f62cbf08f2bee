"""The Responses definition on real captures: verdicts, rebuilt values, resumption.

Every capture in ``recordings/responses`` has its documented verdict here; the
grammar's rules are exercised by mutating real captures (tests/test_responses_rules.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import recordings_dir

from runflow import ProtocolError
from runflow.engine.violations import Code
from runflow.protocols.responses.flow import ResponseFlow


def responses_dir() -> Path:
    return recordings_dir() / "responses"


def load(name: str) -> list[dict[str, Any]]:
    """The JSON data of every event of a capture, in order ([DONE] left out)."""
    events = []
    for line in (responses_dir() / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            events.append(json.loads(line[5:]))
    return events


def fed(events: list[dict[str, Any]], flow: ResponseFlow | None = None, *,
        close: bool = True, **options: Any) -> ResponseFlow:
    flow = flow if flow is not None else ResponseFlow(**options)
    for event in events:
        flow.feed(event)
    if close:
        flow.close()
    return flow


def found(flow: ResponseFlow) -> list[tuple[str, str, int]]:
    return [(v.code.value, v.severity, v.index) for v in flow.violations]


# --------------------------------------------------------------------------- #
# every capture has a documented verdict
# --------------------------------------------------------------------------- #
Verdict = tuple[str, str, list[tuple[str, str, int]]]
"""How the stream ended, the response's status, and the violations (code, severity, index)."""
CLEAN: Verdict = ("done", "completed", [])
VERDICTS: dict[str, Verdict] = {
    "ddtrace_incomplete_max_output_tokens_gpt4o.sse": ("done", "incomplete", []),
    "llmopenaiplugin_json_schema_noseq_gpt4omini.sse": CLEAN,
    "mirascope_json_schema_strict_gpt4o.sse": CLEAN,
    "mirascope_parallel_function_calls_gpt4o.sse": CLEAN,
    "openaidotnet_file_search_gpt4omini.sse": CLEAN,
    "openaidotnet_hello_text_gpt4omini.sse": CLEAN,
    "openaidotnet_logprobs_gpt4omini.sse": CLEAN,
    "openinference_reasoning_encrypted_o4mini.sse": CLEAN,
    # an error event, then response.failed: the stream ended with an error
    "prism_error_rate_limited_gpt4o.sse": ("error", "failed", []),
    "pydanticai_background_create_gpt4o.sse": CLEAN,
    # a resume after sequence 0: begins with response.queued, adopted
    "pydanticai_background_resume_after0_gpt4o.sse": CLEAN,
    "pydanticai_code_interpreter_reasoning_gpt5.sse": CLEAN,
    # the ChatGPT Codex backend sends output [] in response.completed
    "pydanticai_codex_backend_fc_gpt55.sse": ("done", "completed", [
        ("output_mismatch", "warning", 13)]),
    "pydanticai_compaction_item_gpt41.sse": CLEAN,
    "pydanticai_deepseek_reasoning_function_call.sse": CLEAN,
    "pydanticai_function_call_noseq_gpt4o.sse": CLEAN,
    "pydanticai_hosted_shell_gpt52.sse": CLEAN,
    "pydanticai_moderation_reasoning_gpt5.sse": CLEAN,
    "pydanticai_phase_commentary_gpt55.sse": CLEAN,
    "pydanticai_reasoning_summary_o3mini.sse": CLEAN,
    "pydanticai_tool_search_gpt54.sse": CLEAN,
    "pydanticai_web_search_multi_gpt5.sse": CLEAN,
    "vercel_apply_patch_gpt51.sse": CLEAN,
    # Azure closes its web search item without .completed, still 'searching'
    "vercel_azure_web_search_preview_gpt41mini.sse": ("done", "completed", [
        ("status_mismatch", "warning", 5)]),
    "vercel_image_generation_partial_gpt5.sse": CLEAN,
    "vercel_lmstudio_reasoning_tool_call_glm47flash.sse": CLEAN,
}
PROFILE_VERDICTS = {
    # with the server's profile, its known quirk is expected, not reported
    "pydanticai_codex_backend_fc_gpt55.sse": ("codex", {"output_mismatch": 1}),
    "vercel_azure_web_search_preview_gpt41mini.sse": ("azure", {"status_mismatch": 1}),
}


def test_every_capture_has_a_verdict() -> None:
    assert sorted(p.name for p in responses_dir().glob("*.sse")) == sorted(VERDICTS)


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_capture_replays_with_its_verdict(name: str) -> None:
    flow = ResponseFlow()
    assert flow.feed_sse((responses_dir() / name).read_bytes()) is not None
    ending = flow.close()
    expected_ending, status, violations = VERDICTS[name]
    assert (ending, flow.status, found(flow)) == (expected_ending, status, violations)
    assert flow.response is not None and flow.response.status == status


@pytest.mark.parametrize("name", sorted(PROFILE_VERDICTS))
def test_a_servers_profile_expects_its_quirk(name: str) -> None:
    from runflow.protocols.profiles import profile_named

    profile, expected = PROFILE_VERDICTS[name]
    flow = ResponseFlow(profile=profile_named(profile))
    flow.feed_sse((responses_dir() / name).read_bytes())
    flow.close()
    assert flow.violations == [] and flow.expected == expected
    # and the openai profile makes the same quirk an error
    strict = ResponseFlow(profile=profile_named("openai"))
    strict.feed_sse((responses_dir() / name).read_bytes())
    strict.close()
    assert [(v.code.value, v.severity) for v in strict.violations] == [
        (code, "error") for code in expected]


def test_the_copilot_profile_follows_rotating_response_and_item_ids() -> None:
    """A gateway that rotates every id, the response's included: each event is followed
    by position (the one response, the item at its output_index), with a warning, and
    the server's profile expects it. Before issue 23 the response was foreign_entity
    from its second event on, and the flow ended in_progress."""
    from runflow.protocols.profiles import profile_named

    events = load("openaidotnet_hello_text_gpt4omini.sse")
    for n, event in enumerate(events):
        if "response" in event:
            event["response"] = {**event["response"], "id": f"resp_{n}"}
        if "item_id" in event:
            event["item_id"] = f"rot_{n}"
    plain = fed(events)
    assert plain.status == "completed" and plain.errors == []
    assert {v.code.value for v in plain.violations} == {"item_id_mismatch"}
    copilot = fed(events, profile=profile_named("copilot"))
    assert (copilot.status, copilot.violations) == ("completed", [])
    assert copilot.expected == {"item_id_mismatch": len(plain.violations)}
    assert copilot.text == "Hello! How can I assist you today?"


def test_openai_captures_with_sequence_numbers_pass_with_no_error() -> None:
    numbered = [n for n in VERDICTS if "sequence_number" in load(n)[0]]
    assert len(numbered) >= 20
    for name in numbered:
        flow = ResponseFlow()
        flow.feed_sse((responses_dir() / name).read_bytes())
        flow.close()
        assert flow.errors == [], name


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_sdk_events_give_what_the_bytes_give(name: str) -> None:
    """``feed`` takes the SDK's own event objects; the result is the bytes' result."""
    from openai.types.responses import ResponseStreamEvent
    from pydantic import TypeAdapter, ValidationError

    adapter: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
    by_bytes = ResponseFlow()
    by_bytes.feed_sse((responses_dir() / name).read_bytes())
    by_bytes.close()
    by_objects = ResponseFlow()
    for data in load(name):
        try:
            by_objects.feed(adapter.validate_python(data))
        except ValidationError:  # an event outside the SDK's union, or a quirk it refuses
            by_objects.feed(data)
    by_objects.close()
    assert by_objects.status == by_bytes.status
    assert by_objects.text == by_bytes.text
    assert [i[0] for i in by_objects.item_states] == [i[0] for i in by_bytes.item_states]
    assert [v.code for v in by_objects.violations] == [v.code for v in by_bytes.violations]


# --------------------------------------------------------------------------- #
# rebuilt values equal the server's final objects
# --------------------------------------------------------------------------- #
_FINAL = {"response.output_item.done", "response.content_part.done",
          "response.reasoning_summary_part.done", "response.completed",
          "response.incomplete", "response.failed"}


def _values(item: dict[str, Any]) -> dict[str, Any]:
    """The streamed values of one item, as its final object holds them."""
    out: dict[str, Any] = {}
    for j, part in enumerate(item.get("content") or ()):
        for key in ("text", "refusal"):
            if key in part:
                out[f"content.{j}.{key}"] = part[key]
    for j, part in enumerate(item.get("summary") or ()):
        out[f"summary.{j}.text"] = part.get("text")
    for key in ("arguments", "code", "input"):
        if isinstance(item.get(key), str):
            out[key] = item[key]
    if isinstance((item.get("operation") or {}).get("diff"), str):
        out["operation.diff"] = item["operation"]["diff"]
    if item.get("type") == "shell_call":
        out["action.commands"] = (item.get("action") or {}).get("commands")
    return out


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_values_rebuilt_from_deltas_alone_equal_the_final_objects(name: str) -> None:
    """Feed only what grows values -- no ``.done`` event, no final object -- and the
    rebuilt items hold exactly the text, arguments and code the server sent last."""
    events = load(name)
    finals = {e["output_index"]: e["item"] for e in events
              if e["type"] == "response.output_item.done"}
    growing = [{k: v for k, v in e.items() if k != "sequence_number"} for e in events
               if e["type"] not in _FINAL and not e["type"].endswith(".done")]
    flow = fed(growing, close=False)
    assert flow.errors == [] or name.startswith("prism")
    rebuilt = [item.model_dump(mode="json", warnings=False) for item in flow.output]
    grown = {e["output_index"] for e in events if e["type"].endswith(".delta")}
    compared = 0
    for index, final in finals.items():
        if index not in grown:
            continue  # its values came whole, in .done events (LM Studio's arguments)
        theirs = _values(final)
        ours = _values(rebuilt[index])
        for key, value in theirs.items():
            if isinstance(value, str) and value and key in ours:
                assert ours[key] == value, (name, index, key)
                compared += 1
    streams_values = any(e["type"].endswith(".delta") for e in events)
    assert compared > 0 or not streams_values


def test_rebuilt_response_output_equals_the_final_output() -> None:
    name = "openaidotnet_logprobs_gpt4omini.sse"
    events = load(name)
    flow = fed(events)
    final = events[-1]["response"]
    assert flow.response is not None
    assert flow.response.model_dump(mode="json", exclude_unset=True)["output"] == final["output"]
    assert flow.text == final["output"][0]["content"][0]["text"]


# --------------------------------------------------------------------------- #
# resumption (starting_after)
# --------------------------------------------------------------------------- #
def _outcome(flow: ResponseFlow) -> tuple[Any, ...]:
    response = flow.response
    return (flow.ending, flow.status, found(flow), flow.item_states, flow.text,
            response.model_dump(mode="json", warnings=False) if response else None,
            [(c.entity, c.id, c.event, c.source, c.dest) for c in flow.history])


RESUMABLE = ["pydanticai_background_create_gpt4o.sse", "openaidotnet_hello_text_gpt4omini.sse",
             "pydanticai_hosted_shell_gpt52.sse", "pydanticai_reasoning_summary_o3mini.sse",
             "mirascope_parallel_function_calls_gpt4o.sse"]


@pytest.mark.parametrize("name", RESUMABLE)
def test_cut_at_every_sequence_number_and_resumed_from_a_checkpoint(name: str) -> None:
    """Checkpoint at sequence N, restore, feed the stream from starting_after=N:
    the same flow as the uninterrupted one, at every N."""
    events = load(name)
    whole = _outcome(fed(events))
    for n in range(len(events) - 1):
        first = fed([e for e in events if e["sequence_number"] <= n], close=False)
        assert first.sequence_number == n
        restored = ResponseFlow.from_json(first.to_json())
        assert restored.sequence_number == n
        fed([e for e in events if e["sequence_number"] > n], restored)
        assert _outcome(restored) == whole, n


@pytest.mark.parametrize("name", RESUMABLE[:3])
def test_a_cut_stream_continued_by_a_replay_drops_the_duplicates(name: str) -> None:
    """A cut stream (truncated), then the whole stream again (a client that resumed
    without starting_after): events already applied are dropped and counted."""
    events = load(name)
    whole = fed(events)
    for n in (1, len(events) // 2, len(events) - 2):
        flow = fed(events[: n + 1])
        assert flow.ending == "truncated"
        flow.begin_stream()
        fed(events, flow)
        assert flow.replayed == n + 1
        assert (flow.status, flow.text, flow.item_states) == (
            whole.status, whole.text, whole.item_states)
        assert [v.code for v in flow.violations] == [Code.TRUNCATED]


def test_the_real_resume_capture_adopts_the_response() -> None:
    create = load("pydanticai_background_create_gpt4o.sse")
    resume = load("pydanticai_background_resume_after0_gpt4o.sse")
    assert resume[0]["sequence_number"] == 1 and resume[0]["type"] == "response.queued"
    fresh = fed(resume)
    assert (fresh.status, fresh.violations) == ("completed", [])
    assert fresh.text == fed(create).text
    # after the create stream's first event, the resume stream completes the same flow
    joined = fed(create[:1], close=False)
    fed(resume, joined)
    assert _outcome(joined) == _outcome(fed(create))


def test_the_cursor_survives_a_cut_in_the_bytes() -> None:
    """A cut in the middle of an SSE frame: the cursor is the last whole event."""
    raw = (responses_dir() / "pydanticai_background_create_gpt4o.sse").read_bytes()
    cut = raw.index(b'"sequence_number":6') + 5
    flow = ResponseFlow()
    flow.feed_sse(raw[:cut])
    assert flow.close() == "truncated"
    # the half frame is dispatched at close and reported, and the cursor stays put
    assert [v.code for v in flow.violations] == [Code.MALFORMED_EVENT, Code.TRUNCATED]
    assert flow.sequence_number == 5
    flow.begin_stream()
    resume = [e for e in load("pydanticai_background_create_gpt4o.sse")
              if e["sequence_number"] > 5]
    fed(resume, flow)
    assert (flow.ending, flow.status) == ("done", "completed")
    assert [v.code for v in flow.violations] == [Code.MALFORMED_EVENT, Code.TRUNCATED]


# --------------------------------------------------------------------------- #
# callbacks
# --------------------------------------------------------------------------- #
def test_typed_callbacks_fire_once_with_rebuilt_objects() -> None:
    from openai.types.responses import Response, ResponseFunctionToolCall

    flow = ResponseFlow()
    seen: list[Any] = []
    flow.on_response("completed")(lambda r: seen.append(("response", r)))
    flow.on_item("function_call", "completed")(lambda c: seen.append(("call", c)))
    flow.on_item("function_call", "in_progress")(lambda c: seen.append(("started", c.name)))
    deltas: list[str] = []
    flow.on_arguments_delta(lambda d: deltas.append(d.delta))
    fed(load("mirascope_parallel_function_calls_gpt4o.sse"), flow)
    calls = [c for kind, c in seen if kind == "call"]
    assert [type(c) for c in calls] == [ResponseFunctionToolCall] * 2
    assert [c.arguments for c in calls] == ['{"password":"mellon"}', '{"password":"radiance"}']
    assert [s for s in seen if s[0] == "started"] == [("started", "secret_retrieval_tool")] * 2
    assert "".join(deltas) == "".join(c.arguments for c in calls)
    [(_, response)] = [s for s in seen if s[0] == "response"]
    assert isinstance(response, Response) and len(response.output) == 2
    assert flow.function_calls == calls


def test_text_delta_callbacks_build_the_text() -> None:
    flow = ResponseFlow()
    parts: dict[tuple[str, int], list[str]] = {}
    flow.on_text_delta(lambda d: parts.setdefault((d.kind, d.output_index), []).append(d.delta))
    done: list[dict[str, Any]] = []
    flow.on_part("output_text", "done")(done.append)
    summaries: list[dict[str, Any]] = []
    flow.on_part("summary_text", "done")(summaries.append)
    fed(load("pydanticai_reasoning_summary_o3mini.sse"), flow)
    assert "".join(parts[("output_text", 1)]) == flow.text == done[0]["text"]
    assert "".join(parts[("summary_text", 0)]) == "".join(s["text"] for s in summaries)
    assert len(summaries) == 4


def test_a_callback_that_edits_its_response_cannot_change_the_flow() -> None:
    flow = ResponseFlow()

    def vandal(response: Any) -> None:
        response.output.clear()
        response.status = "failed"

    flow.on_response("completed")(vandal)
    fed(load("openaidotnet_hello_text_gpt4omini.sse"), flow)
    assert flow.response is not None
    assert flow.response.status == "completed" and len(flow.response.output) == 1


def test_on_item_refuses_a_state_the_kind_does_not_have() -> None:
    flow = ResponseFlow()
    with pytest.raises(ValueError, match="message has no state 'searching'"):
        flow.on_item("message", "searching")


# --------------------------------------------------------------------------- #
# strict mode and checkpoints
# --------------------------------------------------------------------------- #
def test_strict_raises_at_the_first_error_and_loses_nothing() -> None:
    events = load("openaidotnet_hello_text_gpt4omini.sse")
    events[6] = {**events[6], "output_index": 3}
    flow = ResponseFlow(strict=True)
    with pytest.raises(ProtocolError) as raised:
        fed(events, flow)
    assert raised.value.violation.code is Code.UNKNOWN_ENTITY
    assert raised.value.violation.index == 6
    assert flow.sequence_number == 6


def test_a_checkpoint_keeps_the_profile_and_refuses_another_protocol() -> None:
    from runflow import CheckpointError, RunFlow
    from runflow.protocols.profiles import profile_named

    flow = fed(load("pydanticai_codex_backend_fc_gpt55.sse"), profile=profile_named("codex"))
    restored = ResponseFlow.from_json(flow.to_json())
    assert restored.profile is not None and restored.profile.name == "codex"
    assert restored.expected == {"output_mismatch": 1}
    with pytest.raises(CheckpointError, match="protocol"):
        RunFlow.from_json(flow.to_json())
