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
from runflow.testing.hostile_proofs import PROVED_ELSEWHERE
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
