"""A toy protocol defined only here: a third protocol is a folder plus one registry row.

Two entities: a ``job`` (the root) and its ``task`` s. Events are named as
Assistants events are (``event: job.started``), the data is the entity's object
with its ``status``. :data:`TOY` is the definition, :data:`ROW` its registry row
(the generic :class:`~runflow.engine.flow.Flow` runs it; no diagrams folder of its
own, one payload invariant, one order row). ``tests/test_toy_protocol.py``
registers it and runs ``check``, ``diagram`` and the exhaustive machine walk on
it with nothing outside this folder changed.
"""

from __future__ import annotations

from runflow.engine.definition import (
    UNSEEN,
    EntityTable,
    EventKind,
    Protocol,
    StreamRow,
    StreamTable,
    Transition,
    build_protocol,
)
from runflow.engine.violations import Code
from runflow.protocols.order import Next
from runflow.protocols.payload import Expect, Invariant, at, seen_states
from runflow.protocols.registry import Registered

U = UNSEEN

JOB = EntityTable(
    entity="job",
    role="root",
    children_open=frozenset({"running"}),
    states=(U, "queued", "running", "finished", "failed"),
    terminal=frozenset({"finished", "failed"}),
    transitions=(
        Transition("job.queued", (U,), "queued", "a job is queued first"),
        Transition("job.started", (U, "queued"), "running", "then runs"),
        Transition("job.finished", (U, "running"), "finished", "and ends well"),
        Transition("job.failed", (U, "queued", "running"), "failed", "or not"),
    ),
)

TASK = EntityTable(
    entity="task",
    links={"job_id": "job"},
    states=(U, "working", "done"),
    terminal=frozenset({"done"}),
    transitions=(
        Transition("task.started", (U,), "working", "a task of a running job"),
        Transition("task.done", (U, "working"), "done", "its result is in"),
    ),
)

STREAM = StreamTable(
    states=("open", "ended", "done", "error", "truncated"),
    initial="open",
    endings={"open": None, "ended": "done", "done": "done", "error": "error",
             "truncated": "truncated"},
    rows=(
        StreamRow(("open", "ended", "truncated"), "event", "open"),
        StreamRow(("done",), "event", "=", code=Code.EVENT_AFTER_DONE,
                  say="{event!r} arrived after done"),
        StreamRow(("error",), "event", "=", code=Code.EVENT_AFTER_ERROR,
                  say="{event!r} arrived after error"),
        StreamRow(("open", "ended", "truncated"), "done", "done", when=("final",)),
        StreamRow(("open", "ended", "truncated"), "done", "done",
                  when=("open", "pause", "stalled"), code=Code.DONE_BEFORE_FINAL,
                  say="done arrived while the job is {root_state!r}", names_root=True),
        StreamRow(("done",), "done", "=", code=Code.EVENT_AFTER_DONE, say="a second done"),
        StreamRow(("error",), "done", "=", code=Code.EVENT_AFTER_ERROR,
                  say="done after error"),
        StreamRow(("open", "ended", "truncated"), "error", "error"),
        StreamRow(("done",), "error", "=", code=Code.EVENT_AFTER_DONE,
                  say="an error after done"),
        StreamRow(("error",), "error", "=", code=Code.EVENT_AFTER_ERROR,
                  say="a second error"),
        StreamRow(("open",), "close", "ended", when=("final",)),
        StreamRow(("open",), "close", "truncated", when=("open", "pause", "stalled"),
                  code=Code.TRUNCATED,
                  say="the input ended after {count} event(s) while the job is {root_state}"),
        StreamRow(("ended", "done", "error", "truncated"), "close", "="),
        StreamRow(("truncated",), "begin", "open"),
        StreamRow(("open", "ended", "done", "error"), "begin", "="),
    ),
)

EVENTS = frozenset(t.event for table in (JOB, TASK) for t in table.transitions) | {
    "done", "error"}

TOY: Protocol = build_protocol(
    (JOB, TASK), name="toy", stream=STREAM, events=EVENTS,
    stream_events={"done": EventKind.DONE, "error": EventKind.ERROR})
"""The toy definition, checked like the shipped ones."""

INVARIANTS = (
    Invariant("payload.job.id", "job", "id", at(seen_states(JOB), Expect.PREFIX),
              "the toy's jobs are job_...", value="job_"),
)
ORDER = (
    Next("order.job.started_after_queued", "job.queued", ("job.started",),
         "the toy starts a job right after queuing it"),
)

ROW = Registered(definition=TOY, invariants=INVARIANTS, order=ORDER)
"""Its registry row: ``register(ROW)``."""
