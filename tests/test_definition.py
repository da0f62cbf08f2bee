"""The definition owns the grammar.

* A run status added by table rows only (the recipe in the definition's
  docstring): the machines, the flow, the callbacks, the diagrams and the
  exhaustive transition check all follow.
* The three bugs that came from grammar kept outside the definition, each at
  every checkpoint position of a two-stream tool-call flow: an ``error`` followed
  by a stray ``done`` ends ``"error"``; a checkpoint keeps the continuation state
  (an empty continuation still reports ``done_before_final``); ``recover()``
  refuses a step of another thread and records the message a step announces.
* The engine's boundary: ``flow.py`` names no event, state or entity of the
  Assistants protocol, and nothing outside the core touches an underscore
  attribute of ``RunFlow``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import load_events
from helpers import shortest_path
from openai.types.beta.threads import Run
from openai.types.beta.threads.runs import RunStep

from runflow import Handler, RecoveryError, RunFlow
from runflow.diagrams import diagram_files
from runflow.engine.machines import compiled
from runflow.protocols import (
    MESSAGE,
    PROTOCOL,
    PROTOCOL_EVENTS,
    RUN,
    STEP,
    THREAD,
    UNSEEN,
    Protocol,
    ProtocolDefinitionError,
    Transition,
    build_assistants,
)
from runflow.protocols.assistants.callbacks import check_state_literals
from runflow.protocols.responses.definition import RESPONSES

ROOT = Path(__file__).resolve().parent.parent
FIRST = "dotnet_create_and_run_function_requires_action.jsonl"
SECOND = "dotnet_function_call_continuation.jsonl"
TEXT = "dotnet_text_answer.jsonl"
DONE = {"event": "done", "data": "[DONE]"}


# --------------------------------------------------------------------------- #
# a state added by rows only
# --------------------------------------------------------------------------- #
def paused_protocol() -> Protocol:
    """The recipe: ``thread.run.paused`` (in_progress -> paused -> in_progress)."""
    rows = tuple(
        replace(t, sources=(*t.sources, "paused")) if t.event == "thread.run.in_progress" else t
        for t in RUN.transitions
    )
    run = replace(
        RUN,
        states=(*RUN.states, "paused"),
        transitions=(*rows, Transition("thread.run.paused", (UNSEEN, "in_progress"), "paused",
                                       "hypothetical: the run waits")),
        children_closing=RUN.children_closing | {"paused"},
    )
    return build_assistants((THREAD, run, STEP, MESSAGE),
                            events=PROTOCOL_EVENTS | {"thread.run.paused"})


def run_event(name: str, status: str) -> dict[str, Any]:
    return {"event": name, "data": {"id": "run_1", "object": "thread.run", "status": status,
                                     "thread_id": "thread_1"}}


PAUSED_PATH = [("thread.run.created", "queued"), ("thread.run.in_progress", "in_progress"),
               ("thread.run.paused", "paused"), ("thread.run.in_progress", "in_progress"),
               ("thread.run.completed", "completed")]


def test_a_paused_run_takes_rows_only() -> None:
    protocol = paused_protocol()
    machine = compiled(protocol).machines["run"]
    assert "paused" in machine.states
    flow = RunFlow(protocol=protocol)
    entered: list[str] = []
    flow.on_run("paused")(lambda run: entered.append(run.status))  # type: ignore[arg-type]

    class Watcher(Handler):
        protocol = paused_protocol()

        def on_run_paused(self, run: Run) -> None:
            entered.append("handler")

    flow.add_handler(Watcher())
    for name, status in PAUSED_PATH:
        flow.feed(run_event(name, status))
    flow.feed(DONE)
    assert flow.close() == "done"
    assert flow.violations == []
    assert [c.dest for c in flow.history] == [s for _, s in PAUSED_PATH]
    assert entered == ["paused", "handler"]
    # the default protocol has no paused state: the same handler is refused there
    with pytest.raises(TypeError, match="on_run_paused matches no runflow callback"):
        type("Stale", (Handler,), {"on_run_paused": lambda self, run: None})
    # the diagrams follow
    text = diagram_files(protocol, svg=False)["run.mmd"].decode()
    assert "in_progress --> paused : thread.run.paused" in text
    assert "paused --> in_progress : thread.run.in_progress" in text
    # the typing literals are checked against the table, with a clear error
    with pytest.raises(ProtocolDefinitionError, match="run state 'paused' is missing"):
        check_state_literals(protocol)


def _path(protocol: Protocol, target: str) -> list[tuple[str, str]]:
    return shortest_path(protocol.transitions["run"], UNSEEN, target)


@pytest.mark.parametrize("name", ["assistants", "with paused"])
def test_every_run_state_and_event_follows_the_table(name: str) -> None:
    """Exhaustive over run state x run status event, for whatever the table says."""
    protocol = PROTOCOL if name == "assistants" else paused_protocol()
    table = protocol.tables["run"]
    lookup = protocol.transitions["run"]
    checked = 0
    for state in table.states:
        for event in {t.event for t in table.transitions}:
            flow = RunFlow(protocol=protocol)
            for step_event, status in _path(protocol, state):
                flow.feed(run_event(step_event, status))
            assert flow.run_status == state
            dest = lookup.get((state, event))
            new = flow.feed(run_event(event, dest or "queued"))
            if dest is None:
                again = event in protocol.created["run"] and state != UNSEEN
                code = "duplicate_entity" if again else "invalid_transition"
                assert [v.code.value for v in new] == [code]
                assert flow.run_status == state
            else:
                assert "invalid_transition" not in [v.code.value for v in new]
                assert flow.run_status == dest
            checked += 1
    assert checked == len(table.states) * len({t.event for t in table.transitions})


# --------------------------------------------------------------------------- #
# the three bugs, at every checkpoint position
# --------------------------------------------------------------------------- #
Op = tuple[str, Any]


def script(*streams: list[dict[str, Any]]) -> list[Op]:
    ops: list[Op] = []
    for events in streams:
        ops.append(("begin", None))
        ops += [("feed", e) for e in events]
        ops.append(("close", None))
    return ops


def run_ops(flow: RunFlow, ops: list[Op]) -> RunFlow:
    for kind, event in ops:
        if kind == "begin":
            flow.begin_stream()
        elif kind == "feed":
            flow.feed(event)
        else:
            flow.close()
    return flow


def outcome(flow: RunFlow) -> dict[str, Any]:
    return {
        "violations": [(v.code.value, v.index, str(v.entity)) for v in flow.violations],
        "ending": flow.ending, "run": flow.run_status, "steps": flow.step_states,
        "messages": flow.message_states, "history": flow.history, "text": flow.text,
        "events": flow.event_count, "stream": flow.stream_state,
    }


def every_checkpoint(ops: list[Op]) -> dict[str, Any]:
    """The outcome of ``ops``, asserted identical with a checkpoint round trip at
    every position."""
    straight = outcome(run_ops(RunFlow(), ops))
    for k in range(len(ops) + 1):
        saved = run_ops(RunFlow(), ops[:k]).to_json()
        resumed = run_ops(RunFlow.from_json(saved), ops[k:])
        assert outcome(resumed) == straight, f"checkpoint after {k} of {len(ops)} operations"
    return straight


def test_a_two_stream_tool_call_flow_survives_any_checkpoint() -> None:
    result = every_checkpoint(script(load_events(FIRST), load_events(SECOND)))
    assert result["violations"] == []
    assert (result["ending"], result["run"]) == ("done", "completed")


def test_an_empty_continuation_is_done_before_final_after_any_checkpoint() -> None:
    first = load_events(FIRST)
    result = every_checkpoint(script(first, [DONE]))
    assert result["violations"] == [("done_before_final", len(first), "run " + str(
        first[1]["data"]["id"]))]
    assert result["run"] == "requires_action"


def test_error_then_a_stray_done_ends_error_after_any_checkpoint() -> None:
    events = load_events(TEXT)
    cut = next(i for i, e in enumerate(events) if e["event"] == "thread.message.delta")
    error = {"event": "error", "data": {"error": {"message": "server_error", "type": "x"}}}
    result = every_checkpoint(script([*events[:cut], error, DONE]))
    assert result["ending"] == "error"
    assert result["violations"] == [("event_after_error", cut + 1, "None")]
    flow = run_ops(RunFlow(), script([*events[:cut], error, DONE]))
    assert flow.close() == "error" and flow.error is not None
    assert flow.error.message == "server_error"


def test_recover_refuses_a_step_of_another_thread() -> None:
    first = load_events(FIRST)
    flow = run_ops(RunFlow(), script(first))
    step = next(e["data"] for e in first if e["event"] == "thread.run.step.created")
    other = RunStep.model_validate({**step, "thread_id": "thread_elsewhere"})
    with pytest.raises(RecoveryError, match="belongs to thread thread_elsewhere"):
        flow.recover(other)
    assert flow.step_states == {step["id"]: "in_progress"}


def test_recover_records_the_message_a_step_announces() -> None:
    events = load_events(TEXT)
    at = next(i for i, e in enumerate(events) if e["event"] == "thread.run.step.created")
    flow = RunFlow()
    for e in events[:at]:  # cut before the message_creation step arrives
        flow.feed(e)
    assert flow.close() == "truncated"
    assert flow.recover(RunStep.model_validate(events[at]["data"])) is True
    flow.begin_stream()
    later = [e for e in events[at + 1:] if e["event"] != "thread.run.step.in_progress"]
    for e in later:
        flow.feed(e)
    flow.close()
    assert "orphan_message" not in [v.code.value for v in flow.violations]
    assert flow.ending == "done" and flow.run_status == "completed"


# --------------------------------------------------------------------------- #
# the engine's boundary
# --------------------------------------------------------------------------- #
ENGINE = sorted((ROOT / "runflow" / "engine").glob("*.py"))
"""Every module of the sans-I/O core."""
CATALOGUE = ROOT / "runflow" / "engine" / "violations.py"
"""The violation codes and their one-line summaries: checked like any engine module
(each protocol says what a code means in its grammar, in its own catalogue)."""


def _constants(path: Path) -> list[str]:
    """Every string constant of a module that code can act on or a reader is shown:
    docstrings (of the module, classes, functions and attributes) left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prose = {id(node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in prose]


def test_the_engine_is_every_module_of_its_package() -> None:
    """The checks below read every module: a new one is covered without a line here."""
    assert {p.name for p in ENGINE} >= {"flow.py", "core.py", "stream.py", "resolving.py",
                                         "status.py", "deltas.py", "view.py", "hooks.py",
                                         "callbacks.py", "checkpoint.py", "profiles.py"}


@pytest.mark.parametrize("source", ENGINE, ids=lambda p: p.name)
def test_the_engine_imports_no_protocol(source: Path) -> None:
    """No default protocol in the core: a definition comes in through the flow class."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names]
    assert [m for m in imported if m.startswith("runflow.") and
            not m.startswith("runflow.engine")] == []


@pytest.mark.parametrize("source", ENGINE, ids=lambda p: p.name)
@pytest.mark.parametrize("protocol", [PROTOCOL, RESPONSES], ids=lambda p: p.name)
def test_the_engine_names_nothing_of_either_protocol(protocol: Protocol, source: Path) -> None:
    # ``done``, ``error``, ``close`` are the stream machine's own inputs
    # (EventKind.DONE/ERROR, StreamInput), whatever a protocol also calls them
    inputs = {"done", "error", "close", "begin", "event"}
    events = protocol.events - inputs
    states = {s for t in protocol.tables.values() for s in t.states} - {UNSEEN} - inputs
    kinds = set(protocol.tables)
    fields = {f for t in protocol.tables.values()
              for f in (*t.position, t.named_by, t.group, t.parent_group) if f}
    found = []
    for text in _constants(source):
        words = set(re.findall(r"[a-z_.]+", text))
        found += sorted(words & (events | states | kinds | fields))
    assert found == []
    assert "Entity" not in {n.id for n in ast.walk(ast.parse(source.read_text()))
                            if isinstance(n, ast.Name)}


def test_the_boundary_check_reads_every_summary_of_the_catalogue() -> None:
    """The codes' sentences are checked as constants (they were left out while they
    named both protocols' events): each summary is among what the check reads."""
    from runflow.engine.violations import RULES

    read = _constants(CATALOGUE)
    assert [r.code.value for r in RULES.values() if r.summary not in read] == []


def test_the_boundary_check_sees_a_protocol_name() -> None:
    """The check above can fail: a constant naming an event or entity is found."""
    words = set(re.findall(r"[a-z_.]+", "thread.run.step.delta for the message"))
    assert words & PROTOCOL.events and words & set(PROTOCOL.tables)


_CORE = {"flow.py", "core.py", "stream.py", "resolving.py", "status.py", "journal.py",
         "deltas.py", "recovery.py", "view.py", "driving.py", "callbacks.py", "hooks.py",
         "checkpoint.py", "state.py", "machines.py"}
"""The modules that make up the engine's flow: they may read its internals."""
_PRIVATE = re.compile(r"(?<!\bself)\._(s|c|hooks|first_error|deferred|staged|stream|violate|"
                      r"resolve|adopt|locate|placed|save|restore|dispatch|apply_status|named|"
                      r"replayed|process|feed_raw|feed_block|drain|entered|finish_event|move|"
                      r"report|on_status|on_delta|on_error|check_root_allows|"
                      r"check_divergence)\b")


def test_nothing_outside_the_core_touches_the_flows_underscores() -> None:
    outside = [p for p in (ROOT / "runflow").rglob("*.py") if p.name not in _CORE
               or p.parent.name != "engine"]
    outside += [*(ROOT / "examples").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")]
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
            for p in outside for n, line in enumerate(p.read_text().splitlines(), 1)
            if _PRIVATE.search(line)]
    assert len(outside) > 20
    assert hits == []
