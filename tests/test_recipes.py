"""The recipes in each protocol folder's docstring, followed on a copy of the
definition: the machines, diagrams, payload invariants and callbacks follow with
only the definition changed (``runflow/protocols/assistants/__init__.py``: add a run
status; ``runflow/protocols/responses/__init__.py``: add an output item type).

Also the lists that used to be written out by hand, derived instead: the README's
list of Responses item tables is checked against the definition, and a forgotten
callback ``Literal`` is a failing test naming it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, get_args

import pytest
from machine_walk import walk

from runflow import ProtocolDefinitionError, ResponseFlow, RunFlow
from runflow.diagrams import diagram_files, diagram_names
from runflow.engine.definition import UNSEEN, Protocol, Transition
from runflow.engine.machines import compiled
from runflow.protocols import ASSISTANTS, RESPONSES
from runflow.protocols.assistants import definition as assistants
from runflow.protocols.assistants.callbacks import check_state_literals
from runflow.protocols.assistants.invariants import invariants_of as assistants_invariants
from runflow.protocols.payload import Expect
from runflow.protocols.responses import definition as responses
from runflow.protocols.responses.callbacks import ItemKind, check_literals
from runflow.protocols.responses.invariants import invariants_of as responses_invariants

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- #
# Assistants: add a run status
# --------------------------------------------------------------------------- #
def with_run_status() -> Protocol:
    """Step 1 of the recipe: ``thread.run.paused`` (in_progress -> paused ->
    in_progress), a status where steps and messages may only end."""
    run = assistants.RUN
    rows = tuple(replace(t, sources=(*t.sources, "paused"))
                 if t.event in ("thread.run.in_progress", "thread.run.cancelling") else t
                 for t in run.transitions)
    run = replace(
        run, states=(*run.states, "paused"),
        transitions=(*rows, Transition("thread.run.paused", (UNSEEN, "in_progress"), "paused",
                                       "hypothetical: the run waits")),
        children_closing=run.children_closing | {"paused"})
    tables = tuple(run if t.entity == run.entity else t for t in assistants.TABLES)
    return assistants.build_assistants(tables,
                                       events=assistants.PROTOCOL_EVENTS | {"thread.run.paused"})


def run_event(name: str, status: str) -> dict[str, Any]:
    return {"event": name, "data": {"id": "run_1", "object": "thread.run", "status": status,
                                     "thread_id": "thread_1"}}


def test_a_run_status_added_by_the_recipe() -> None:
    variant = with_run_status()
    # the machines
    assert "paused" in compiled(variant).machines["run"].states
    assert walk(variant, lambda: RunFlow(protocol=variant), ("run",)) == 11 * 11
    # a flow takes the new status, and its enter callback fires
    flow = RunFlow(protocol=variant)
    entered: list[str] = []
    # "paused" is this recipe's status, not one of the RunState literals on_run declares
    flow.on_run("paused")(lambda run: entered.append(run.status))  # type: ignore[arg-type]
    for name, status in [("thread.run.created", "queued"), ("thread.run.in_progress",
                         "in_progress"), ("thread.run.paused", "paused"),
                         ("thread.run.in_progress", "in_progress"),
                         ("thread.run.completed", "completed")]:
        assert flow.feed(run_event(name, status)) == []
    assert entered == ["paused"]
    # the diagrams
    text = diagram_files(variant, svg=False)["run.mmd"].decode()
    assert "in_progress --> paused : thread.run.paused" in text
    assert "paused --> in_progress : thread.run.in_progress" in text
    # the payload invariants: paused is an open status in every row that names them
    rows = {row.id: row for row in assistants_invariants(variant)}
    shipped = {row.id: row for row in assistants_invariants(ASSISTANTS)}
    assert rows.keys() == shipped.keys()
    assert rows["payload.run.object"].expect["paused"] is Expect.EQUALS
    assert rows["payload.run.required_action"].expect["paused"] is Expect.NULL
    assert rows["payload.run.completed_at"].expect["paused"] is Expect.NULL
    assert "paused" not in rows["payload.run.usage"].expect  # a closing state, like cancelling
    for row_id, row in shipped.items():  # and nothing else moved
        assert {s: e for s, e in rows[row_id].expect.items() if s != "paused"} == row.expect
    # step 2: the callbacks' RunState Literal is checked against the table
    with pytest.raises(ProtocolDefinitionError, match="run state 'paused' is missing"):
        check_state_literals(variant)


# --------------------------------------------------------------------------- #
# Responses: add an output item type
# --------------------------------------------------------------------------- #
def with_item_type() -> Protocol:
    """Step 1 of the recipe: a ``browser_call`` item with one event of its own
    (``response.browser_call.navigating``, in_progress -> in_progress)."""
    base = responses.TOOL_SEARCH_CALL
    table = replace(base, entity="browser_call", tag="browser_call", transitions=(
        *base.transitions[:1],
        Transition("response.browser_call.navigating", ("in_progress",), "in_progress",
                   "hypothetical: the browser moves", carries=None),
        *base.transitions[1:]))
    tables = tuple(t for t in responses.TABLES if t.entity != "item")
    tables = (*tables, table, responses.OTHER_ITEM)
    return responses.build_responses(
        tables, events=responses.PROTOCOL_EVENTS | {"response.browser_call.navigating"})


def item_stream(kind: str) -> list[dict[str, Any]]:
    item = {"id": "bc_1", "type": kind, "status": "in_progress"}
    done = {**item, "status": "completed"}
    response = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
                "output": [], "usage": None, "error": None, "incomplete_details": None}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response},
        {"type": "response.in_progress", "response": response},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": f"response.{kind}.navigating", "output_index": 0, "item_id": "bc_1"},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {"type": "response.completed", "response": {
            **response, "status": "completed", "output": [done],
            "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}}},
    ]
    return [{**e, "sequence_number": i} for i, e in enumerate(events)]


def test_an_item_type_added_by_the_recipe() -> None:
    variant = with_item_type()
    # the machines
    assert list(compiled(variant).machines["browser_call"].states) == list(
        variant.tables["browser_call"].states)
    # a flow routes the item to its own table by its type
    flow = ResponseFlow(protocol=variant)
    for event in item_stream("browser_call"):
        assert flow.feed(event) == [], event["type"]
    assert flow.close() == "done"
    assert flow.states("browser_call") == {"bc_1": "completed"}
    assert flow.states("item") == {}
    # the shipped definition knows no such event: the same stream is a violation there
    shipped = ResponseFlow()
    codes = [v.code.value for e in item_stream("browser_call") for v in shipped.feed(e)]
    assert codes and shipped.states("item") == {"bc_1": "completed"}
    # the diagrams
    assert "browser_call" in diagram_names(variant)
    text = diagram_files(variant, svg=False)["browser_call.mmd"].decode()
    assert "in_progress --> in_progress : response.browser_call.navigating" in text
    # the payload invariants: the response's rows are unchanged, the item has none
    assert responses_invariants(variant) == responses_invariants(RESPONSES)
    # step 2: the callbacks' ItemKind Literal, compared with the tables, names the type
    # (check_literals compares it with the shipped ITEM_KINDS, not the tables it is given)
    assert missing_item_kinds(variant) == {"browser_call"}
    assert missing_item_kinds(RESPONSES) == set()


def missing_item_kinds(protocol: Protocol) -> set[str]:
    """The item types of ``protocol``'s tables that ``ItemKind`` does not name."""
    items = {name for name, t in protocol.tables.items() if len(t.position) == 1}
    return items - set(get_args(ItemKind))


# --------------------------------------------------------------------------- #
# derived, not written out
# --------------------------------------------------------------------------- #
def test_the_callback_literals_match_the_shipped_definitions() -> None:
    check_state_literals(ASSISTANTS)
    check_literals(RESPONSES)


def test_the_readme_lists_every_responses_item_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"\*\*one table per item type\*\* \((.*?)\)\. Items sit", readme, re.S)
    assert found is not None, "README.md: the list of item tables is gone"
    listed = re.findall(r"`(\w+)`", found.group(1))
    assert sorted(listed) == sorted(responses.ITEM_KINDS)


def test_every_responses_table_is_the_root_an_item_or_a_part() -> None:
    """What the diagrams test used to count (24 tables), derived from the definition."""
    items = set(responses.ITEM_KINDS)
    parts = {n for n, t in RESPONSES.tables.items() if len(t.position) > 1}
    assert set(RESPONSES.tables) == {RESPONSES.root} | items | parts
    assert not items & parts
