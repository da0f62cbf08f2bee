"""Hostile input, round three (issue 24): what the Responses type fuzz left to fix.

Each test fails on the main before this round: an output item whose ``id`` is not a
string was rejected, so every later event of that item became an ``unknown_entity``
and its text was lost; a function tool whose ``name`` is not a string offered
nothing and no violation said so.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from test_responses_hostile import Stream, fed, sse

from runflow.protocols.responses.flow import ResponseFlow
from runflow.testing.typefuzz_seeds import item_family_seeds

BAD_IDS = [5, {"a": 1}, ["x"], True, 1.5]


def _item_ids(events: list[dict[str, Any]], bad: Any) -> list[dict[str, Any]]:
    """``events`` with the item of every ``output_item.added`` carrying the id ``bad``."""
    for event in events:
        if event.get("type") == "response.output_item.added":
            event["item"]["id"] = bad
    return events


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_item_whose_id_is_not_a_string_is_found_by_its_position(bad: Any) -> None:
    """The item is kept at its output_index (as a part is), with its part, deltas and
    text; the wrong id is an error naming the event and ``item.id``, and each later
    event that names the item's real id is an ``item_id_mismatch`` warning: typed,
    never an orphan."""
    events = _item_ids(Stream().message(["Hel", "lo"]).end(), bad)
    flow = fed(events)
    flow.close()
    found = [(v.code.value, v.index, v.severity) for v in flow.violations]
    assert found[0] == ("item_id_mismatch", 2, "error")
    assert "output_item.added: item.id: expected a string, got" in flow.violations[0].message
    assert {code for code, _, _ in found} <= {"item_id_mismatch", "output_mismatch"}
    assert all(severity == "warning" for _, _, severity in found[1:])
    assert flow.item_states == [("message", ":0", "completed")]
    assert flow.text == "Hello"
    assert flow.states("output_text") == {":0:0": "done"}


@pytest.mark.parametrize("family", sorted(item_family_seeds()))
def test_no_item_family_orphans_its_events_when_its_id_is_not_a_string(family: str) -> None:
    clean = fed(copy.deepcopy(item_family_seeds()[family]))
    clean.close()
    flow = fed(_item_ids(copy.deepcopy(item_family_seeds()[family]), [1]))
    flow.close()
    assert not [v for v in flow.violations if v.code.value in ("unknown_entity",
                                                               "malformed_event")]
    assert [state for _, _, state in flow.item_states] == [
        state for _, _, state in clean.item_states]
    assert [kind for kind, _, _ in flow.item_states] == [
        kind for kind, _, _ in clean.item_states]
    assert flow.text == clean.text
    read = flow.response
    assert read is not None and len(read.output) == len(clean.item_states)


def test_an_item_whose_id_is_not_a_string_keeps_its_text_when_fed_as_sse() -> None:
    events = _item_ids(Stream().function_call(['{"city":', '"Paris"}']).end(), 7)
    flow = ResponseFlow()
    flow.feed_sse(sse(events))
    flow.close()
    assert (flow.violations[0].code.value, flow.violations[0].index) == ("item_id_mismatch", 2)
    [call] = flow.function_calls
    assert call.arguments == '{"city":"Paris"}'
    assert call.name == "get_weather"


@pytest.mark.parametrize("name", [[1], {"a": 1}, 5, None])
def test_a_function_tool_whose_name_is_not_a_string_is_a_violation(name: Any) -> None:
    """The tools entry gets a typed violation naming the JSON path, at each event that
    carries the response."""
    events = Stream().message(["Hi"]).end()
    for event in events:
        if "response" in event:
            event["response"]["tools"] = [{"type": "function", "name": "get_weather"},
                                          {"type": "function", "name": name}]
    flow = fed(events)
    flow.close()
    found = [(v.code.value, v.index, v.severity) for v in flow.violations]
    assert found == [("missing_field", i, "error") for i in (0, 1, len(events) - 1)]
    assert all("response.tools[1].name: expected a string" in v.message
               for v in flow.violations)


def test_many_unnamed_tools_are_one_violation_per_event() -> None:
    events = Stream().message(["Hi"]).end()
    events[0]["response"]["tools"] = [{"type": "function", "name": i} for i in range(10_000)]
    flow = fed(events[:1])
    [violation] = flow.violations
    assert "response.tools[2].name" in violation.message
    assert "(and 9997 more tools)" in violation.message
