"""Every violation rule, triggered from a real recording by one small mutation.

Each case names a real capture, one mutation (drop, duplicate, move, swap, cut,
change an id, a field or a status) and the exact violations it must produce:
code, severity, index and entity. The unmutated recordings are clean
(``test_baseline_is_clean``), so each violation is caused by the mutation alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import jsonl_files, load_events
from helpers import feed_all, text_of
from mutations import (
    Event,
    cut,
    drop,
    duplicate,
    insert,
    move,
    rename_event,
    replace_id,
    set_field,
    set_status,
    swap,
)

from runflow import RULES, Code, Limits, RunFlow

TEXT = "dotnet_text_answer.jsonl"
ACTION = "dotnet_create_and_run_function_requires_action.jsonl"
CONTINUATION = "dotnet_function_call_continuation.jsonl"
CITATION = "dotnet_file_search_file_citation.jsonl"
IMAGE = "simpleopenai_create_and_run_code_interpreter_image_v1_2024.jsonl"
ERROR = "simpleopenai_EDITED_error_event_after_partial_message.jsonl"

# Ids in the recordings (checked by test_ids_match_the_recordings).
T_RUN = "run run_Uy45lNz2P7BpJcqWzQkXl1Bu"
T_STEP = "step step_MVHqdoguIjNIUNR3cl1ks8ka"
T_MSG = "message msg_Tn5DNmiQEPZ80biW5AukKrvH"
A_RUN = "run run_oyfV44CrJXYJkvb2qsd80LvJ"
A_STEP = "step step_9c9pSsTIsCYc1KeHEI6Ba34s"
A_CALL = "call_xyFYaEeyocjyE6jN64QTcxip"
C_MSG = "message msg_QKguDb0ERalCwX44IuQhxGAy"
I_STEP2 = "step step_Yl2hYV6BGU5QI08unSwIyvD1"
I_MSG2 = "message msg_UOyVcEBrOteUibAQdezvBHFG"

# Quirky recordings whose violations are real (see test_quirky_recordings).
QUIRKS = {
    "rubyopenai_message_incomplete_max_tokens_run_completed_2024.jsonl": [
        ("incomplete_details_on_completed", "warning", 24, "run run_JfK0BhNia1HnH28fIxropXLn"),
    ],
    "rubyopenai_message_incomplete_max_tokens_run_completed_event_status_incomplete_2024.jsonl": [
        ("status_mismatch", "warning", 24, "run run_B5f5IVSEP7Sa7tif3hCrtSbo"),
        ("incomplete_details_on_completed", "warning", 24, "run run_B5f5IVSEP7Sa7tif3hCrtSbo"),
    ],
    "simpleopenai_EDITED_file_search_step_deltas.jsonl": [
        ("snapshot_divergence", "error", 16, "message msg_m4GSludTAIAarjJgesKAFnJA"),
        ("snapshot_divergence", "error", 16, "message msg_m4GSludTAIAarjJgesKAFnJA"),
    ],
}

V = tuple[str, str, int, "str | None"]


def found(flow: RunFlow) -> list[V]:
    return [(v.code.value, v.severity, v.index, None if v.entity is None else str(v.entity))
            for v in flow.violations]


def data(event: Event) -> dict[str, Any]:
    d = event["data"]
    assert isinstance(d, dict)
    return d


# --------------------------------------------------------------------------- #
# baselines
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", [n for n in jsonl_files() if n not in QUIRKS])
def test_baseline_is_clean(name: str) -> None:
    events = load_events(name)
    flow = feed_all(events, close=True)
    assert found(flow) == []
    assert flow.event_count == len(events)
    final = "error" if events[-1]["event"] == "error" else "done"
    assert flow.ending == final


@pytest.mark.parametrize("name", sorted(QUIRKS))
def test_quirky_recordings(name: str) -> None:
    flow = feed_all(load_events(name), close=True)
    assert found(flow) == QUIRKS[name]
    assert flow.run_status == "completed"


def test_ids_match_the_recordings() -> None:
    text = load_events(TEXT)
    assert f"run {data(text[0])['id']}" == T_RUN
    assert f"step {data(text[3])['id']}" == T_STEP
    assert f"message {data(text[5])['id']}" == T_MSG
    action = load_events(ACTION)
    assert f"run {data(action[1])['id']}" == A_RUN
    assert f"step {data(action[4])['id']}" == A_STEP
    assert data(action[6])["delta"]["step_details"]["tool_calls"][0]["id"] == A_CALL
    assert f"message {data(load_events(CITATION)[9])['id']}" == C_MSG
    image = load_events(IMAGE)
    assert f"step {data(image[114])['id']}" == I_STEP2
    assert f"message {data(image[248])['id']}" == I_MSG2


def test_text_answer_layout() -> None:
    """The indices the cases below rely on."""
    names = [e["event"] for e in load_events(TEXT)]
    assert names[:7] == [
        "thread.run.created", "thread.run.queued", "thread.run.in_progress",
        "thread.run.step.created", "thread.run.step.in_progress",
        "thread.message.created", "thread.message.in_progress",
    ]
    assert set(names[7:40]) == {"thread.message.delta"}
    assert names[40:] == [
        "thread.message.completed", "thread.run.step.completed", "thread.run.completed", "done",
    ]
    names = [e["event"] for e in load_events(ACTION)]
    assert names == [
        "thread.created", "thread.run.created", "thread.run.queued", "thread.run.in_progress",
        "thread.run.step.created", "thread.run.step.in_progress", "thread.run.step.delta",
        "thread.run.step.delta", "thread.run.requires_action", "done",
    ]


# --------------------------------------------------------------------------- #
# the cases: one mutation each
# --------------------------------------------------------------------------- #
Mutate = Callable[[list[Event]], list[Event]]


@dataclass(frozen=True)
class Case:
    id: str
    recording: str
    mutate: Mutate
    expected: list[V]
    at: int | None = None
    """Index of the event the first violation is about (the rejected one)."""


def ended_as(status: str) -> Mutate:
    """Run.completed moved before the message's last events, renamed ``run.<status>``."""
    return lambda e: rename_event(move(e, 42, 40), 40, f"thread.run.{status}", status=status)


def _second_run(e: list[Event]) -> list[Event]:
    other = set_field(e, 0, "id", "run_other")[0]
    return insert(e, 3, other)


def _foreign_thread(e: list[Event]) -> list[Event]:
    other = set_field(e, 0, "id", "thread_other")[0]
    return insert(e, 1, other)


def _tool(path: str) -> str:
    return f"delta.step_details.tool_calls.0.{path}"


_LISTED = "required_action.submit_tool_outputs.tool_calls.0"


def _listed_twice(e: list[Event]) -> list[Event]:
    """requires_action lists its one call twice: two outputs would answer one id."""
    calls = e[8]["data"]["required_action"]["submit_tool_outputs"]["tool_calls"]
    return set_field(e, 8, "required_action.submit_tool_outputs.tool_calls",
                     [calls[0], calls[0]])


def _invalid_arguments_isolated(e: list[Event]) -> list[Event]:
    e = set_field(e, 7, _tool("function.arguments"), "{not json")
    return set_field(e, 8, f"{_LISTED}.function.arguments", "{not json")


def _cancelled_early(e: list[Event]) -> list[Event]:
    e = move(e, 42, 40)  # run.completed now at 40
    e = rename_event(e, 40, "thread.run.cancelled", status="cancelled")
    cancelling = rename_event(e, 40, "thread.run.cancelling", status="cancelling")[40]
    return insert(e, 40, cancelling)


CASES: list[Case] = [
    # -- unknown_entity ------------------------------------------------------
    Case("unknown_entity: step.created dropped", TEXT, lambda e: drop(e, 3), [
        ("unknown_entity", "error", 3, T_STEP),
        ("orphan_message", "warning", 4, T_MSG),
        ("unknown_entity", "error", 40, T_STEP),
    ], at=3),
    # -- duplicate_entity ----------------------------------------------------
    Case("duplicate_entity: message.created twice", TEXT, lambda e: duplicate(e, 5), [
        ("duplicate_entity", "error", 6, T_MSG),
    ], at=6),
    Case("duplicate_entity: step.created twice", TEXT, lambda e: duplicate(e, 3), [
        ("duplicate_entity", "error", 4, T_STEP),
    ], at=4),
    Case("duplicate_entity: run.created twice", TEXT, lambda e: duplicate(e, 0), [
        ("duplicate_entity", "error", 1, T_RUN),
    ], at=1),
    Case("duplicate_entity: thread.created twice", ACTION, lambda e: duplicate(e, 0), [
        ("duplicate_entity", "error", 1, "thread thread_6oUGUBxLwhyApwhYBhWjHI5f"),
    ], at=1),
    # -- invalid_transition --------------------------------------------------
    Case("invalid_transition: delta to a completed message", TEXT,
         lambda e: duplicate(e, 39, to=41), [
             ("invalid_transition", "error", 41, T_MSG),
         ], at=41),
    Case("invalid_transition: step completed twice", TEXT, lambda e: duplicate(e, 41), [
        ("invalid_transition", "error", 42, T_STEP),
    ], at=42),
    Case("invalid_transition: run completed twice", TEXT, lambda e: duplicate(e, 42), [
        ("invalid_transition", "error", 43, T_RUN),
    ], at=43),
    Case("invalid_transition: run.in_progress after run.completed", TEXT,
         lambda e: duplicate(e, 2, to=43), [
             ("invalid_transition", "error", 43, T_RUN),
         ], at=43),
    Case("invalid_transition: message.in_progress after message.completed", TEXT,
         lambda e: duplicate(e, 6, to=41), [
             ("invalid_transition", "error", 41, T_MSG),
         ], at=41),
    Case("invalid_transition: run.in_progress twice", TEXT, lambda e: duplicate(e, 2), [
        ("invalid_transition", "error", 3, T_RUN),
    ], at=3),
    # -- foreign_entity ------------------------------------------------------
    Case("foreign_entity: step of another run", TEXT,
         lambda e: set_field(e, 4, "run_id", "run_other"), [
             ("foreign_entity", "error", 4, T_STEP),
         ], at=4),
    Case("foreign_entity: message of another thread", TEXT,
         lambda e: set_field(e, 6, "thread_id", "thread_other"), [
             ("foreign_entity", "error", 6, T_MSG),
         ], at=6),
    Case("foreign_entity: a second run", TEXT, _second_run, [
        ("foreign_entity", "error", 3, "run run_other"),
    ], at=3),
    Case("foreign_entity: a second thread", ACTION, _foreign_thread, [
        ("foreign_entity", "error", 1, "thread thread_other"),
    ], at=1),
    Case("foreign_entity: run of another thread", TEXT,
         lambda e: set_field(e, 1, "thread_id", "thread_other"), [
             ("foreign_entity", "error", 1, T_RUN),
         ], at=1),
    # -- event_after_terminal ------------------------------------------------
    Case("event_after_terminal: message.completed after run.completed", TEXT,
         lambda e: duplicate(e, 40, to=43), [
             ("event_after_terminal", "error", 43, T_MSG),
         ], at=43),
    Case("event_after_terminal: message delta after run.completed", TEXT,
         lambda e: duplicate(e, 39, to=43), [
             ("event_after_terminal", "error", 43, T_MSG),
         ], at=43),
    Case("event_after_terminal: step.created after run.completed", TEXT,
         lambda e: duplicate(e, 3, to=43), [
             ("event_after_terminal", "error", 43, T_STEP),
         ], at=43),
    # -- out_of_order --------------------------------------------------------
    Case("out_of_order: thread.created after thread.run.created", ACTION,
         lambda e: swap(e, 0, 1), [
             ("out_of_order", "error", 1, "thread thread_6oUGUBxLwhyApwhYBhWjHI5f"),
         ]),
    Case("out_of_order: a step created while another is open",
         "dotnet_file_search_file_citation.jsonl", lambda e: swap(e, 6, 7), [
             ("out_of_order", "error", 6, "step step_hmYOAd1Lb8Bx9qzQJRN3Se63"),
         ]),
    Case("children_open_at_terminal: message_creation step completed before its message",
         TEXT, lambda e: swap(e, 40, 41), [
             ("children_open_at_terminal", "error", 40, T_MSG),
         ]),
    # -- children_open_at_terminal -------------------------------------------
    Case("children_open_at_terminal: run.completed before message.completed", TEXT,
         lambda e: move(e, 42, 40), [
             ("children_open_at_terminal", "error", 40, T_STEP),
             ("children_open_at_terminal", "error", 40, T_MSG),
             ("event_after_terminal", "error", 41, T_MSG),
             ("event_after_terminal", "error", 42, T_STEP),
         ], at=41),
    *[
        Case(f"children_open_at_terminal: run.{status} is a warning", TEXT,
             ended_as(status), [
                 ("children_open_at_terminal", "warning", 40, T_STEP),
                 ("children_open_at_terminal", "warning", 40, T_MSG),
                 ("event_after_terminal", "error", 41, T_MSG),
                 ("event_after_terminal", "error", 42, T_STEP),
             ], at=41)
        for status in ("failed", "expired", "incomplete")
    ],
    Case("children_open_at_terminal: run.cancelled is a warning", TEXT, _cancelled_early, [
        ("children_open_at_terminal", "warning", 41, T_STEP),
        ("children_open_at_terminal", "warning", 41, T_MSG),
        ("event_after_terminal", "error", 42, T_MSG),
        ("event_after_terminal", "error", 43, T_STEP),
    ], at=42),
    # -- content_index_gap ---------------------------------------------------
    Case("content_index_gap: message part index skips ahead", TEXT,
         lambda e: set_field(e, 8, "delta.content.0.index", 2), [
             ("content_index_gap", "error", 8, T_MSG),
             ("snapshot_divergence", "error", 40, T_MSG),  # the rejected "!" is missing
         ], at=8),
    Case("content_index_gap: tool call index skips ahead", ACTION,
         lambda e: set_field(e, 7, _tool("index"), 2), [
             ("content_index_gap", "error", 7, A_STEP),
             # the rejected delta carried the arguments requires_action lists
             ("tool_calls_mismatch", "error", 8, A_RUN),
         ], at=7),
    Case("content_index_gap: code_interpreter output index skips ahead", IMAGE,
         lambda e: set_field(e, 244, _tool("code_interpreter.outputs.0.index"), 1), [
             ("content_index_gap", "error", 244, I_STEP2),
             # the rejected output is missing when the server's final step lists it
             ("snapshot_divergence", "error", 245, I_STEP2),
         ], at=244),
    # -- type_change ---------------------------------------------------------
    Case("type_change: message part text -> refusal", TEXT,
         lambda e: set_field(e, 8, "delta.content.0.type", "refusal"), [
             ("type_change", "error", 8, T_MSG),
             ("snapshot_divergence", "error", 40, T_MSG),
         ], at=8),
    Case("type_change: message part text -> image_file", IMAGE,
         lambda e: set_field(e, 251, "delta.content.0.index", 0), [
             ("type_change", "error", 251, I_MSG2),
             ("snapshot_divergence", "error", 289, I_MSG2),
         ], at=251),
    Case("type_change: tool call function -> code_interpreter", ACTION,
         lambda e: set_field(e, 7, _tool("type"), "code_interpreter"), [
             ("type_change", "error", 7, A_STEP),
             ("tool_calls_mismatch", "error", 8, A_RUN),
         ], at=7),
    Case("type_change: step_details tool_calls -> message_creation", ACTION,
         lambda e: set_field(e, 7, "delta.step_details.type", "message_creation"), [
             ("type_change", "error", 7, A_STEP),
             ("tool_calls_mismatch", "error", 8, A_RUN),
         ], at=7),
    # -- id_change -----------------------------------------------------------
    Case("id_change: tool call id changes", ACTION,
         lambda e: set_field(e, 7, _tool("id"), "call_other"), [
             ("id_change", "error", 7, A_STEP),
             ("tool_calls_mismatch", "error", 8, A_RUN),
         ], at=7),
    # -- tool_calls_mismatch -------------------------------------------------
    Case("tool_calls_mismatch: requires_action lists another call id", ACTION,
         lambda e: set_field(e, 8, f"{_LISTED}.id", "call_other"), [
             ("tool_calls_mismatch", "error", 8, A_RUN),
         ]),
    Case("tool_calls_mismatch: requires_action lists no call", ACTION,
         lambda e: set_field(e, 8, "required_action.submit_tool_outputs.tool_calls", []), [
             ("tool_calls_mismatch", "error", 8, A_RUN),
         ]),
    Case("tool_calls_mismatch: requires_action lists one call twice", ACTION,
         _listed_twice, [("tool_calls_mismatch", "error", 8, A_RUN)]),
    Case("tool_calls_mismatch: requires_action names another function", ACTION,
         lambda e: set_field(e, 8, f"{_LISTED}.function.name", "get_time"), [
             ("tool_calls_mismatch", "error", 8, A_RUN),
         ]),
    # -- invalid_tool_arguments ----------------------------------------------
    Case("invalid_tool_arguments: requires_action arguments not JSON", ACTION,
         lambda e: set_field(e, 8, f"{_LISTED}.function.arguments", "{not json"), [
             ("invalid_tool_arguments", "warning", 8, f"tool call {A_CALL}"),
             ("tool_calls_mismatch", "error", 8, A_RUN),  # differs from the streamed "{}"
         ]),
    Case("invalid_tool_arguments: streamed and listed arguments not JSON", ACTION,
         _invalid_arguments_isolated, [
             ("invalid_tool_arguments", "warning", 8, f"tool call {A_CALL}"),
         ]),
    # -- status_mismatch -----------------------------------------------------
    Case("status_mismatch: step.completed says in_progress", TEXT,
         lambda e: set_status(e, 41, "in_progress"), [
             ("status_mismatch", "warning", 41, T_STEP),
         ]),
    Case("status_mismatch: message.completed says incomplete", TEXT,
         lambda e: set_status(e, 40, "incomplete"), [
             ("status_mismatch", "warning", 40, T_MSG),
         ]),
    Case("status_mismatch: run.queued says in_progress", TEXT,
         lambda e: set_status(e, 1, "in_progress"), [
             ("status_mismatch", "warning", 1, T_RUN),
         ]),
    # -- incomplete_details_on_completed -------------------------------------
    Case("incomplete_details_on_completed", TEXT,
         lambda e: set_field(e, 42, "incomplete_details", {"reason": "max_prompt_tokens"}), [
             ("incomplete_details_on_completed", "warning", 42, T_RUN),
         ]),
    # -- done_before_final ---------------------------------------------------
    Case("done_before_final: run.completed dropped", TEXT, lambda e: drop(e, 42), [
        ("done_before_final", "error", 42, T_RUN),
    ]),
    Case("done_before_final: requires_action dropped", ACTION, lambda e: drop(e, 8), [
        ("done_before_final", "error", 8, A_RUN),
    ]),
    # -- event_after_done ----------------------------------------------------
    Case("event_after_done: done twice", TEXT, lambda e: duplicate(e, 43), [
        ("event_after_done", "error", 44, None),
    ]),
    Case("event_after_done: run.completed after done", TEXT, lambda e: swap(e, 42, 43), [
        ("done_before_final", "error", 42, T_RUN),
        ("event_after_done", "error", 43, None),
    ]),
    # -- event_after_error ---------------------------------------------------
    Case("event_after_error: a delta after error", ERROR,
         lambda e: duplicate(e, 61, to=63), [
             ("event_after_error", "error", 63, None),
         ]),
    # -- truncated -----------------------------------------------------------
    Case("truncated: final done cut", TEXT, lambda e: cut(e, 43), [
        ("truncated", "error", 43, None),
    ]),
    Case("truncated: cut mid-message", TEXT, lambda e: cut(e, 20), [
        ("truncated", "error", 20, None),
    ]),
    Case("truncated: requires_action stream cut before done", ACTION, lambda e: cut(e, 9), [
        ("truncated", "error", 9, None),
    ]),
    # -- unknown_event -------------------------------------------------------
    Case("unknown_event: unknown event name", TEXT,
         lambda e: rename_event(e, 6, "thread.message.reviewed"), [
             ("unknown_event", "warning", 6, None),
         ], at=6),
    # -- orphan_message ------------------------------------------------------
    Case("orphan_message: message_creation step names another message", TEXT,
         lambda e: replace_id(e, T_MSG.split()[1], "msg_other", indices=[3, 4, 41]), [
             ("orphan_message", "warning", 5, T_MSG),
         ]),
    # -- run_not_in_progress -------------------------------------------------
    Case("run_not_in_progress: step delta after requires_action", ACTION,
         lambda e: swap(e, 7, 8), [
             ("tool_calls_mismatch", "error", 7, A_RUN),
             ("run_not_in_progress", "error", 8, A_STEP),
         ], at=8),
    Case("run_not_in_progress: step.created before run.in_progress", TEXT,
         lambda e: swap(e, 2, 3), [
             ("run_not_in_progress", "error", 2, T_STEP),
             ("unknown_entity", "error", 4, T_STEP),
             ("orphan_message", "warning", 5, T_MSG),
             ("unknown_entity", "error", 41, T_STEP),
         ], at=2),
    Case("run_not_in_progress: message.created while the run is queued", TEXT,
         lambda e: duplicate(e, 5, to=2), [
             ("run_not_in_progress", "error", 2, T_MSG),
         ], at=2),
    # -- snapshot_divergence -------------------------------------------------
    Case("snapshot_divergence: final text differs from the deltas", TEXT,
         lambda e: set_field(e, 40, "content.0.text.value", "Goodbye"), [
             ("snapshot_divergence", "error", 40, T_MSG),
         ]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(case: Case) -> None:
    original = load_events(case.recording)
    events = case.mutate(original)
    assert events != original
    flow = feed_all(events, close=True)
    assert found(flow) == case.expected
    for v in flow.violations:
        assert v.severity == RULES[v.code].severity or v.code is Code.CHILDREN_OPEN_AT_TERMINAL
        assert v.message
    # the mutation helpers never touch their input
    assert original == load_events(case.recording)


def test_every_code_is_covered() -> None:
    codes = {v[0] for case in CASES for v in case.expected}
    covered_elsewhere = {"malformed_event", "limit_exceeded",  # test_bad_input / below
                         "internal_error"}  # test_engine_errors
    from test_responses_rules import CASES as RESPONSES_CASES

    responses = {v[0] for case in RESPONSES_CASES for v in case.expected}
    responses.add("event_name_mismatch")  # test_responses_rules: SSE framing
    assert codes | covered_elsewhere | responses == {c.value for c in Code}


# --------------------------------------------------------------------------- #
# what the violations leave behind
# --------------------------------------------------------------------------- #
def test_unknown_delta_entity_cannot_be_adopted() -> None:
    events = drop(load_events(TEXT), 5)  # message.created dropped
    flow = feed_all(events, close=True)
    assert {v.code for v in flow.violations} == {Code.UNKNOWN_ENTITY}
    assert [v.index for v in flow.violations] == list(range(5, 40))
    assert all(v.entity == T_MSG for v in flow.violations)
    assert flow.message_states == {}
    assert flow.run_status == "completed"


def test_children_open_leaves_children_in_progress() -> None:
    flow = feed_all(move(load_events(TEXT), 42, 40), close=True)
    assert flow.run_status == "completed"
    assert flow.step_states == {T_STEP.split()[1]: "in_progress"}
    assert flow.message_states == {T_MSG.split()[1]: "in_progress"}


def test_status_mismatch_follows_the_event_name() -> None:
    step_id = T_STEP.split()[1]
    flow = feed_all(set_status(load_events(TEXT), 41, "in_progress"), close=True)
    assert flow.step_state(step_id) == "completed"
    assert flow.step(step_id).status == "completed"


def test_snapshot_divergence_keeps_the_server_value() -> None:
    msg_id = T_MSG.split()[1]
    flow = feed_all(set_field(load_events(TEXT), 40, "content.0.text.value", "Goodbye"), close=True)
    content = flow.message(msg_id).content[0]
    assert content.type == "text"
    assert content.text.value == "Goodbye"


def test_truncated_index_is_the_number_of_events() -> None:
    events = cut(load_events(TEXT), 30)
    flow = RunFlow()
    for e in events:
        flow.feed(e)
    assert flow.violations == []
    assert flow.close() == "truncated"
    (v,) = flow.violations
    assert (v.code, v.index, v.event, v.entity) == (Code.TRUNCATED, len(events), None, None)
    assert flow.run_status == "in_progress"
    # closing again does not report it twice
    assert flow.close() == "truncated"
    assert len(flow.violations) == 1


def test_unknown_event_is_ignored_and_counted() -> None:
    events = rename_event(load_events(TEXT), 6, "thread.message.reviewed")
    flow = feed_all(events, close=True)
    assert flow.event_count == len(events)
    assert flow.message_state(T_MSG.split()[1]) == "completed"
    assert flow.ok


def test_done_before_final_ends_the_stream() -> None:
    flow = feed_all(drop(load_events(TEXT), 42), close=True)
    assert flow.ending == "done"
    assert flow.run_status == "in_progress"


def test_limit_exceeded_stops_the_message_growing() -> None:
    msg_id = T_MSG.split()[1]
    events = load_events(TEXT)
    flow = RunFlow(limits=Limits(max_message_chars=10))
    grown = []
    for i, e in enumerate(events):
        flow.feed(e)
        if i in (9, 10, 11):
            grown.append(text_of(flow.message(msg_id).content[0]))
    flow.close()
    # "Hello" "!" " I'm" is 10 characters; " just" would pass the limit
    assert found(flow) == [("limit_exceeded", "error", 10, T_MSG)]
    assert grown == ["Hello! I'm", "Hello! I'm", "Hello! I'm"]
    assert flow.message_state(msg_id) == "completed"


def test_limit_exceeded_on_tool_arguments() -> None:
    events = set_field(load_events(ACTION), 7, _tool("function.arguments"), '{"city": "Paris"}')
    events = set_field(events, 8, f"{_LISTED}.function.arguments", '{"city": "Paris"}')
    assert found(feed_all(events, close=True)) == []
    # the first delta keeps 49 characters (call id, name, a null output); the
    # arguments' 17 would pass 60
    flow = feed_all(events, limits=Limits(max_tool_chars=60), close=True)
    assert found(flow)[0] == ("limit_exceeded", "error", 7, A_STEP)


# --------------------------------------------------------------------------- #
# one run over two streams, and adoption
# --------------------------------------------------------------------------- #
def test_two_streams_in_one_flow_are_clean() -> None:
    first, second = load_events(ACTION), load_events(CONTINUATION)
    flow = RunFlow()
    for e in first:
        flow.feed(e)
    assert flow.run_status == "requires_action"
    assert flow.ending == "done"
    assert flow.close() == "done"
    step_id = A_STEP.split()[1]
    assert flow.step_state(step_id) == "in_progress"
    for e in second:
        flow.feed(e)
    assert flow.close() == "done"
    assert found(flow) == []
    assert flow.event_count == len(first) + len(second)
    assert flow.run_status == "completed"
    assert set(flow.step_states.values()) == {"completed"}
    assert len(flow.step_states) == 2
    assert set(flow.message_states.values()) == {"completed"}
    call = flow.step(step_id).step_details
    assert call.type == "tool_calls"
    assert call.tool_calls[0].type == "function"
    assert call.tool_calls[0].function.output == "warm and sunny"


def test_second_stream_after_a_completed_run_is_event_after_done() -> None:
    flow = feed_all([*load_events(TEXT), *load_events(TEXT)[:1]], close=True)
    assert found(flow)[:2] == [
        ("event_after_done", "error", 44, None),
        ("duplicate_entity", "error", 44, T_RUN),
    ]


def test_continuation_alone_is_adopted() -> None:
    events = load_events(CONTINUATION)
    flow = feed_all(events, close=True)
    assert found(flow) == []
    assert flow.run_status == "completed"
    assert flow.step_state(A_STEP.split()[1]) == "completed"
    assert flow.run_id == A_RUN.split()[1]


def test_adoption_stops_once_the_run_is_seen() -> None:
    """A step first seen through step.completed is adopted only while the run is
    unseen: the same event after run.queued is an unknown_entity."""
    events = move(load_events(CONTINUATION), 0, 3)  # after run.queued, run.in_progress
    assert events[2]["event"] == "thread.run.step.completed"
    flow = feed_all(events, close=True)
    assert found(flow) == [("unknown_entity", "error", 2, A_STEP)]
    assert A_STEP.split()[1] not in flow.step_states


# --------------------------------------------------------------------------- #
# a rejected event changes nothing
# --------------------------------------------------------------------------- #
def observe(flow: RunFlow) -> dict[str, Any]:
    """States and snapshot dumps, through the public query API."""
    run = flow.run
    return {
        "run_status": flow.run_status,
        "steps": flow.step_states,
        "messages": flow.message_states,
        "run_id": flow.run_id,
        "thread_id": flow.thread_id,
        "run": run.model_dump(mode="json", warnings=False) if run is not None else None,
        "step": {i: flow.step(i).model_dump(mode="json", warnings=False)
                 for i in flow.step_states},
        "message": {i: flow.message(i).model_dump(mode="json", warnings=False)
                    for i in flow.message_states},
    }


REJECTING = [c for c in CASES if c.at is not None]

# More rejections that leave partial work behind if a check ran too late.
ATOMIC: list[Case] = [
    Case("a two-part delta whose second part skips ahead", IMAGE,
         lambda e: set_field(e, 250, "delta.content.1.index", 2), [], at=250),
    Case("a two-part delta whose second part changes type", IMAGE,
         lambda e: set_field(e, 251, "delta.content", [
             {"index": 1, "type": "text", "text": {"value": "The"}},
             {"index": 0, "type": "text", "text": {"value": "x"}},
         ]), [], at=251),
    Case("a delta with an annotation index gap", CITATION,
         lambda e: set_field(e, 18, "delta.content.0.text.annotations.0.index", 1), [], at=18),
]


@pytest.mark.parametrize("case", REJECTING + ATOMIC, ids=[c.id for c in REJECTING + ATOMIC])
def test_rejected_event_changes_nothing(case: Case) -> None:
    assert case.at is not None
    events = case.mutate(load_events(case.recording))
    flow = RunFlow()
    for e in events[: case.at]:
        flow.feed(e)
    before = observe(flow)
    new = flow.feed(events[case.at])
    assert new, "the mutated event must produce a violation"
    assert all(RULES[v.code].rejects for v in new)
    assert all(v.index == case.at for v in new)
    assert observe(flow) == before
    assert flow.event_count == case.at + 1


def test_rejected_delta_does_not_reach_the_text() -> None:
    events = set_field(load_events(TEXT), 8, "delta.content.0.index", 2)
    flow = RunFlow()
    for e in events[:10]:
        flow.feed(e)
    assert text_of(flow.message(T_MSG.split()[1]).content[0]) == "Hello I'm"


@pytest.mark.parametrize(
    ("recording", "mutate", "ending"),
    [
        (TEXT, lambda e: swap(e, 42, 43), "done"),
        (TEXT, lambda e: duplicate(e, 42, to=44), "done"),
        (ERROR, lambda e: duplicate(e, 61, to=63), "error"),
    ],
    ids=["run.completed after done", "run event after done", "delta after error"],
)
def test_events_after_the_end_are_not_a_truncation(
    recording: str, mutate: Mutate, ending: str
) -> None:
    """Events after a done (not in requires_action) or after an error do not open a
    new stream: the input did end with done/error, so it is not ``truncated``."""
    flow = feed_all(mutate(load_events(recording)))
    assert flow.close() == ending
    assert "truncated" not in {v.code.value for v in flow.violations}
