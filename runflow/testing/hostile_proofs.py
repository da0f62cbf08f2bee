"""The rows of the hostile-input catalogue proved by a test elsewhere.

:mod:`runflow.testing.hostile` runs its own cases in process; these rows need a
process, a server, a command line or a long run, so each names the test that proves
it (``tests/FILE.py::test_function``), and the catalogue's table shows them beside
its own.
"""

from __future__ import annotations

from runflow.testing.hostile_model import Proof

__all__ = ["PROVED_ELSEWHERE"]

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
