"""Hostile inputs as data: what each gets from runflow, for the README's table.

Issue 12 lists hostile servers and callers that once crashed runflow, corrupted a
flow or grew it without bound. Each flow-level one is a :class:`Case` here: the
"Why" bullet it covers, the input, a function that builds the input and feeds it
through the public API only, and what runflow must answer (violation codes at
their event index, an exception type, an ending, plus facts such as "the entity
is not registered"). Memory cases carry a :class:`Bound` in bytes derived from
:class:`~runflow.Limits`, and their peak is measured with ``tracemalloc``.

:func:`hostile_table` runs every case and renders a Markdown table of what runflow
*actually* answered, so a regression shows in the table and in
``tests/test_hostile_table.py``, which also checks the README holds the table as
generated. The measured peaks are never printed (they vary between runs), only
whether each stayed under its bound. What is about processes and servers (the CLI
and the orchestrator) is proved by tests elsewhere: :data:`PROVED_ELSEWHERE` names
them, and the test checks those test functions exist.

Regenerate the README block with ``python -m runflow.testing.hostile --write``.
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

from runflow.testing.hostile_callbacks import (
    case_enter_callback_edits_the_run,
    case_index_1e999,
    case_step_and_message_share_an_id,
    case_text_callback_edits_annotations,
    case_tool_callback_edits_outputs,
    case_tool_step_and_message_share_an_id,
    damaged,
    message_tracker,
    no_run,
    part_of_no_type,
    run_status_of_five,
)
from runflow.testing.hostile_limits import growths, render_growths
from runflow.testing.hostile_memory import (
    MESSAGE_BOUND,
    NAME_BOUND,
    TOOL_BOUND,
    case_annotation_flood,
    case_empty_chunk_after_cr,
    case_history_flood,
    case_image_flood,
    case_infinity_in_data,
    case_logs_flood,
    case_lone_surrogate,
    case_name_flood,
    case_nan_in_sse,
    case_outputs_flood,
    case_surrogate_escape_in_sse,
    case_violation_messages,
)
from runflow.testing.hostile_model import (
    MID,
    WHY,
    Bound,
    Case,
    Outcome,
    Proof,
    Result,
)
from runflow.testing.hostile_payloads import (
    case_annotations_is_an_int,
    case_deep_arguments,
    case_deep_bytes,
    case_deep_checkpoint,
    case_deep_sse,
    case_error_with_odd_keys,
    case_function_is_a_string,
    case_outputs_of_one,
    case_refusal_is_an_int,
    case_text_is_a_string,
    case_type_is_a_list,
    case_value_is_an_int,
)
from runflow.testing.hostile_responses import (
    case_arguments_flood,
    case_decoder_past_max_event_bytes,
    case_item_id_is_an_int,
    case_item_with_empty_raw,
    case_message_parts_flood,
    case_part_callback_edits_annotations,
    case_part_id_is_an_int,
    case_shell_action_is_a_string,
    case_tool_name_is_an_int,
)
from runflow.testing.hostile_websocket import (
    LANE_FLOOD_BOUND,
    case_ws_deep_frame,
    case_ws_lane_flood,
    case_ws_nan,
    case_ws_part_id_is_an_object,
    case_ws_steer_is_a_list,
    case_ws_stream_id_is_an_object,
    case_ws_text_flood,
    case_ws_violation_names,
)

__all__ = [
    "CASES",
    "PROVED_ELSEWHERE",
    "WHY",
    "Bound",
    "Case",
    "Outcome",
    "Proof",
    "Result",
    "hostile_table",
    "render",
    "run_case",
    "run_cases",
]

# --------------------------------------------------------------------------- #
# the catalogue
# --------------------------------------------------------------------------- #
NOT_REGISTERED = "`malformed_event` @ {i}; the {kind} is not registered"
UNCHANGED = "`malformed_event` @ {i}; the {kind} snapshot is unchanged"

CASES: tuple[Case, ...] = (
    Case("text is a string", "types", '`content[0].text: "hello"` in `thread.message.created`',
         NOT_REGISTERED.format(i=4, kind="message"), case_text_is_a_string),
    Case("value is an int", "types", "`text.value: 42` in a message delta",
         UNCHANGED.format(i=5, kind="message"), case_value_is_an_int),
    Case("refusal is an int", "types", "`content[0].refusal: 7` in `thread.message.created`",
         NOT_REGISTERED.format(i=4, kind="message"), case_refusal_is_an_int),
    Case("annotations is an int", "types", "`text.annotations: 5` in a message delta",
         UNCHANGED.format(i=5, kind="message"), case_annotations_is_an_int),
    Case("function body is a string", "types",
         '`tool_calls[0].function: "get_weather()"` in `thread.run.step.created`',
         NOT_REGISTERED.format(i=3, kind="step"), case_function_is_a_string),
    Case("outputs: [1]", "types", "`code_interpreter.outputs: [1]` in a step delta",
         UNCHANGED.format(i=5, kind="step"), case_outputs_of_one),
    Case("tool call type is a list", "types",
         '`tool_calls[0].type: ["function"]` in `thread.run.step.created`',
         NOT_REGISTERED.format(i=3, kind="step"), case_type_is_a_list),
    Case("error with odd keys", "types",
         '`{"error": {"message": …, "type": …, "weird": [...], "extra": true}}`',
         "no violation; ending `error`; `flow.error` keeps the odd keys",
         case_error_with_odd_keys),
    Case("Responses: shell_call action is a string", "types",
         '`action: "rm -rf /"` in a `shell_call`\'s `response.output_item.added`, then a '
         "command", "`malformed_event` @ 1, `unknown_entity` @ 2; the shell_call is not "
         "registered (0 items in `flow.output` and `flow.response`)",
         case_shell_action_is_a_string),
    Case("Responses: part id is an int", "types",
         "`part.id: 7` in `response.content_part.added`, then two text deltas",
         "`item_id_mismatch` @ 2; the part is found by its position: the message holds "
         "1 part, text 'Hello'", case_part_id_is_an_int),
    Case("Responses: item id is an int", "types",
         "`item.id: 7` in `response.output_item.added`, then a part and two text deltas "
         "naming `msg_0`",
         "`item_id_mismatch` @ 1, `item_id_mismatch` @ 2, `item_id_mismatch` @ 3, "
         "`item_id_mismatch` @ 4; the item is found by its position: 1 item, text 'Hello'",
         case_item_id_is_an_int),
    Case("Responses: function tool name is an int", "types",
         "`tools: [{type: function, name: 42}]` in `response.created`",
         "`missing_field` @ 0; the tool offers no function", case_tool_name_is_an_int),
    Case("WebSocket: stream_id is an object", "types",
         '`stream_id: {"lane": 1}` in a client `response.create`',
         "`malformed_frame` @ 0; no lane opened (0 lanes)", case_ws_stream_id_is_an_object),
    Case("WebSocket: steer body is a list", "types",
         "`steer: []` in `response.steer.accepted` while a response is in flight",
         "`malformed_frame` @ 2; the response stays in flight (lane `in_flight`)",
         case_ws_steer_is_a_list),
    Case("WebSocket: part id is an object", "types",
         '`part.id: {"x": 1}` in a lane\'s `response.content_part.added`, then two deltas',
         "`item_id_mismatch` @ 3; the part is found by its position: text 'Hello'",
         case_ws_part_id_is_an_object),
    Case("deep JSON via feed_sse", "nesting", "`[` × 100,000 as SSE data",
         "`malformed_event` @ 0", case_deep_sse),
    Case("deep JSON via feed(bytes)", "nesting", "`[` × 100,000 as `data` bytes",
         "`malformed_event` @ 0", case_deep_bytes),
    Case("WebSocket: frame nested deep", "nesting",
         "a server frame with `[` × 100,000 in `response`",
         "`malformed_frame` @ 1 naming the depth; the create is still queued (1)",
         case_ws_deep_frame),
    Case("deep checkpoint", "nesting", "`RunFlow.from_json` of `[` × 100,000",
         "`CheckpointError` naming the depth", case_deep_checkpoint),
    Case("deep tool arguments", "nesting",
         "function `arguments` of `[` × 100,000 at `requires_action`",
         "`invalid_tool_arguments` @ 5; run `requires_action`", case_deep_arguments),
    Case("code_interpreter logs flood", "memory",
         "8 MiB of `logs` in 4 KiB deltas (`max_tool_chars` 1 MiB)",
         "`limit_exceeded` @ 260; `str.join` calls: 0 while streaming, 1 on read",
         case_logs_flood, TOOL_BOUND),
    Case("outputs flood", "memory",
         "8 MiB of code_interpreter outputs at indices 0–1023, 4 KiB each",
         "`limit_exceeded` @ 260", case_outputs_flood, TOOL_BOUND),
    Case("function name flood", "memory", "8 MiB of function `name` in 4 KiB deltas",
         "`limit_exceeded` @ 260", case_name_flood, TOOL_BOUND),
    Case("annotations flood", "memory",
         "8 MiB of `file_citation` annotations at indices 0–1023, 4 KiB each",
         "`limit_exceeded` @ 260", case_annotation_flood, MESSAGE_BOUND),
    Case("image parts flood", "memory",
         "8 MiB of `image_file` parts at indices 0–1023, 4 KiB file ids",
         "`limit_exceeded` @ 261", case_image_flood, MESSAGE_BOUND),
    Case("Responses: message parts flood", "memory",
         "8 MiB over 8 `output_text` parts of one message, in 4 KiB deltas",
         "`limit_exceeded` @ 266; the message holds 1 MiB", case_message_parts_flood,
         MESSAGE_BOUND),
    Case("Responses: arguments flood", "memory",
         "8 MiB of function_call `arguments` in 4 KiB deltas",
         "`limit_exceeded` @ 258", case_arguments_flood, TOOL_BOUND),
    Case("WebSocket: text flood on a lane", "memory",
         "8 MiB of `output_text` deltas in 4 KiB frames, `ConnectionFlow(limits=…)`",
         "`limit_exceeded` @ 260; the message holds 1 MiB", case_ws_text_flood,
         MESSAGE_BOUND),
    Case("WebSocket: frames on an unknown lane", "memory",
         "20,000 deltas on a `stream_id` no create named",
         "100 × `unknown_lane`, then `limit_exceeded` @ 100; 19,900 counted in `suppressed`",
         case_ws_lane_flood, LANE_FLOOD_BOUND),
    Case("history flood", "memory",
         "1,000 self-loop `thread.run.step.in_progress` (`max_history` 50)",
         "no violation; `history` keeps 5, `history_dropped` 0, the last entry counts 1,000",
         case_history_flood),
    Case("2 MiB event names", "memory", "100 events named with 2 MiB each",
         "100 × `unknown_event`; names and messages cut at `max_message_text`, stating the "
         "length", case_violation_messages, NAME_BOUND),
    Case("WebSocket: 2 MiB event names", "memory",
         "100 frames whose `type` holds 2 MiB each",
         "100 × `unknown_lane`; names and messages cut at `max_message_text`, stating the "
         "length", case_ws_violation_names, NAME_BOUND),
    Case("empty chunk after CR", "sse",
         '`"…\\r"`, `""`, `"\\n…"`: a CRLF split by an empty chunk',
         "1 event, run `queued`; no violation", case_empty_chunk_after_cr),
    Case("lone surrogate", "encoding", "`\\udc80` in an event name and `\\udce9` in a text",
         "`unknown_event` @ 0; `to_json()` is valid UTF-8 JSON, with a `UnicodeWarning`",
         case_lone_surrogate),
    Case("lone-surrogate escape in SSE data", "encoding",
         '`"instructions": "a\\udc80"` in `thread.run.created`',
         "`malformed_event` @ 0; run `unseen`", case_surrogate_escape_in_sse),
    Case("NaN in SSE data", "encoding", "`\"temperature\": NaN` in `thread.run.created`",
         "`malformed_event` @ 0; run `unseen`", case_nan_in_sse),
    Case("WebSocket: NaN in a frame", "encoding",
         '`"temperature": NaN` in a `response.created` frame',
         "`malformed_frame` @ 1; 0 responses", case_ws_nan),
    Case("Infinity in fed data", "encoding",
         "`temperature=float(\"inf\")` in `thread.run.created` via `feed`",
         "`malformed_event` @ 0; run `unseen`; `to_json()` is valid JSON",
         case_infinity_in_data),
    Case("enter callback edits the Run", "callbacks",
         "`on_run(\"in_progress\")` sets `status`, `id`, `metadata`",
         "1 call; `flow.run.status` = `flow.run_status` (`in_progress`); no violation",
         case_enter_callback_edits_the_run),
    Case("text callback edits annotations", "callbacks",
         "`on_text(\"delta\")` edits the delta's and the snapshot's annotations",
         "1 call; no violation; the message keeps the server's annotation",
         case_text_callback_edits_annotations),
    Case("tool-call callback edits outputs", "callbacks",
         "`on_tool_call(\"delta\")`/`(\"done\")` edit and extend `outputs`",
         "3 calls; no violation; the step snapshot is unchanged",
         case_tool_callback_edits_outputs),
    Case("Responses: part callback edits annotations", "callbacks",
         '`on_part("output_text", "done")` edits nested annotation and logprob fields',
         "1 call; no violation; the part keeps the server's annotation and logprobs: yes",
         case_part_callback_edits_annotations),
    Case("step and message share an id", "ids",
         "a `message_creation` step and its message both `shared_id_1`",
         "text callbacks: created shared_id_1, done shared_id_1; no violation",
         case_step_and_message_share_an_id),
    Case("tool_calls step and message share an id", "ids",
         "a message, then a `tool_calls` step, both `shared_id_2`",
         "text done shared_id_2, tool call done shared_id_2; no violation",
         case_tool_step_and_message_share_an_id),
    Case("max_message_chars null", "checkpoints", "`settings.limits.max_message_chars: null`",
         "`CheckpointError` at load", damaged(
             lambda d: d["settings"]["limits"].__setitem__("max_message_chars", None))),
    Case("part value is a list", "checkpoints", "a text part's `value: [1]`",
         "`CheckpointError` at load", damaged(
             lambda d: message_tracker(d)["acc"]["parts"][0].__setitem__("value", [1]))),
    Case("index of 1e999", "checkpoints", "`state.index: 1e999`",
         "`CheckpointError` at load", case_index_1e999),
    Case("tracker id differs", "checkpoints", "a message tracker's `id` ≠ its object's `id`",
         "`CheckpointError` at load", damaged(
             lambda d: message_tracker(d).__setitem__("id", "msg_other"))),
    Case("duplicate id across kinds", "checkpoints",
         "the message's tracker also listed among the steps",
         "`CheckpointError` at load", damaged(
             lambda d: d["state"]["children"]["step"].__setitem__(MID, message_tracker(d)))),
    Case("message completed with no run", "checkpoints",
         "`state.root: null` and the message `completed`",
         "`CheckpointError` at load", damaged(no_run)),
    Case("run object of the wrong type", "checkpoints", "the run's saved object has `status: 5`",
         "`CheckpointError` at load", damaged(run_status_of_five)),
    Case("message deltas and no content", "checkpoints",
         "a message whose counters say deltas added text, saved with no parts",
         "`CheckpointError` at load", damaged(
             lambda d: message_tracker(d)["acc"].__setitem__("parts", []))),
    Case("Responses: item with an empty raw", "checkpoints",
         "a message item saved with `raw: {}`", "`CheckpointError` at load",
         case_item_with_empty_raw),
    Case("Responses: decoder past max_event_bytes", "checkpoints",
         "4 KiB buffered by the SSE decoder, `max_event_bytes` 1 KiB",
         "`CheckpointError` at load", case_decoder_past_max_event_bytes),
    # Not damage: a stream may carry a part type runflow does not know, and keeps it;
    # a checkpoint can hold whatever a stream can build. The next delta that says
    # otherwise is the stream's type_change, at once.
    Case("part of an unknown type", "checkpoints", "a content part's `type: \"zz\"`",
         "LOADED; the next delta: `type_change` @ 6", damaged(part_of_no_type)),
)

_ROUND2 = "tests/test_hostile_round2.py::"
_CLI = "tests/test_cli_hostile.py::"
_DRIVE = "tests/test_drive.py::"
_KEYS = "tests/test_hostile_keys.py::"
PROVED_ELSEWHERE: tuple[Proof, ...] = (
    Proof("types", "a key named like a builder's argument",
          "`_fields_set`, `cls` or `_BaseModel__cls` in a Responses item or an Assistants "
          "run or error object that fails the SDK's validation",
          "the snapshot reads (`flow.output`, `flow.run`, `flow.error`), the key kept as an "
          "extra field",
          _KEYS + "test_a_responses_item_that_fails_validation_keeps_the_key_as_an_extra"),
    Proof("checkpoints", "Responses: a terminal response without its status key",
          "`response.completed` whose `response` has no `status` (removed or renamed: "
          "found by the key fuzz)",
          "no violation (the SDK's field is optional), ending `done`; the checkpoint "
          "loads back as saved",
          _KEYS + "test_a_terminal_response_without_its_status_key_checkpoints"),
    Proof("checkpoints", "Responses: the response id rotates at its end",
          "`response.completed` naming the response `x1` (and `ＩＤ`: `x2`) after "
          "`response.created` named `resp_1` (found by the key fuzz)",
          "`item_id_mismatch` @ 1, the rotation followed (`flow.response.id` `x1`); the "
          "checkpoint loads back as saved",
          _KEYS + "test_a_response_whose_id_rotates_at_its_end_checkpoints"),
    Proof("checkpoints", "Responses: a 400-digit sequence_number",
          "`sequence_number: 10**400` after `0`, fed as a dict or as SSE (found by the "
          "key fuzz's checkpoint check run over the value inputs)",
          "`malformed_event` @ 1 (the event is refused, the last number stays 0); the "
          "checkpoint loads back as saved",
          "tests/test_fuzz_checkpoints.py::"
          "test_a_sequence_number_past_a_float_is_refused_and_the_flow_checkpoints"),
    Proof("types", "hostile keys at every object and key",
          "pydantic/SDK/JavaScript internals, NUL, RTL, combining, a 1 MiB key, 10,000 "
          "keys, case and NFKC twins, keys removed or renamed, `{\"a\": …, \"a\": …}` in "
          "the JSON text (`runflow/testing/typefuzz_keys.py`)",
          "a typed violation or a clean run, the flow consistent, the checkpoint loads "
          "back; `feed_sse` and `json.loads` keep the last of duplicate keys alike",
          "tests/test_typefuzz_keys.py::"
          "test_no_untyped_exception_for_any_key_mutation_of_the_responses_families"),
    Proof("work", "Responses: thousands of tools, then thousands of calls",
          "a response listing 20,000 function tools, then 1,000 function calls (4.5 MB)",
          "the offered names are made once per tools list, not at every call: 0.36 s to "
          "feed (0.21 s without the tools; it was 4.64 s); `unknown_tool` as before",
          "tests/test_tools_offered.py::test_the_offered_names_are_made_once_per_tools_list"),
    Proof("work", "Responses: thousands of function calls, each checked for a repeated call_id",
          "1,000 function calls in one response (the entity limit stops more)",
          "the call ids seen are kept on the response, not found again by walking the earlier "
          "items at every call: 34 µs a call at 1,000 calls (it was 164 µs, growing with "
          "the calls); `duplicate_call_id` as before",
          "tests/test_call_ids.py::test_the_earlier_items_are_not_walked_at_every_call"),
    Proof("cli", "stdin closed", "`runflow check -` with fd 0 closed",
          "exit 2, one line: `-: standard input is closed`",
          _CLI + "test_check_with_stdin_closed"),
    Proof("cli", "stdout on a full disk", "`check`, `replay`, `diagram` > `/dev/full`",
          "exit 2, one line: `cannot write the output: No space left on device`",
          _CLI + "test_stdout_on_a_full_disk"),
    Proof("cli", "bad port, negative `--cut-after`",
          "`serve --port 99999`, `demo --cut-after -5`",
          "exit 2, one line naming the argument and the value",
          _CLI + "test_bad_numbers_are_usage_errors"),
    Proof("cli", "port in use", "`serve --port` on a bound port",
          "exit 2 (not 3), one line: `the port is already in use`",
          _CLI + "test_serve_on_a_port_in_use"),
    Proof("cli", "a JSON object body", "a `thread.run` object where a stream was expected",
          "exit 2, one line: `… not an event stream: did the server ignore stream=true?`",
          _CLI + "test_a_json_object_body_is_named"),
    Proof("nesting", "deep JSON in a recording", "a `.jsonl` line nested 100,000 deep",
          "`check --json`: `malformed_event` naming line 2, exit 1; the flow goes on",
          _CLI + "test_a_deeply_nested_line_is_a_violation_naming_its_line"),
    Proof("nesting", "deep JSON through `record`", "event data nested 100,000 deep",
          "`record` keeps it as text, no `RecursionError`",
          _CLI + "test_record_keeps_deeply_nested_data_as_text"),
    Proof("encoding", "`check --json` of an undecodable name", "a file name that is not UTF-8",
          "valid UTF-8 JSON (U+FFFD), a one-line warning on stderr", _CLI
          + "test_check_json_output_is_valid_utf8_for_an_undecodable_file_name"),
    Proof("encoding", "NaN in `--json` output", "a result holding `NaN` written as JSON",
          "one-line error, nothing printed (never `NaN` on stdout)",
          _CLI + "test_non_finite_numbers_are_refused_not_printed"),
    Proof("layers", "a status of any JSON", "`status: {…}` or `[…]` in a response, item "
          "or run object", "`check`: `malformed_event`, exit 1; the payload and order layers "
          "take it (both protocols)",
          _ROUND2 + "test_check_takes_a_run_status_of_any_json"),
    Proof("layers", "a 400-digit timestamp", "`created_at: 10**400` in a played recording",
          "`watch` paces it as no timestamp; the flow's violations, exit 1",
          _ROUND2 + "test_watch_plays_a_recording_with_a_400_digit_timestamp"),
    Proof("layers", "an object the flow cannot recover", "`watch --response` reads a "
          "response whose `status` is an object", "exit 2, one line: `… does not fit the "
          "flow: …`",
          _ROUND2 + "test_watch_says_in_one_line_when_the_server_sends_what_cannot_be_recovered"),
    Proof("layers", "the types layer: a 1 MiB `type` tag, a 1 MiB key",
          "`part.annotations[0].type` of 1 MiB of emoji; `response.metadata` with a 1 MiB "
          "key (found by the type fuzz's run of `check --types`' layer)",
          "one `types.*` warning at the event, its message under 1,000 characters (they were "
          "262,455 and 2,097,265): the key cut to 60, pydantic's message (it held the tag) cut "
          "in its middle", "tests/test_typefuzz_types.py::"
          "test_a_1_mib_type_tag_gives_a_message_of_bounded_size"),
    Proof("orchestrator", "unserialisable tool result",
          "a circular list, a raising `__str__`, a lone surrogate, NaN",
          "the `on_tool_error` path: an error output submitted, or `ToolError`",
          _DRIVE + "test_an_unsendable_result_is_a_tool_error"),
    Proof("orchestrator", "reset after submit",
          "a proxy resets the connection after the server got `submit_tool_outputs`",
          "outputs submitted exactly once, reconciled over REST; run `completed`",
          "tests/test_exactly_once.py::test_drive_submits_once_through_a_reset"),
    Proof("orchestrator", "keep-alive-only server", "a stream of `: keep-alive` comments only",
          "`RunTimeout` at the idle timeout / deadline",
          "tests/test_deadline.py::test_drive_ends_an_endless_stream"),
)


# --------------------------------------------------------------------------- #
# running and rendering
# --------------------------------------------------------------------------- #
def run_case(case: Case) -> Result:
    """Run one case; cases with a bound are measured with ``tracemalloc``."""
    if case.bound is None:
        return Result(case, case.feed(), None)
    tracemalloc.start()
    try:
        outcome = case.feed()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Result(case, outcome, peak)


def run_cases() -> list[Result]:
    return [run_case(case) for case in CASES]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(results: list[Result]) -> str:
    """The README block: one row per case (what runflow answered), then the rows
    proved by tests elsewhere. Deterministic: peaks show only as under/over."""
    lines = [*render_growths(growths()), "",
             "| why | case | input | what runflow answers | peak memory (tracemalloc) |",
             "|---|---|---|---|---|"]
    for r in results:
        answer = r.outcome.answer if r.answered else (
            f"**WRONG:** {r.outcome.answer} (expected: {r.case.expect})")
        bound = r.case.bound
        memory = "—" if bound is None else (
            f"{'<' if r.bounded else '**OVER**'} {bound.text}")
        lines.append("| " + " | ".join(_cell(c) for c in (
            WHY[r.case.why], r.case.name, r.case.input, answer, memory)) + " |")
    lines += ["", "| why | case | input | what runflow answers | proved by |",
              "|---|---|---|---|---|"]
    for p in PROVED_ELSEWHERE:
        lines.append("| " + " | ".join(_cell(c) for c in (
            WHY[p.why], p.name, p.input, p.answer, f"`{p.test}`")) + " |")
    return "\n".join(lines) + "\n"


def hostile_table() -> str:
    """Run every case and render the table (about 10 s)."""
    return render(run_cases())


BEGIN, END = "<!-- hostile:begin -->", "<!-- hostile:end -->"
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(text: str) -> str | None:
    """The text between the markers of the README, or None without them."""
    if BEGIN not in text or END not in text:
        return None
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n") + "\n"


def write_readme(table: str, path: Path = README) -> None:
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{table}{END}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    table = hostile_table()
    if args == ["--write"]:
        write_readme(table)
        print(f"wrote the hostile-input table to {README}")
    elif not args:
        print(table, end="")
    else:
        print("usage: python -m runflow.testing.hostile [--write]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
