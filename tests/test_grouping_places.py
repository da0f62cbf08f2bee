"""Grouping keys come from the definition: a positioned protocol of a test's own.

A finding about an entity placed by position is grouped under its place in its
outermost group (``<group>/<N>``): the group and the field are the definition's
(:attr:`EntityTable.group`, :attr:`~EntityTable.parent_group`,
:attr:`~EntityTable.position`), not the Responses ``output/<output_index>``. The
shipped protocols' keys are pinned elsewhere (``tests/data/check_findings.json``,
``tests/test_check_streaming.py``, ``tests/data/conform_findings.json``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import toy_protocol

from runflow.adapters.recording import Recording
from runflow.conform.events import TappedEvent, entity_key, tap_recording
from runflow.conform.grade import grade_events, violation_key
from runflow.conform.places import Place, places
from runflow.engine.definition import (
    UNSEEN,
    EntityTable,
    EventKind,
    Protocol,
    Transition,
    build_protocol,
)
from runflow.engine.flow import Flow
from runflow.engine.violations import Code, EntityRef, Violation
from runflow.protocols.registry import REGISTRY

U = UNSEEN

LANE = EntityTable(
    entity="lane", group="lanes", position=("lane_no",),
    states=(U, "open", "shut"), terminal=frozenset({"shut"}),
    transitions=(Transition("lane.opened", (U,), "open", "a lane opens at its number"),
                 Transition("lane.shut", (U, "open"), "shut", "and shuts")),
)
PIECE = EntityTable(
    entity="piece", group="pieces", parent_group="lanes",
    position=("lane_no", "piece_no"),
    states=(U, "growing", "whole"), terminal=frozenset({"whole"}),
    transitions=(Transition("piece.begun", (U,), "growing", "a piece of an open lane"),
                 Transition("piece.whole", (U, "growing"), "whole", "its last part")),
    deltas={"piece.part": frozenset({"growing"})},
)
EVENTS = frozenset({*(t.event for t in toy_protocol.JOB.transitions), "done", "error",
                    *(t.event for t in (*LANE.transitions, *PIECE.transitions)), *PIECE.deltas})
PLACED: Protocol = build_protocol(
    (toy_protocol.JOB, LANE, PIECE), name="placed", stream=toy_protocol.STREAM,
    events=EVENTS, stream_events={"done": EventKind.DONE, "error": EventKind.ERROR})
"""The toy's job, with lanes at ``lane_no`` and pieces at (``lane_no``, ``piece_no``)."""


def _event(name: str, data: Any = None, raw: bytes | None = None) -> TappedEvent:
    return TappedEvent(0, 0, name, data, raw)


def test_the_places_are_read_from_the_definition() -> None:
    found = places(PLACED)
    lanes = Place("lanes", "lane_no")
    assert found.by_kind == {"lane": lanes, "piece": lanes}  # a piece sits in its lane
    assert found.by_event == {name: lanes for name in (
        "lane.opened", "lane.shut", "piece.begun", "piece.whole", "piece.part")}
    assert places(PLACED) is found  # read once


@pytest.mark.parametrize(("name", "data", "raw", "key"), [
    ("lane.opened", {"lane_no": 3, "status": "open"}, None, "lanes/3"),
    ("piece.begun", {"lane_no": 3, "piece_no": 1}, None, "lanes/3"),
    ("piece.part", {"lane_no": 7, "piece_no": 0, "delta": {}}, None, "lanes/7"),
    # broken JSON: the field is still found in the raw data
    ("piece.part", None, b'{"piece_no": 9, "lane_no": 5, "delta": {', "lanes/5"),
    # the Responses field means nothing here
    ("lane.shut", {"output_index": 2, "status": "shut"}, None, None),
    ("lane.shut", None, b'{"output_index": 2, ', None),
    ("lane.shut", {"lane_no": "3"}, None, None),  # any JSON may come: not a number
    ("job.started", {"id": "job_1", "status": "running"}, None, "job"),
])
def test_an_events_key_is_its_place_in_the_definitions_group(
        name: str, data: Any, raw: bytes | None, key: str | None) -> None:
    assert entity_key(PLACED, _event(name, data, raw)) == key


def test_a_violation_about_a_positioned_entity_is_keyed_by_its_group() -> None:
    def about(kind: str, oid: str) -> Violation:
        return Violation(code=Code.UNKNOWN_ENTITY, severity="error", message="lost", index=4,
                         event="piece.begun", entity=EntityRef(kind=kind, id=oid))

    assert violation_key(PLACED, about("piece", "pieces/4/1"), None) == "lanes/4"
    assert violation_key(PLACED, about("lane", "lane_no=2"), None) == "lanes/2"
    assert violation_key(PLACED, about("piece", "pieces/4/1"), "lanes/6") == "lanes/6"
    assert violation_key(PLACED, about("job", "job_1"), None) == "job"


def test_a_flows_findings_carry_the_definitions_keys() -> None:
    """End to end: a piece of a lane never opened is an ``unknown_entity`` of that
    lane's place; the shipped Responses protocol's keys stay ``output/N``."""
    stream = [("job.started", {"id": "job_1", "status": "running"}),
              ("lane.opened", {"lane_no": 0, "status": "open"}),
              ("piece.begun", {"lane_no": 2, "piece_no": 0}),
              ("job.finished", {"id": "job_1", "status": "finished"})]
    data = "".join(f"event: {name}\ndata: {json.dumps(obj)}\n\n" for name, obj in stream)
    data += "event: done\ndata: [DONE]\n\n"
    flow = Flow(protocol=PLACED)
    flow.feed_sse(data.encode())
    flow.close()
    events = tap_recording(PLACED, Recording("<placed>", "sse", data.encode()))
    findings = grade_events(flow, events)
    assert [(f.rule, f.index, f.key) for f in findings] == [
        ("grammar.unknown_entity", 2, "lanes/2")]
    responses = REGISTRY["responses"].definition
    assert places(responses).by_kind["message"] == Place("output", "output_index")
