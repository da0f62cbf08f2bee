"""The protocol table, exhaustively: every entity state x every event.

``test_every_state_and_event`` puts one entity in each of its states (through
small hand-made objects shaped like the recordings), feeds one event, and checks
the flow does exactly what :data:`runflow.protocols.PROTOCOL` says: accepted (new
state = the table's dest, no violation) or exactly one violation with every
state unchanged. Contexts isolate the table from the cross-entity rules: child
events arrive while the run is in_progress, and an unseen child is tested with
the run unseen too (the only time adoption is allowed).

``test_random_sequences_follow_the_table`` (Hypothesis) feeds random sequences of
events about one thread, run, two steps and a message, and checks each event
against a model built from the same table plus the cross-entity rules.

The rest checks the table itself: ``build_protocol`` rejects broken tables with a
clear message, the SDK's event names are all listed, and the ``transitions``
machines are exactly the table.
"""

from __future__ import annotations

import typing
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from helpers import shortest_path
from hypothesis import given, settings
from hypothesis import strategies as st

from runflow import RunFlow
from runflow.engine.machines import compiled
from runflow.protocols import (
    MESSAGE,
    PROTOCOL,
    PROTOCOL_EVENTS,
    RUN,
    STEP,
    THREAD,
    UNSEEN,
    Entity,
    EntityTable,
    EventKind,
    ProtocolDefinitionError,
    Transition,
    build_assistants,
)

MACHINES = compiled(PROTOCOL).machines
ADOPTION_RUN_STATES = RUN.adopt_children
_CLOSING = compiled(PROTOCOL).closing_events


def child_event_run_states(event: str) -> frozenset[str]:
    """The run states in which a step or message event may arrive: the run's
    columns, wider for events that can only end the child."""
    if event in _CLOSING:
        return RUN.children_open | RUN.children_closing
    return RUN.children_open

THREAD_ID = "thread_abc123"
RUN_ID = "run_abc123"
TOOL_STEP = "step_tool123"
MSG_STEP = "step_msg123"
MSG_ID = "msg_abc123"
CALL_ID = "call_abc123"

# --------------------------------------------------------------------------- #
# objects shaped like the recordings (dotnet_* captures, API v2)
# --------------------------------------------------------------------------- #
DEST = {t.event: t.dest for table in PROTOCOL.tables.values() for t in table.transitions}
"""The status an object carries for each status event (one dest per event)."""


def thread_obj() -> dict[str, Any]:
    return {"id": THREAD_ID, "object": "thread", "created_at": 1761861531, "metadata": {},
            "tool_resources": {"code_interpreter": {"file_ids": []}}}


def run_obj(status: str) -> dict[str, Any]:
    return {
        "id": RUN_ID, "object": "thread.run", "created_at": 1761861531,
        "assistant_id": "asst_abc123", "thread_id": THREAD_ID, "status": status,
        "started_at": None, "expires_at": 1761862131, "cancelled_at": None, "failed_at": None,
        "completed_at": None, "required_action": None, "last_error": None, "model": "gpt-4o",
        "instructions": None, "tools": [], "tool_resources": {}, "metadata": {},
        "temperature": 1.0, "top_p": 1.0, "max_completion_tokens": None,
        "max_prompt_tokens": None, "truncation_strategy": {"type": "auto", "last_messages": None},
        "incomplete_details": None, "usage": None, "response_format": "auto",
        "tool_choice": "auto", "parallel_tool_calls": True,
    }


def step_obj(step_id: str, status: str, inputs: int = 0) -> dict[str, Any]:
    """A step; ``TOOL_STEP`` is a code_interpreter tool_calls step whose call has
    received ``inputs`` input deltas, ``MSG_STEP`` the message_creation step of
    ``MSG_ID``."""
    if step_id == TOOL_STEP:
        calls = [] if inputs == 0 else [{
            "id": CALL_ID, "type": "code_interpreter",
            "code_interpreter": {"input": "x" * inputs, "outputs": []},
        }]
        details: dict[str, Any] = {"type": "tool_calls", "tool_calls": calls}
    else:
        details = {"type": "message_creation", "message_creation": {"message_id": MSG_ID}}
    return {
        "id": step_id, "object": "thread.run.step", "created_at": 1761861533,
        "run_id": RUN_ID, "assistant_id": "asst_abc123", "thread_id": THREAD_ID,
        "type": details["type"], "status": status, "cancelled_at": None, "completed_at": None,
        "expires_at": 1761862131, "failed_at": None, "last_error": None,
        "step_details": details, "usage": None,
    }


def message_obj(status: str, deltas: int = 0) -> dict[str, Any]:
    content = [] if deltas == 0 else [
        {"type": "text", "text": {"value": "Hi" * deltas, "annotations": []}}
    ]
    return {
        "id": MSG_ID, "object": "thread.message", "created_at": 1761861534,
        "assistant_id": "asst_abc123", "thread_id": THREAD_ID, "run_id": RUN_ID,
        "status": status, "incomplete_details": None, "incomplete_at": None,
        "completed_at": None, "role": "assistant", "content": content, "attachments": [],
        "metadata": {},
    }


def message_delta(first: bool) -> dict[str, Any]:
    text: dict[str, Any] = {"value": "Hi", "annotations": []} if first else {"value": "Hi"}
    return {"id": MSG_ID, "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": text}]}}


def step_delta(step_id: str, first: bool) -> dict[str, Any]:
    if step_id == TOOL_STEP:
        call: dict[str, Any] = {"index": 0, "type": "code_interpreter",
                                "code_interpreter": {"input": "x"}}
        if first:
            call["id"] = CALL_ID
            call["code_interpreter"]["outputs"] = []
        details: dict[str, Any] = {"type": "tool_calls", "tool_calls": [call]}
    else:
        details = {"type": "message_creation", "message_creation": {"message_id": MSG_ID}}
    return {"id": step_id, "object": "thread.run.step.delta", "delta": {"step_details": details}}


def event_for(entity_id: str, name: str, deltas: int = 0) -> dict[str, Any]:
    """The event ``name`` about ``entity_id``; full objects carry the event's status
    and the content the flow has seen so far (``deltas`` deltas)."""
    if name.endswith(".delta"):
        data = (message_delta(deltas == 0) if entity_id == MSG_ID
                else step_delta(entity_id, deltas == 0))
    elif entity_id == THREAD_ID:
        data = thread_obj()
    elif entity_id == RUN_ID:
        data = run_obj(DEST[name])
    elif entity_id == MSG_ID:
        data = message_obj(DEST[name], deltas)
    else:
        data = step_obj(entity_id, DEST[name], deltas)
    return {"event": name, "data": data}


# --------------------------------------------------------------------------- #
# paths through the table
# --------------------------------------------------------------------------- #
def path_to(table: EntityTable, target: str, start: str = UNSEEN,
            first: str | None = None) -> list[str]:
    """Shortest list of status events from ``start`` to ``target`` (beginning with
    ``first`` when given), read from the table."""
    lookup = PROTOCOL.transitions[table.entity]
    if first is not None:
        start_state = lookup[(start, first)]
        return [first, *path_to(table, target, start_state)]
    return [event for event, _ in shortest_path(lookup, start, target)]


RUN_OPEN = ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]
ENTITY_ID = {Entity.THREAD: THREAD_ID, Entity.RUN: RUN_ID, Entity.STEP: TOOL_STEP,
             Entity.MESSAGE: MSG_ID}
CREATED = {Entity.THREAD: "thread.created", Entity.RUN: "thread.run.created",
           Entity.STEP: "thread.run.step.created", Entity.MESSAGE: "thread.message.created"}


def context(entity: Entity, state: str) -> list[dict[str, Any]]:
    """Events that put ``entity`` in ``state`` with nothing else in the way."""
    table = PROTOCOL.tables[entity]
    eid = ENTITY_ID[entity]
    if entity is Entity.THREAD:
        return [] if state == UNSEEN else [event_for(THREAD_ID, "thread.created")]
    if entity is Entity.RUN:
        if state == UNSEEN:
            return []
        return [event_for(RUN_ID, n) for n in path_to(table, state, first=CREATED[entity])]
    events = []
    if state != UNSEEN:  # the run is open; the child is created, never adopted
        events += [event_for(RUN_ID, n) for n in RUN_OPEN]
    if entity is Entity.MESSAGE:  # the message_creation step that names it
        events.append(event_for(MSG_STEP, "thread.run.step.created"))
    if state != UNSEEN:
        events += [event_for(eid, n) for n in path_to(table, state, first=CREATED[entity])]
    return events


def entity_state(flow: RunFlow, entity: Entity, entity_id: str) -> str:
    if entity is Entity.THREAD:
        return "created" if flow.thread is not None else UNSEEN
    if entity is Entity.RUN:
        return flow.run_status
    if entity is Entity.STEP:
        return flow.step_state(entity_id)
    return flow.message_state(entity_id)


CASES = [
    (Entity(table.entity), state, event)  # the member itself: tables type their entity str
    for table in PROTOCOL.tables.values()
    for state in table.states
    for event in table.events
]


@pytest.mark.parametrize(("entity", "state", "event"), CASES,
                         ids=[f"{e.value}:{s}:{n}" for e, s, n in CASES])
def test_every_state_and_event(entity: Entity, state: str, event: str) -> None:
    table = PROTOCOL.tables[entity]
    eid = ENTITY_ID[entity]
    flow = RunFlow()
    for e in context(entity, state):
        assert flow.feed(e) == [], f"context event {e['event']} was not clean"
    assert entity_state(flow, entity, eid) == state
    before = (flow.run_status, flow.step_states, flow.message_states, flow.thread is None)
    index = flow.event_count

    new = flow.feed(event_for(eid, event))

    if PROTOCOL.routes[event][0] is EventKind.DELTA:
        allowed, dest = state in table.deltas[event], state
    else:
        target = PROTOCOL.transitions[entity].get((state, event))
        allowed, dest = target is not None, target or state
    label = f"{entity.value} {eid}"
    if allowed:
        assert new == []
        assert entity_state(flow, entity, eid) == dest
    else:
        if event == CREATED[entity]:
            code = "duplicate_entity"
        elif state == UNSEEN:
            code = "unknown_entity"  # a delta: it carries no object to adopt
        else:
            code = "invalid_transition"
        assert [(v.code.value, v.severity, v.index, str(v.entity), v.event) for v in new] == [
            (code, "error", index, label, event)
        ]
        after = (flow.run_status, flow.step_states, flow.message_states, flow.thread is None)
        assert after == before


def test_cases_cover_the_whole_table() -> None:
    pairs = {(e, s, n) for e, s, n in CASES}
    for entity, lookup in PROTOCOL.transitions.items():
        for state, event in lookup:
            assert (entity, state, event) in pairs
    for table in PROTOCOL.tables.values():
        for event, states in table.deltas.items():
            for state in states:
                assert (table.entity, state, event) in pairs
    assert len(CASES) == sum(len(t.states) * len(t.events) for t in PROTOCOL.tables.values())


# --------------------------------------------------------------------------- #
# random sequences against a model of the table and the cross-entity rules
# --------------------------------------------------------------------------- #
RUN_TERMINAL = PROTOCOL.tables[Entity.RUN].terminal
KINDS = {THREAD_ID: Entity.THREAD, RUN_ID: Entity.RUN, TOOL_STEP: Entity.STEP,
         MSG_STEP: Entity.STEP, MSG_ID: Entity.MESSAGE}
ACTIONS = [
    (eid, event) for eid, kind in KINDS.items() for event in PROTOCOL.tables[kind].events
]


class Model:
    """What the table and the cross-entity rules predict, one event at a time."""

    def __init__(self) -> None:
        self.state = dict.fromkeys(KINDS, UNSEEN)
        self.deltas = dict.fromkeys(KINDS, 0)
        self.announced = False  # the message_creation step was seen

    def applicable(self, eid: str, event: str) -> set[str]:
        """The rejecting rules this event breaks (empty: accepted)."""
        kind, state, run = KINDS[eid], self.state[eid], self.state[RUN_ID]
        is_delta = event.endswith(".delta")
        broken = set()
        if kind in (Entity.STEP, Entity.MESSAGE):
            if run in RUN_TERMINAL:
                broken.add("event_after_terminal")
            elif run != UNSEEN and run not in child_event_run_states(event):
                broken.add("run_not_in_progress")
        if is_delta:
            if state == UNSEEN:
                broken.add("unknown_entity")
            elif state not in PROTOCOL.tables[kind].deltas[event]:
                broken.add("invalid_transition")
            return broken
        if event == CREATED[kind] and state != UNSEEN:
            broken.add("duplicate_entity")
        elif state == UNSEEN and event != CREATED[kind] and run not in ADOPTION_RUN_STATES \
                and kind in (Entity.STEP, Entity.MESSAGE):
            broken.add("unknown_entity")
        elif state == UNSEEN and event != CREATED[kind] and kind is Entity.RUN \
                and self.state[THREAD_ID] != UNSEEN:
            broken.add("unknown_entity")  # began with thread.created: not mid-run
        elif (state, event) not in PROTOCOL.transitions[kind]:
            broken.add("invalid_transition")
        return broken

    def accept(self, eid: str, event: str) -> Counter[tuple[str, str, str]]:
        """Apply an accepted event; return the non-rejecting violations it gives."""
        kind = KINDS[eid]
        label = f"{kind.value} {eid}"
        out: Counter[tuple[str, str, str]] = Counter()
        if event.endswith(".delta"):
            if eid != MSG_STEP:
                self.deltas[eid] += 1
            return out
        source = self.state[eid]
        dest = PROTOCOL.transitions[kind][(source, event)]
        if kind is Entity.THREAD and any(
            self.state[other] != UNSEEN for other in (RUN_ID, TOOL_STEP, MSG_STEP, MSG_ID)
        ):
            out[("out_of_order", "error", label)] += 1
        if event == "thread.run.step.created":
            for other in (TOOL_STEP, MSG_STEP):
                if other != eid and self.state[other] == "in_progress":
                    out[("out_of_order", "error", label)] += 1
        if eid == MSG_STEP and dest in PROTOCOL.tables[Entity.STEP].terminal \
                and source != dest and self.state[MSG_ID] == "in_progress":
            severity = "error" if dest == "completed" else "warning"
            out[("children_open_at_terminal", severity, f"message {MSG_ID}")] += 1
        self.state[eid] = dest
        if eid == MSG_STEP:
            self.announced = True
        if event == "thread.message.created" and not self.announced:
            out[("orphan_message", "warning", label)] += 1
        if kind is Entity.RUN and dest in RUN_TERMINAL:
            severity = "error" if dest == "completed" else "warning"
            for child in (TOOL_STEP, MSG_STEP, MSG_ID):
                if self.state[child] == "in_progress":
                    out[("children_open_at_terminal", severity,
                         f"{KINDS[child].value} {child}")] += 1
        return out


def observed(flow: RunFlow) -> dict[str, str]:
    return {
        THREAD_ID: "created" if flow.thread is not None else UNSEEN,
        RUN_ID: flow.run_status,
        TOOL_STEP: flow.step_state(TOOL_STEP),
        MSG_STEP: flow.step_state(MSG_STEP),
        MSG_ID: flow.message_state(MSG_ID),
    }


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ACTIONS), max_size=40))
def test_random_sequences_follow_the_table(actions: list[tuple[str, str]]) -> None:
    flow = RunFlow()
    model = Model()
    for index, (eid, event) in enumerate(actions):
        broken = model.applicable(eid, event)
        new = flow.feed(event_for(eid, event, model.deltas[eid]))
        if broken:
            assert len(new) == 1, (event, eid, new)
            (v,) = new
            assert v.code.value in broken
            assert (v.severity, v.index, str(v.entity)) == ("error", index,
                                                            f"{KINDS[eid].value} {eid}")
        else:
            expected = model.accept(eid, event)
            got = Counter((v.code.value, v.severity, v.entity) for v in new)
            assert got == expected, (event, eid, [str(v) for v in new])
        assert observed(flow) == model.state


# --------------------------------------------------------------------------- #
# the table itself
# --------------------------------------------------------------------------- #
TABLES = (THREAD, RUN, STEP, MESSAGE)


def build_with(*tables: EntityTable, **kwargs: Any) -> None:
    """Build the protocol with some tables replaced."""
    by_entity = {t.entity: t for t in TABLES}
    by_entity.update({t.entity: t for t in tables})
    build_assistants(tuple(by_entity.values()), **kwargs)


def test_the_real_table_builds() -> None:
    protocol = build_assistants(TABLES)
    assert protocol.transitions == PROTOCOL.transitions
    assert protocol.routes == PROTOCOL.routes
    assert issubclass(ProtocolDefinitionError, ValueError)


def problems(excinfo: pytest.ExceptionInfo[ProtocolDefinitionError]) -> list[str]:
    text = str(excinfo.value)
    assert text.startswith("invalid protocol definition 'assistants':")
    return [line.strip()[2:] for line in text.splitlines()[1:]]


def test_unreachable_state_is_rejected() -> None:
    step = replace(STEP, states=(*STEP.states, "paused"), terminal=STEP.terminal | {"paused"})
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_with(step)
    assert problems(exc) == ["step: state 'paused' is unreachable from 'unseen'"]


def test_trap_state_is_rejected() -> None:
    step = replace(
        STEP,
        states=(*STEP.states, "stuck"),
        transitions=(*STEP.transitions,
                     Transition("thread.run.step.stuck", ("in_progress",), "stuck")),
    )
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_with(step, events=PROTOCOL_EVENTS | {"thread.run.step.stuck"})
    assert problems(exc) == ["step: state 'stuck' is a trap: not terminal and no way out"]


def test_cycle_without_a_way_to_a_terminal_state_is_rejected() -> None:
    step = replace(
        STEP,
        states=(*STEP.states, "a", "b"),
        transitions=(*STEP.transitions,
                     Transition("thread.run.step.a", ("in_progress", "b"), "a"),
                     Transition("thread.run.step.b", ("a",), "b")),
    )
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_with(step, events=PROTOCOL_EVENTS | {"thread.run.step.a", "thread.run.step.b"})
    assert problems(exc) == [
        "step: no terminal state can be reached from 'a'",
        "step: no terminal state can be reached from 'b'",
    ]


def test_transition_out_of_a_terminal_state_is_rejected() -> None:
    message = replace(MESSAGE, transitions=(
        *MESSAGE.transitions,
        Transition("thread.message.in_progress", ("completed",), "in_progress"),
    ))
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_with(message)
    assert problems(exc) == [
        "message: thread.message.in_progress leaves terminal state 'completed'; "
        "terminal states are final"
    ]


def test_unmapped_protocol_event_is_rejected() -> None:
    events = PROTOCOL_EVENTS | {"thread.run.step.paused"}
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_assistants(TABLES, events=events)
    assert problems(exc) == [
        "protocol event 'thread.run.step.paused' is neither mapped nor explicitly ignored"
    ]
    # explicitly ignoring it is the fix
    protocol = build_assistants(TABLES, events=events,
                                ignored=frozenset({"thread.run.step.paused"}))
    assert protocol.routes["thread.run.step.paused"] == (EventKind.IGNORED, None)


def test_mapped_event_outside_the_protocol_is_rejected() -> None:
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_assistants(TABLES, events=PROTOCOL_EVENTS - {"thread.run.step.expired"})
    assert problems(exc) == [
        "event 'thread.run.step.expired' is mapped but is not a protocol event"
    ]


def test_nondeterministic_row_is_rejected() -> None:
    step = replace(STEP, transitions=(
        *STEP.transitions, Transition("thread.run.step.completed", ("in_progress",), "failed"),
    ))
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_with(step)
    assert problems(exc) == [
        "step: thread.run.step.completed from 'in_progress' goes to both "
        "'completed' and 'failed'"
    ]


def test_event_mapped_by_two_entities_is_rejected() -> None:
    message = replace(MESSAGE, transitions=(
        *MESSAGE.transitions, Transition("thread.run.step.completed", ("in_progress",),
                                         "completed"),
    ))
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_with(message)
    (problem,) = problems(exc)
    assert problem.startswith("event 'thread.run.step.completed' is mapped twice")


def test_unknown_state_and_missing_table_are_rejected() -> None:
    run = replace(RUN, transitions=(
        *RUN.transitions, Transition("thread.run.queued", ("paused",), "queued"),
    ))
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_with(run)
    assert problems(exc) == ["run: thread.run.queued uses unknown state 'paused'"]
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_assistants((RUN, STEP, MESSAGE), events=PROTOCOL_EVENTS - {"thread.created"})
    assert problems(exc) == [
        "run: link 'thread_id' names unknown entity 'thread'",
        "step: link 'thread_id' names unknown entity 'thread'",
        "message: link 'thread_id' names unknown entity 'thread'",
        "rule thread_first: unknown entity 'thread'",
    ]


def test_every_problem_is_listed() -> None:
    step = replace(STEP, states=(*STEP.states, "paused"), transitions=(
        *STEP.transitions,
        Transition("thread.run.step.in_progress", ("completed",), "in_progress"),
    ))
    with pytest.raises(ProtocolDefinitionError) as exc:
        build_with(step, events=PROTOCOL_EVENTS | {"thread.run.step.paused"})
    assert sorted(problems(exc)) == sorted([
        "step: thread.run.step.in_progress leaves terminal state 'completed'; "
        "terminal states are final",
        "step: state 'paused' is unreachable from 'unseen'",
        "step: state 'paused' is a trap: not terminal and no way out",
        "protocol event 'thread.run.step.paused' is neither mapped nor explicitly ignored",
    ])


def sdk_event_names() -> set[str]:
    from openai.types.beta import AssistantStreamEvent

    union = typing.get_args(AssistantStreamEvent)[0]
    names = set()
    for model in typing.get_args(union):
        (name,) = typing.get_args(model.model_fields["event"].annotation)
        names.add(name)
    return names


def test_every_sdk_event_is_a_protocol_event() -> None:
    sdk = sdk_event_names()
    assert len(sdk) >= 24
    assert sdk <= PROTOCOL_EVENTS, sorted(sdk - PROTOCOL_EVENTS)
    # and the only protocol event the SDK does not model is the stream's done
    assert PROTOCOL_EVENTS - sdk == {"done"}


def test_every_protocol_event_is_routed() -> None:
    assert set(PROTOCOL.routes) == set(PROTOCOL_EVENTS)
    assert PROTOCOL.routes["done"] == (EventKind.DONE, None)
    assert PROTOCOL.routes["error"] == (EventKind.ERROR, None)


@pytest.mark.parametrize("entity", list(Entity))
def test_machines_are_the_table(entity: Entity) -> None:
    machine = MACHINES[entity]
    table = PROTOCOL.tables[entity]
    assert list(machine.states) == list(table.states)
    assert machine.initial == table.initial
    edges = {
        (src, name, src if t.dest is None else t.dest)  # dest None: internal self-loop
        for name, ev in machine.events.items()
        for src, transitions in ev.transitions.items()
        for t in transitions
    }
    assert edges == {(s, e, d) for (s, e), d in PROTOCOL.transitions[entity].items()}
    # no auto transitions (to_<state>) and no deltas in the machine
    assert set(machine.events) == {t.event for t in table.transitions}


class _Entity:
    def __init__(self, state: str) -> None:
        self.state = state


class _Listener:
    def __init__(self) -> None:
        self.entered: list[str] = []

    def _entered(self, tracker: Any, state: str) -> None:
        self.entered.append(state)


@pytest.mark.parametrize("entity", list(Entity))
def test_machines_move_as_the_table_says(entity: Entity) -> None:
    machine = MACHINES[entity]
    for (src, event), dest in PROTOCOL.transitions[entity].items():
        model, listener = _Entity(src), _Listener()
        assert machine.events[event].trigger(model, listener)
        assert model.state == dest, (src, event)
        # enter callbacks fire once per real change of state
        assert listener.entered == ([] if dest == src else [dest])
