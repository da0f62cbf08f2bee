"""Each rule of the Responses definition, shown on a real capture changed in one place.

A case names the capture, the change and exactly the violations (code, severity,
event index) the flow reports; quirks of real servers (data-only frames, ``data:``
before ``event:``, heartbeats, unknown events and items) are accepted.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from test_responses import fed, found, load

from runflow import Limits
from runflow.engine.violations import RULES, Code
from runflow.protocols.responses.flow import ResponseFlow, UnknownItem

TEXT = "openaidotnet_hello_text_gpt4omini.sse"
"""17 events: created 0, in_progress 1, item added 2, part added 3, deltas 4-12,
text done 13, part done 14, item done 15, completed 16."""
CALLS = "mirascope_parallel_function_calls_gpt4o.sse"
"""22 events: two function_call items, at 2-11 and 12-20; completed 21."""
REASONING = "pydanticai_reasoning_summary_o3mini.sse"

Events = list[dict[str, Any]]
Changed = Sequence[dict[str, Any] | Literal["[DONE]"]]
"""A case's events once changed: ``"[DONE]"`` stands for the stream's end marker."""


def at(events: Events, index: int, **changes: Any) -> Events:
    out = copy.deepcopy(events)
    out[index].update(changes)
    return out


def without(events: Events, *indices: int) -> Events:
    return [e for i, e in enumerate(events) if i not in indices]


def renumbered(events: Events) -> Events:
    out = copy.deepcopy(events)
    for i, e in enumerate(out):
        e["sequence_number"] = i
    return out


def moved(events: Events, src: int, dest: int) -> Events:
    out = copy.deepcopy(events)
    out.insert(dest, out.pop(src))
    return renumbered(out)


def same_call_id(events: Events) -> Events:
    """The second function call (added at 12) takes the first's call_id everywhere."""
    first, second = (events[i]["item"]["call_id"] for i in (2, 12))
    out: Events = json.loads(json.dumps(events).replace(second, first))
    return out


def rotate_ids(events: Events) -> Events:
    """GitHub Copilot's quirk: every event names its item with a fresh id."""
    out = copy.deepcopy(events)
    for i, e in enumerate(out):
        if "item_id" in e:
            e["item_id"] = f"rot_{i}"
    return out


def interleave(events: Events) -> Events:
    """OpenRouter's quirk: the first item stays open while the second streams."""
    out = copy.deepcopy(events)
    first_done = next(i for i, e in enumerate(out) if e["type"] == "response.output_item.done")
    out.insert(20, out.pop(first_done))
    return renumbered(out)


@dataclass
class Case:
    id: str
    capture: str
    change: Callable[[Events], Changed]
    expected: list[tuple[str, str, int]]
    status: str = "completed"
    options: dict[str, Any] | None = None


CASES = [
    # -- sequence numbers ---------------------------------------------------
    Case("sequence_gap: two numbers skipped", TEXT,
         lambda e: [*e[:5], *({**x, "sequence_number": x["sequence_number"] + 2} for x in e[5:])],
         [("sequence_gap", "error", 5)]),
    Case("sequence_gap: an event without a number among numbered ones", TEXT,
         lambda e: [*e[:5], {k: v for k, v in e[5].items() if k != "sequence_number"}, *e[6:]],
         [("sequence_gap", "error", 5), ("sequence_gap", "error", 6)]),
    Case("replay: an event repeated is dropped, not applied twice", TEXT,
         lambda e: [*e[:6], e[5], *e[6:]], []),
    Case("malformed_event: a sequence number that is not a number", TEXT,
         lambda e: at(e, 5, sequence_number="5"),
         # the rejected event's number is unknown, so the next one looks like a gap
         [("malformed_event", "error", 5), ("sequence_gap", "error", 6),
          ("snapshot_divergence", "error", 13)]),
    # -- the order of the stream --------------------------------------------
    Case("out_of_order: a fresh stream that does not begin with response.created", TEXT,
         lambda e: renumbered(e[1:]), [("out_of_order", "error", 0)]),
    Case("done_before_final: [DONE] before the terminal event", TEXT,
         lambda e: [*e[:16], "[DONE]", e[16]],
         [("done_before_final", "error", 16), ("event_after_done", "error", 17)],
         status="completed"),
    Case("truncated: the stream stops before its terminal event", TEXT,
         lambda e: e[:15], [("truncated", "error", 15)], status="in_progress"),
    Case("event_after_terminal: a part added after the response completed", TEXT,
         lambda e: [*e, {**e[3], "sequence_number": 17}],
         [("event_after_terminal", "error", 17)]),
    Case("invalid_transition: a second terminal event", TEXT,
         lambda e: [*e, {**e[16], "sequence_number": 17}],
         [("invalid_transition", "error", 17)]),
    # -- items ----------------------------------------------------------------
    Case("content_index_gap: the second item added at output_index 2", CALLS,
         lambda e: [*e[:12], {**e[12], "output_index": 2}, *e[13:]],
         [("content_index_gap", "error", 12), ("unknown_entity", "error", 13),
          ("unknown_entity", "error", 14), ("unknown_entity", "error", 15),
          ("unknown_entity", "error", 16), ("unknown_entity", "error", 17),
          ("unknown_entity", "error", 18), ("unknown_entity", "error", 19),
          ("unknown_entity", "error", 20), ("output_mismatch", "warning", 21)]),
    Case("duplicate_entity: an item added twice at one output_index", TEXT,
         lambda e: [*e[:3], {**e[2], "sequence_number": 3}, *renumbered(e)[3:]][:3]
         + renumbered([*e[:3], e[2], *e[3:]])[3:],
         [("duplicate_entity", "error", 3)]),
    Case("type_change: output_item.done says the message is a function call", TEXT,
         lambda e: at(e, 15, item={**e[15]["item"], "type": "function_call"}),
         [("type_change", "error", 15), ("children_open_at_terminal", "error", 16)]),
    Case("items_interleaved: an item added before the previous one is done", CALLS,
         interleave, [("items_interleaved", "warning", 11)]),
    Case("item_id_mismatch: item ids rotate on every event (GitHub Copilot)", CALLS,
         lambda e: rotate_ids(e)[:6] + e[6:],
         [("item_id_mismatch", "warning", i) for i in range(3, 6)]),
    Case("children_open_at_terminal: the response completes with an item open", TEXT,
         lambda e: renumbered(without(e, 15)),
         [("children_open_at_terminal", "error", 15)]),
    Case("children_open_at_terminal: an item ends with its part open", TEXT,
         lambda e: renumbered(without(e, 14)),
         [("children_open_at_terminal", "error", 14)]),
    Case("out_of_order: an incomplete item that is not the last", CALLS,
         lambda e: at(e, 11, item={**e[11]["item"], "status": "incomplete"}),
         # and the terminal output still calls that item completed
         [("out_of_order", "error", 21), ("output_mismatch", "error", 21)]),
    Case("output_mismatch: the final output names other items", CALLS,
         lambda e: at(e, 21, response={**e[21]["response"],
                                       "output": e[21]["response"]["output"][::-1]}),
         [("output_mismatch", "warning", 21)]),
    Case("status_mismatch: an item closed with a status no table allows", TEXT,
         lambda e: at(e, 15, item={**e[15]["item"], "status": "searching"}),
         # the terminal output keeps the capture's word (completed): it disagrees
         [("status_mismatch", "warning", 15), ("output_mismatch", "error", 16)]),
    Case("incomplete_details_on_completed", TEXT,
         lambda e: at(e, 16, response={**e[16]["response"],
                                       "incomplete_details": {"reason": "max_output_tokens"}}),
         [("incomplete_details_on_completed", "warning", 16)]),
    # -- parts and values ---------------------------------------------------
    Case("snapshot_divergence: output_text.done differs from the deltas", TEXT,
         lambda e: at(e, 13, text="Goodbye"),
         # the .done value is kept, and the part's final object contradicts it again
         [("snapshot_divergence", "error", 13), ("snapshot_divergence", "error", 14)]),
    Case("snapshot_divergence: the item's text differs from its part", TEXT,
         lambda e: at(e, 15, item={**e[15]["item"], "content": [
             {**e[15]["item"]["content"][0], "text": "Goodbye"}]}),
         # and the terminal output, which kept the streamed text, disagrees with it
         [("snapshot_divergence", "error", 15), ("output_mismatch", "error", 16)]),
    Case("snapshot_divergence: function call arguments differ at .done", CALLS,
         lambda e: at(e, 10, arguments='{"password":"x"}'),
         [("snapshot_divergence", "error", 10), ("snapshot_divergence", "error", 11)]),
    Case("invalid_transition: a delta after its value's .done", TEXT,
         lambda e: [*e[:14], {**e[4], "sequence_number": 14},
                    *({**x, "sequence_number": x["sequence_number"] + 1} for x in e[14:])],
         [("invalid_transition", "error", 14)]),
    Case("unknown_entity: a delta for a part never added", TEXT,
         lambda e: at(e, 6, content_index=1),
         [("unknown_entity", "error", 6), ("snapshot_divergence", "error", 13)]),
    Case("content_index_gap: an annotation past the end", "openaidotnet_file_search_gpt4omini.sse",
         lambda e: at(e, next(i for i, x in enumerate(e)
                              if x["type"] == "response.output_text.annotation.added"),
                      annotation_index=3),
         [("content_index_gap", "error", 16)]),
    # -- hostile values -----------------------------------------------------
    Case("malformed_event: a delta that is not a string", TEXT,
         lambda e: at(e, 6, delta={"text": "!"}),
         [("malformed_event", "error", 6), ("snapshot_divergence", "error", 13)]),
    Case("malformed_event: an output_index that is a string", TEXT,
         lambda e: at(e, 6, output_index="0"),
         [("malformed_event", "error", 6), ("snapshot_divergence", "error", 13)]),
    Case("malformed_event: a value event whose value is not a string", TEXT,
         lambda e: at(e, 13, text=["Hello"]),
         # rejected: the part never reaches text_done, so its own end is refused too
         [("malformed_event", "error", 13), ("invalid_transition", "error", 14),
          ("children_open_at_terminal", "error", 15)]),
    Case("malformed_event: a response event without its response", TEXT,
         lambda e: at(e, 1, response="in_progress"), [("malformed_event", "error", 1)]),
    Case("malformed_event: an item type that is not a string", TEXT,
         lambda e: at(e, 2, item={**e[2]["item"], "type": 7}),
         # the item is refused, and so is everything that lives in it
         [("malformed_event", "error", 2)] + [("unknown_entity", "error", i)
                                              for i in range(3, 16)]
         + [("output_mismatch", "warning", 16)]),
    Case("limit_exceeded: a part's text past max_message_chars", TEXT, lambda e: e,
         [("limit_exceeded", "error", 11)], options={"limits": Limits(max_message_chars=30)}),
    # -- issue 23: what real servers got wrong and runflow did not say ---------
    Case("invalid_tool_arguments: arguments that are not JSON at .done", CALLS,
         lambda e: at(at(e, 10, arguments='{"password": "x'), 11,
                      item={**e[11]["item"], "arguments": '{"password": "x'}),
         # a warning: OpenAI says the model may produce invalid JSON; the deltas built
         # other arguments, so the .done and the item disagree with them too
         [("snapshot_divergence", "error", 10), ("invalid_tool_arguments", "warning", 10),
          ("output_mismatch", "error", 21)]),
    Case("unknown_tool: a call to a function the response does not offer", CALLS,
         lambda e: at(e, 11, item={**e[11]["item"], "name": "rm_rf"}),
         [("unknown_tool", "warning", 11)]),
    Case("duplicate_call_id: a second call with the first call's call_id", CALLS,
         same_call_id, [("duplicate_call_id", "error", 20)]),
    Case("output_mismatch: the terminal output calls an item incomplete", TEXT,
         lambda e: at(e, 16, response={**e[16]["response"], "output": [
             {**e[16]["response"]["output"][0], "status": "incomplete"}]}),
         [("output_mismatch", "error", 16)]),
    Case("output_mismatch: the terminal output holds other text", TEXT,
         lambda e: at(e, 16, response={**e[16]["response"], "output": [
             {**e[16]["response"]["output"][0], "content": [
                 {**e[16]["response"]["output"][0]["content"][0], "text": "Bye"}]}]}),
         [("output_mismatch", "error", 16)]),
    Case("output_mismatch: the terminal output holds other arguments", CALLS,
         lambda e: at(e, 21, response={**e[21]["response"], "output": [
             {**e[21]["response"]["output"][0], "arguments": "{}"},
             e[21]["response"]["output"][1]]}),
         [("output_mismatch", "error", 21)]),
    Case("output_mismatch: null and absent are the same in the terminal output", TEXT,
         lambda e: at(e, 16, response={**e[16]["response"], "output": [
             {k: v for k, v in e[16]["response"]["output"][0].items() if k != "status"}]}),
         []),
    Case("status_mismatch: response.completed carrying status incomplete", TEXT,
         lambda e: at(e, 16, response={**e[16]["response"], "status": "incomplete"}),
         # the event contradicts its own object: an error for the response
         [("status_mismatch", "error", 16)]),
    Case("missing_field: part and value events without item_id", TEXT,
         lambda e: [{k: v for k, v in x.items() if k != "item_id"} for x in e],
         [("missing_field", "error", 3), ("missing_field", "error", 13),
          ("missing_field", "error", 14)]),
    Case("malformed_event: part events without content_index", TEXT,
         lambda e: [{k: v for k, v in x.items() if k != "content_index"} for x in e],
         [("malformed_event", "error", i) for i in range(3, 15)]),
    Case("item_id_mismatch: the response id rotates on every event", TEXT,
         lambda e: [{**x, "response": {**x["response"], "id": f"resp_{i}"}}
                    if "response" in x else x for i, x in enumerate(e)],
         # followed as the one response, as rotating item ids are; not foreign_entity
         [("item_id_mismatch", "warning", 1), ("item_id_mismatch", "warning", 16)]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(case: Case) -> None:
    original = load(case.capture)
    events = case.change(copy.deepcopy(original))
    feedable = [{"event": "done", "data": e} if isinstance(e, str) else e for e in events]
    flow = fed(feedable, **(case.options or {}))
    assert found(flow) == case.expected
    assert flow.status == case.status
    for v in flow.violations:
        assert v.message and v.severity in ("error", "warning")
        # a rule may say an error where the stream contradicts itself
        if v.code not in (Code.CHILDREN_OPEN_AT_TERMINAL, Code.LIMIT_EXCEEDED,
                          Code.OUTPUT_MISMATCH, Code.STATUS_MISMATCH):
            assert v.severity == RULES[v.code].severity
    assert load(case.capture) == original


def test_the_responses_cases_cover_every_responses_code() -> None:
    codes = {v[0] for case in CASES for v in case.expected}
    new = {Code.SEQUENCE_GAP, Code.ITEM_ID_MISMATCH, Code.ITEMS_INTERLEAVED,
           Code.OUTPUT_MISMATCH, Code.MISSING_FIELD, Code.UNKNOWN_TOOL,
           Code.INVALID_TOOL_ARGUMENTS}
    assert {c.value for c in new} <= codes
    assert "event_name_mismatch" not in codes  # SSE framing: below


# --------------------------------------------------------------------------- #
# framing quirks of real servers: accepted
# --------------------------------------------------------------------------- #
def sse(events: Events, *, event_line: str = "before", done: bool = False,
        comment: str | None = None) -> bytes:
    out = []
    if comment is not None:
        out.append(f": {comment}\n\n")
    for e in events:
        data = f"data: {json.dumps(e)}\n"
        if event_line == "before":
            out.append(f"event: {e['type']}\n{data}\n")
        elif event_line == "after":
            out.append(f"{data}event: {e['type']}\n\n")
        else:
            out.append(f"{data}\n")
    if done:
        out.append("data: [DONE]\n\n")
    return "".join(out).encode()


@pytest.mark.parametrize("framing", [
    {"event_line": "none", "done": True, "comment": "OPENROUTER PROCESSING"},  # OpenRouter
    {"event_line": "after"},  # AWS Bedrock Mantle: data: before event:
    {"event_line": "before", "done": True},
])
def test_framings_of_real_servers_are_accepted(framing: dict[str, Any]) -> None:
    flow = ResponseFlow()
    flow.feed_sse(sse(load(TEXT), **framing))
    assert (flow.close(), flow.status, flow.violations) == ("done", "completed", [])
    assert flow.text == "Hello! How can I assist you today?"


def test_an_event_line_that_disagrees_with_the_data_type_is_reported() -> None:
    raw = sse(load(TEXT)).replace(b"event: response.in_progress", b"event: response.queued", 1)
    flow = ResponseFlow()
    flow.feed_sse(raw)
    flow.close()
    assert found(flow) == [("event_name_mismatch", "warning", 1)]
    assert flow.status == "completed"


@pytest.mark.parametrize("heartbeat", [
    {"type": "keepalive", "sequence_number": 5},  # counted with the events
    {"type": "keepalive", "sequence_number": 466},  # a counter of its own
    {"type": "keepalive"},
])
def test_heartbeats_are_ignored_and_do_not_break_the_count(heartbeat: dict[str, Any]) -> None:
    events = load(TEXT)
    shared = heartbeat.get("sequence_number") == 5
    later = [{**e, "sequence_number": e["sequence_number"] + 1} if shared else e
             for e in events[5:]]
    flow = fed([*events[:5], heartbeat, *later])
    assert (flow.status, flow.violations) == ("completed", [])


def test_unknown_events_and_items_are_accepted() -> None:
    events = load(TEXT)
    extra_event = {"type": "acme:trace_event", "sequence_number": 16, "span": "x"}
    extra_item = {"type": "response.output_item.added", "sequence_number": 17,
                  "output_index": 1, "item": {"id": "acme_1", "type": "acme:widget"}}
    extra_done = {**extra_item, "type": "response.output_item.done", "sequence_number": 18}
    tail = [{**e, "sequence_number": e["sequence_number"] + 3} for e in events[16:]]
    final = copy.deepcopy(tail[-1])
    final["response"]["output"].append(extra_item["item"])
    flow = fed([*events[:16], extra_event, extra_item, extra_done, *tail[:-1], final])
    assert found(flow) == [("unknown_event", "warning", 16)]
    assert flow.item_states == [("message", events[2]["item"]["id"], "completed"),
                                ("item", "acme_1", "completed")]
    assert isinstance(flow.output[1], UnknownItem) and flow.output[1].type == "acme:widget"
