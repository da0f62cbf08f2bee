"""The Assistants stream protocol as data: tables, stream machine, rules, shapes.

This module is the single definition of the Assistants grammar
(``thread.run.*``, ``thread.run.step.*``, ``thread.message.*``, ``error``,
``done``). The engine (:mod:`runflow.engine.flow`) runs it and names none of it; the
``transitions`` machines, the diagrams, the exhaustive tests and the docs are
generated from :data:`ASSISTANTS`. A transition that is not written here does
not exist.

How to read it
--------------
Every entity (thread, run, step, message) starts in ``unseen``, the state before
the flow has seen it. A *status event* (``thread.run.step.completed``...) carries
the entity's full object and moves it from one of ``sources`` to ``dest``. A
*delta event* (``thread.message.delta``, ``thread.run.step.delta``) carries a
fragment of the object and never changes state; the table lists the states in
which it may arrive.

``unseen`` is a source of every status event (except ``created`` events, which
can only come from it): a flow may begin in the middle of a run -- the stream
returned by ``submit_tool_outputs`` starts with ``thread.run.step.completed`` for
a step created in an earlier stream -- and an entity first seen through its full
object is *adopted* at that state, while the run is still unseen
(``adopt_children``). Later, a step or message that appears without its
``created`` event is an ``unknown_entity``.

The run is the flow's *root*: its columns say in which states a stream may end
(terminal states: ``final``; ``requires_action``: a ``pause``, continued by the
stream of ``submit_tool_outputs``), in which states steps and messages may be
created and grow (``children_open``) and in which they may only end
(``children_closing``). The thread is the *scope*. :data:`STREAM` is the stream's
own machine; :data:`RULES` are the cross-entity rules, each keyed by entity and
event or state, with its code and why.

Recipe: adding a state
----------------------
Adding, say, a run status ``thread.run.paused`` (in_progress -> paused ->
in_progress) takes rows only:

1. add ``"thread.run.paused"`` to :data:`PROTOCOL_EVENTS` (in :mod:`.events`, which the
   registry's detection reads too);
2. add ``"paused"`` to ``RUN.states``, a row
   ``Transition("thread.run.paused", (U, "in_progress"), "paused", why)``, and
   ``"paused"`` to the sources of ``thread.run.in_progress``;
3. name it in the root columns if it matters there (``pauses`` if a stream may end
   in it, ``children_closing`` if steps may end meanwhile);
4. add it to the ``RunState`` literal in :mod:`runflow.protocols.assistants.callbacks`
   (checked against this table when that module is imported, so a forgotten literal is a
   :class:`ProtocolDefinitionError`, not a silent gap);
5. run ``runflow diagram --refresh``.

``tests/test_definition.py`` does this on a copy of the definition and shows that
the machines, the diagrams, the callbacks and the exhaustive tests follow.

Rules for changing this module
------------------------------
* Put the sentence that justifies a row next to it (``why``), quoting the API docs
  or naming the real capture in ``shared/recordings`` that shows it.
* :func:`~runflow.engine.definition.build_protocol` checks the definition when the
  module is imported; a broken one fails at import listing each problem.
* After a change, run ``runflow diagram --refresh``; a test fails while
  ``diagrams/`` is stale.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from functools import partial
from typing import Any

from runflow.engine.accumulator import shorten
from runflow.engine.definition import (
    UNSEEN,
    EntityTable,
    EventKind,
    Finding,
    Protocol,
    Rule,
    StreamRow,
    StreamTable,
    Transition,
    build_protocol,
)
from runflow.engine.jsonparse import JSONError, parse_json
from runflow.engine.objects import dig
from runflow.engine.shapes import ID, INDEX, STR, Choice, List, Obj, Opt, Req
from runflow.engine.violations import Code, EntityRef, Severity
from runflow.protocols.assistants.accumulators import MessageContent, StepDetails
from runflow.protocols.assistants.events import PROTOCOL_EVENTS

__all__ = [
    "ASSISTANTS",
    "MESSAGE",
    "PROTOCOL_EVENTS",
    "RULES",
    "RUN",
    "STEP",
    "STREAM",
    "STREAM_EVENTS",
    "TABLES",
    "THREAD",
    "Entity",
]


class Entity(str, Enum):
    """The kinds of object an Assistants run stream talks about."""

    THREAD = "thread"
    RUN = "run"
    STEP = "step"
    MESSAGE = "message"

    # str's own, as in 3.11's StrEnum: the value, with no Python-level call (a label
    # such as f"{kind} {id}" is formatted on every status event)
    __str__ = str.__str__
    __format__ = str.__format__  # type: ignore[assignment]  # (typeshed: self types differ)


STREAM_EVENTS = {"done": EventKind.DONE, "error": EventKind.ERROR}
IGNORED_EVENTS: frozenset[str] = frozenset()
"""Protocol events runflow knows and deliberately does not model (none today)."""

# --------------------------------------------------------------------------- #
# Payload shapes: the fields runflow reads (others are kept as the server sent them)
# --------------------------------------------------------------------------- #
_PARENTS = {"run_id": Opt(STR), "thread_id": Opt(STR)}
RUN_SHAPE = Obj({"id": ID, "status": STR, "thread_id": Opt(STR),
                 "required_action": Opt(Obj({"submit_tool_outputs": Opt(Obj({
                     "tool_calls": Opt(List(Obj({"id": Opt(STR), "function": Opt(Obj({
                         "name": Opt(STR), "arguments": Opt(STR)}))})))}))}))},
                required=("id", "status"))
_TOOL_CALL = Obj(
    {"id": Opt(STR), "type": STR},
    required=("type",),
    tag="type",
    variants={
        "function": {"function": Opt(Obj({"name": Opt(STR), "arguments": Opt(STR)}))},
        "code_interpreter": {"code_interpreter": Opt(Obj({
            "input": Opt(STR), "outputs": Opt(List(Obj({"type": Opt(STR)})))}))},
        "file_search": {"file_search": Opt(Obj())},
    },
)
STEP_SHAPE = Obj(
    {"id": ID, "status": STR, **_PARENTS,
     "step_details": Obj(
         {"type": Choice("message_creation", "tool_calls")},
         required=("type",),
         tag="type",
         variants={
             "message_creation": {"message_creation": Opt(Obj({"message_id": Opt(STR)}))},
             "tool_calls": {"tool_calls": Req(List(_TOOL_CALL))},
         },
     )},
    required=("id", "status", "step_details"),
)
_PART = Obj(
    {"type": STR},
    required=("type",),
    tag="type",
    variants={
        "text": {"text": Opt(Obj({"value": Opt(STR), "annotations": Opt(List(Obj()))}))},
        "refusal": {"refusal": Opt(STR)},
        "image_file": {"image_file": Opt(Obj())},
        "image_url": {"image_url": Opt(Obj())},
    },
)
MESSAGE_SHAPE = Obj({"id": ID, "status": STR, **_PARENTS, "role": Opt(STR),
                     "content": List(_PART)},
                    required=("id", "status", "content"))
ERROR_SHAPE = Obj({"message": Opt(STR), "code": Opt(STR), "type": Opt(STR), "param": Opt(STR)})
"""The error object of an ``error`` event (``data`` or ``data.error``)."""
DELTA_SHAPE = Obj({"id": ID, "delta": Obj()}, required=("id", "delta"))
"""Both delta events; what is inside ``delta`` is checked by the accumulator with
the two shapes below (off its fast path for the plain text or arguments fragment)."""
_INDEXED = {"index": INDEX, "type": STR}
_ANNOTATION = Obj({"index": Opt(INDEX), "type": Opt(STR), "text": Opt(STR),
                   "start_index": Opt(INDEX), "end_index": Opt(INDEX)})
CONTENT_DELTA = List(Obj(
    _INDEXED, required=("index", "type"), tag="type",
    variants={
        "text": {"text": Opt(Obj({"value": Opt(STR), "annotations": Opt(List(_ANNOTATION))}))},
        "refusal": {"refusal": Opt(STR)},
        "image_file": {"image_file": Opt(Obj({"file_id": Opt(STR), "detail": Opt(STR)}))},
        "image_url": {"image_url": Opt(Obj({"url": Opt(STR), "detail": Opt(STR)}))},
    },
))
"""``thread.message.delta``'s ``delta.content``."""
_OUTPUT = Obj({"index": Opt(INDEX), "type": Opt(STR), "logs": Opt(STR),
               "image": Opt(Obj({"file_id": Opt(STR)}))})
TOOL_CALLS_DELTA = List(Obj(
    {**_INDEXED, "id": Opt(STR)}, required=("index", "type"), tag="type",
    variants={
        "function": {"function": Opt(Obj({"name": Opt(STR), "arguments": Opt(STR),
                                          "output": Opt(STR)}))},
        "code_interpreter": {"code_interpreter": Opt(Obj({"input": Opt(STR),
                                                          "outputs": Opt(List(_OUTPUT))}))},
        "file_search": {"file_search": Opt(Obj())},
    },
))
"""``thread.run.step.delta``'s ``delta.step_details.tool_calls``."""

# --------------------------------------------------------------------------- #
# The entity tables
# --------------------------------------------------------------------------- #
U = UNSEEN

THREAD = EntityTable(
    entity=Entity.THREAD,
    role="scope",
    status_field=None,
    shape=Obj({"id": ID}, required=("id",)),
    snapshot="openai.types.beta:Thread",
    states=(U, "created"),
    terminal=frozenset({"created"}),
    transitions=(
        Transition("thread.created", (U,), "created", "create-and-run streams start with it"),
    ),
)

RUN = EntityTable(
    entity=Entity.RUN,
    role="root",
    links={"thread_id": Entity.THREAD},
    pauses=frozenset({"requires_action"}),
    children_open=frozenset({"in_progress"}),
    children_closing=frozenset({"requires_action", "cancelling"}),
    shape=RUN_SHAPE,
    snapshot="openai.types.beta.threads:Run",
    states=(
        U, "queued", "in_progress", "requires_action", "cancelling",
        "cancelled", "failed", "completed", "incomplete", "expired",
    ),
    terminal=frozenset({"cancelled", "failed", "completed", "incomplete", "expired"}),
    transitions=(
        Transition("thread.run.created", (U,), "queued",
                   "a created run is already queued (status in every capture)"),
        Transition("thread.run.queued", (U, "queued", "requires_action"), "queued",
                   "created runs and runs whose required action was answered go to queued"),
        Transition("thread.run.in_progress", (U, "queued"), "in_progress",
                   "queued runs start"),
        Transition("thread.run.requires_action", (U, "in_progress"), "requires_action",
                   "from in_progress: requires_action"),
        Transition("thread.run.cancelling", (U, "queued", "in_progress", "requires_action"),
                   "cancelling", "a run may be cancelled while not final"),
        Transition("thread.run.cancelled", (U, "cancelling"), "cancelled",
                   "cancelling ends in cancelled"),
        Transition("thread.run.completed", (U, "in_progress"), "completed",
                   "from in_progress: completed"),
        Transition("thread.run.incomplete", (U, "in_progress"), "incomplete",
                   "from in_progress: incomplete (token limits)"),
        Transition("thread.run.failed", (U, "queued", "in_progress"), "failed",
                   "from in_progress: failed; a queued run can fail before it starts"),
        Transition("thread.run.expired", (U, "queued", "in_progress", "requires_action"),
                   "expired", "requires_action expires when outputs come after expires_at"),
    ),
)

STEP = EntityTable(
    entity=Entity.STEP,
    links={"run_id": Entity.RUN, "thread_id": Entity.THREAD},
    shape=STEP_SHAPE,
    delta_shape=DELTA_SHAPE,
    snapshot="openai.types.beta.threads.runs:RunStep",
    accumulator=partial(StepDetails, TOOL_CALLS_DELTA),
    states=(U, "in_progress", "completed", "failed", "cancelled", "expired"),
    terminal=frozenset({"completed", "failed", "cancelled", "expired"}),
    transitions=(
        Transition("thread.run.step.created", (U,), "in_progress",
                   "steps are created already in_progress"),
        Transition("thread.run.step.in_progress", (U, "in_progress"), "in_progress",
                   "repeats the status right after step.created"),
        Transition("thread.run.step.completed", (U, "in_progress"), "completed",
                   "the continuation stream opens with step.completed for the tool step"),
        Transition("thread.run.step.failed", (U, "in_progress"), "failed", ""),
        Transition("thread.run.step.cancelled", (U, "in_progress"), "cancelled", ""),
        Transition("thread.run.step.expired", (U, "in_progress"), "expired", ""),
    ),
    deltas={"thread.run.step.delta": frozenset({"in_progress"})},
)

MESSAGE = EntityTable(
    entity=Entity.MESSAGE,
    links={"run_id": Entity.RUN, "thread_id": Entity.THREAD},
    shape=MESSAGE_SHAPE,
    delta_shape=DELTA_SHAPE,
    snapshot="openai.types.beta.threads:Message",
    accumulator=partial(MessageContent, CONTENT_DELTA),
    states=(U, "in_progress", "completed", "incomplete"),
    terminal=frozenset({"completed", "incomplete"}),
    transitions=(
        Transition("thread.message.created", (U,), "in_progress",
                   "messages are created already in_progress, content []"),
        Transition("thread.message.in_progress", (U, "in_progress"), "in_progress",
                   "repeats the status right after message.created"),
        Transition("thread.message.completed", (U, "in_progress"), "completed", ""),
        Transition("thread.message.incomplete", (U, "in_progress"), "incomplete",
                   "content_filter, max_tokens, run_cancelled/expired/failed"),
    ),
    deltas={"thread.message.delta": frozenset({"in_progress"})},
)


TABLES = (THREAD, RUN, STEP, MESSAGE)

# --------------------------------------------------------------------------- #
# The stream's own machine
# --------------------------------------------------------------------------- #
_OPEN = ("open", "continued", "begun", "awaiting")
_LIVE = ("open", "continued", "begun")
_AFTER = "the stream was already ended by {ended}"

STREAM = StreamTable(
    states=("open", "awaiting", "begun", "continued", "done", "after_done", "error",
            "after_error", "truncated"),
    initial="open",
    endings={
        "open": None, "begun": None, "continued": None,
        "awaiting": "done", "done": "done", "after_done": "done",
        "error": "error", "after_error": "error", "truncated": "truncated",
    },
    rows=(
        # -- an entity event --------------------------------------------------- #
        StreamRow(("open",), "event", "open"),
        StreamRow(("begun", "continued", "awaiting", "truncated"), "event", "continued",
                  why="after done in requires_action, the stream of submit_tool_outputs "
                      "continues the run; after a cut, a new stream resumes it"),
        StreamRow(("done",), "event", "after_done", code=Code.EVENT_AFTER_DONE,
                  say="{event!r} arrived after the stream ended with done, and the run was "
                      "{root_state}, not requires_action",
                  why="done ends the stream unless the run waits for tool outputs"),
        StreamRow(("after_done",), "event", "after_done", why="reported once per end"),
        StreamRow(("error",), "event", "after_error", code=Code.EVENT_AFTER_ERROR,
                  say="{event!r} arrived after the stream ended with error",
                  why="an error event ends the stream; no done follows"),
        StreamRow(("after_error",), "event", "after_error", why="reported once per end"),
        # -- done -------------------------------------------------------------- #
        StreamRow(_OPEN, "done", "done", when=("final",)),
        StreamRow(("open",), "done", "awaiting", when=("pause", "stalled"),
                  why="the stream ends at requires_action; submit_tool_outputs continues it"),
        StreamRow(("begun", "continued", "awaiting"), "done", "awaiting", when=("pause",),
                  why="another round of tool calls"),
        StreamRow(("begun", "continued", "awaiting"), "done", "done", when=("stalled",),
                  code=Code.DONE_BEFORE_FINAL,
                  say="the stream after requires_action ended with the run still "
                      "requires_action; it should continue from thread.run.queued",
                  why="a continuation stream must move the run", names_root=True),
        StreamRow(_OPEN, "done", "done", when=("open",), code=Code.DONE_BEFORE_FINAL,
                  say="done arrived while the run is {root_state!r}, neither terminal nor "
                      "requires_action",
                  why="a stream ends only when the run is final or waits for tool outputs",
                  names_root=True),
        StreamRow(("done",), "done", "after_done", code=Code.EVENT_AFTER_DONE,
                  say="a second done arrived after the stream ended with done"),
        StreamRow(("after_done",), "done", "after_done"),
        StreamRow(("error",), "done", "after_error", code=Code.EVENT_AFTER_ERROR,
                  say="done arrived after the stream ended with error; the ending stays error",
                  why="an error event ends the stream; no done follows"),
        StreamRow(("after_error",), "done", "after_error"),
        StreamRow(("truncated",), "done", "done", when=("final",)),
        StreamRow(("truncated",), "done", "awaiting", when=("pause", "stalled")),
        StreamRow(("truncated",), "done", "done", when=("open",), code=Code.DONE_BEFORE_FINAL,
                  say="done arrived while the run is {root_state!r}, neither terminal nor "
                      "requires_action", names_root=True),
        # -- error ------------------------------------------------------------- #
        StreamRow((*_OPEN, "truncated"), "error", "error",
                  why="the server reports an error and ends the stream"),
        StreamRow(("done", "after_done"), "error", "after_error", code=Code.EVENT_AFTER_DONE,
                  say="an error event arrived after the stream ended with done"),
        StreamRow(("error",), "error", "after_error", code=Code.EVENT_AFTER_ERROR,
                  say="a second error event arrived after the stream ended with error"),
        StreamRow(("after_error",), "error", "after_error"),
        # -- close() ----------------------------------------------------------- #
        StreamRow(_LIVE, "close", "truncated", code=Code.TRUNCATED,
                  say="the input ended after {count} event(s) with no done and no error "
                      "event; the run is {root_state}",
                  why="every stream ends with done or error"),
        StreamRow(("awaiting", "done", "after_done", "error", "after_error", "truncated"),
                  "close", "=", why="the ending stays what it was"),
        # -- begin_stream() ---------------------------------------------------- #
        StreamRow(("awaiting", "truncated", "begun", "continued"), "begin", "begun",
                  why="a new stream of the same run; one that ends with no event is truncated"),
        StreamRow(("open", "done", "after_done", "error", "after_error"), "begin", "=",
                  why="the first stream, or a stream of a run that already ended"),
    ),
)
"""The stream machine. ``"="`` as a destination means "stay"."""


# --------------------------------------------------------------------------- #
# Cross-entity rules
# --------------------------------------------------------------------------- #
def _open_steps(state: Any) -> Iterator[Any]:
    for step in state.children[Entity.STEP].values():
        if step.state == "in_progress":
            yield step


def _thread_first(state: Any, thread: Any, obj: Any, event: str) -> Iterator[Finding]:
    if state.root is not None or any(state.children.values()):
        yield Finding(f"{event} arrived after the run's events; create-and-run streams "
                      "start with it")


def _run_created_in_thread(state: Any, run: Any, obj: Any, event: str) -> Iterator[Finding]:
    if run.state == UNSEEN and state.scope is not None:
        yield Finding(f"{event} for {run.label}, which this flow never saw created; the "
                      "stream began with thread.created, so it did not begin mid-run")


def _step_keeps_type(state: Any, step: Any, obj: Any, event: str) -> Iterator[Finding]:
    before, after = step.acc.step_type, obj["step_details"]["type"]
    if step.state != UNSEEN and after != before:
        yield Finding(f"{step.label} changes type from {before!r} to {after!r}")


def _step_keeps_message(state: Any, step: Any, obj: Any, event: str) -> Iterator[Finding]:
    before = dig(step.raw, "step_details", "message_creation", "message_id")
    after = dig(obj, "step_details", "message_creation", "message_id")
    if step.state != UNSEEN and before is not None and after != before:
        yield Finding(f"{step.label} announced message {before!r} but now names {after!r}")


def _note_announced(state: Any, step: Any, obj: Any, event: str) -> Iterator[Finding]:
    message_id = dig(obj, "step_details", "message_creation", "message_id")
    if isinstance(message_id, str):
        state.mark("announced", message_id)
    return iter(())


def _steps_never_overlap(state: Any, step: Any, obj: Any, event: str) -> Iterator[Finding]:
    for other in _open_steps(state):
        if other is not step:
            yield Finding(f"{step.label} was created while {other.label} is still "
                          "in_progress; steps never overlap")


def _message_inside_step(state: Any, step: Any, obj: Any, event: str) -> Iterator[Finding]:
    message_id = dig(step.raw, "step_details", "message_creation", "message_id")
    message = state.children[Entity.MESSAGE].get(message_id) if message_id else None
    if message is not None and message.state == "in_progress":
        yield Finding(
            f"{step.label} ended {step.state!r} while its {message.label} is still in_progress",
            message, "error" if step.state == "completed" else "warning")


def _message_announced(state: Any, message: Any, obj: Any, event: str) -> Iterator[Finding]:
    if not state.marked("announced", message.id):
        yield Finding(f"{message.label} was created but no message_creation step names it")


def _children_closed(state: Any, run: Any, obj: Any, event: str) -> Iterator[Finding]:
    severity: Severity = "error" if run.state == "completed" else "warning"
    for kind in (Entity.STEP, Entity.MESSAGE):
        for child in state.children[kind].values():
            if child.state == "in_progress":
                yield Finding(f"the run ended {run.state!r} while {child.label} is still "
                              "in_progress", child, severity)


def _no_incomplete_details(state: Any, run: Any, obj: Any, event: str) -> Iterator[Finding]:
    if obj.get("incomplete_details"):
        yield Finding(f"{event} carries incomplete_details {obj['incomplete_details']!r}")


def _listed_calls(run: Any) -> dict[str, Any]:
    listed: dict[str, Any] = {}
    action = run.raw.get("required_action") or {}
    calls = (action.get("submit_tool_outputs") or {}).get("tool_calls") or ()
    for call in calls:
        if isinstance(call.get("id"), str):
            listed[call["id"]] = call
    return listed


def _required_action_matches(state: Any, run: Any, obj: Any, event: str) -> Iterator[Finding]:
    listed = _listed_calls(run)
    streamed: dict[str, Any] = {}
    for step in _open_steps(state):
        if step.acc.step_type == "tool_calls":
            for c in step.acc.calls:
                if c.type == "function" and c.id:
                    streamed[c.id] = c
    problems = []
    action = run.raw.get("required_action") or {}
    ids = [c.get("id") for c in (action.get("submit_tool_outputs") or {}).get("tool_calls")
           or () if isinstance(c.get("id"), str)]
    if repeated := sorted({cid for cid in ids if ids.count(cid) > 1}):
        problems.append(f"requires_action lists {', '.join(repeated)} more than once; a "
                        "tool output answers a call by its id")
    if set(listed) != set(streamed):
        problems.append(f"requires_action lists {sorted(listed)} but the open tool_calls "
                        f"steps streamed {sorted(streamed)}")
    for cid, call in listed.items():
        fn = call.get("function") or {}
        ours = streamed.get(cid)
        if ours is not None and fn.get("arguments") != ours.text:
            problems.append(f"call {cid} arguments {shorten(fn.get('arguments'))} differ from "
                            f"the streamed {shorten(ours.text)}")
        if ours is not None and fn.get("name") != ours.name:
            problems.append(f"call {cid} name {fn.get('name')!r} differs from {ours.name!r}")
    if problems:
        yield Finding("; ".join(problems))


def _arguments_are_json(state: Any, run: Any, obj: Any, event: str) -> Iterator[Finding]:
    for cid, call in _listed_calls(run).items():
        arguments = (call.get("function") or {}).get("arguments")
        try:
            parse_json(arguments or "")
        except JSONError:
            yield Finding(f"the arguments of {cid} are not JSON: {shorten(arguments)}",
                          EntityRef(kind="tool call", id=cid))


_STEP_TERMINAL = STEP.terminal
_RUN_TERMINAL = RUN.terminal

RULES: tuple[Rule, ...] = (
    Rule("thread_first", Code.OUT_OF_ORDER, Entity.THREAD, "after", _thread_first,
         events=frozenset({"thread.created"}),
         why="create-and-run streams start with thread.created (every capture)"),
    Rule("run_created_in_thread", Code.UNKNOWN_ENTITY, Entity.RUN, "check",
         _run_created_in_thread,
         events=frozenset(t.event for t in RUN.transitions) - RUN.created,
         why="a stream that created the thread created the run too"),
    Rule("step_keeps_type", Code.TYPE_CHANGE, Entity.STEP, "check", _step_keeps_type,
         why="a step's type is fixed when it is created"),
    Rule("step_keeps_message", Code.ID_CHANGE, Entity.STEP, "check", _step_keeps_message,
         why="a message_creation step names one message for its whole life"),
    Rule("note_announced", None, Entity.STEP, "after", _note_announced, recovered=True,
         why="a message_creation step announces the message it creates"),
    Rule("steps_never_overlap", Code.OUT_OF_ORDER, Entity.STEP, "after",
         _steps_never_overlap, events=STEP.created,
         why="a run executes one step at a time (every capture)"),
    Rule("message_inside_step", Code.CHILDREN_OPEN_AT_TERMINAL, Entity.STEP, "after",
         _message_inside_step, states=_STEP_TERMINAL,
         why="a message_creation step completes after its message"),
    Rule("message_announced", Code.ORPHAN_MESSAGE, Entity.MESSAGE, "after",
         _message_announced, events=MESSAGE.created,
         why="thread.run.step.created (message_creation) comes before thread.message.created"),
    Rule("arguments_are_json", Code.INVALID_TOOL_ARGUMENTS, Entity.RUN, "after",
         _arguments_are_json, states=frozenset({"requires_action"}),
         why="function arguments are a JSON object"),
    Rule("required_action_matches", Code.TOOL_CALLS_MISMATCH, Entity.RUN, "after",
         _required_action_matches, states=frozenset({"requires_action"}),
         why="required_action lists the function calls the open tool_calls steps streamed"),
    Rule("children_closed", Code.CHILDREN_OPEN_AT_TERMINAL, Entity.RUN, "after",
         _children_closed, states=_RUN_TERMINAL,
         why="steps and messages end before the run does"),
    Rule("no_incomplete_details", Code.INCOMPLETE_DETAILS_ON_COMPLETED, Entity.RUN, "after",
         _no_incomplete_details, states=frozenset({"completed"}),
         why="incomplete_details explains an incomplete run"),
)


def build_assistants(
    tables: tuple[EntityTable, ...] = TABLES,
    *,
    events: frozenset[str] = PROTOCOL_EVENTS,
    stream: StreamTable = STREAM,
    rules: tuple[Rule, ...] = RULES,
    ignored: frozenset[str] = IGNORED_EVENTS,
) -> Protocol:
    """Build (and check) the Assistants definition, or a variant of it (tests build
    variants with rows added or changed)."""
    return build_protocol(tables, name="assistants", stream=stream, events=events,
                          stream_events=STREAM_EVENTS, ignored=ignored, rules=rules,
                          error_shape=ERROR_SHAPE)


ASSISTANTS: Protocol = build_assistants()
"""The Assistants protocol, checked at import."""
