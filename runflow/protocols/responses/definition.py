"""The Responses API stream as data: tables, stream machine, rules, shapes.

This module is the single definition of the Responses grammar (``response.*``
events numbered by ``sequence_number``; ``/work/shared/RESPONSES.md`` and the
captures in ``recordings/responses`` are the evidence cited in the ``why`` of each
row). The engine (:mod:`runflow.engine.flow`) runs it exactly as it runs the Assistants
definition and names none of it.

How to read it
--------------
The *response* is the root. Its status events (``response.created`` ...
``response.completed``) carry the whole Response at ``data.response``
(``Transition.carries``); ``response.created`` leaves ``unseen`` for the status
its object names, ``queued`` (background) or ``in_progress`` (``by_status``).

Everything inside the response is *positioned*: an output item sits at
``output_index`` (group ``output``), a content part at ``output_index`` +
``content_index`` (group ``content``), a reasoning summary part at
``summary_index`` (group ``summary``), a shell command at ``command_index``
(group ``command``). An event finds its entity by those indices, and
``item_id`` is checked against the item found there (``named_by``): GitHub
Copilot rotates ids, the position is what holds. ``response.output_item.added``
and ``.done`` are shared by every item table; ``item.type`` picks the table
(``tag``; ``"*"`` takes item types this definition does not know, as the Open
Responses specification asks clients to accept them). Content parts are picked
the same way by ``part.type``.

Every item starts ``in_progress`` at ``output_item.added`` and ends at
``output_item.done`` in the status its object names (``completed``,
``incomplete``, ``failed``). Between them, an item's own events move it through
the states named after them: ``response.web_search_call.searching`` to
``searching``, ``response.function_call_arguments.done`` to ``arguments_done``,
a hosted call's ``.completed`` event to ``finished`` (the call is over; the item
closes with ``output_item.done``). Deltas are allowed where their value grows and
nowhere else; a value's ``.done`` event carries the finished value, compared with
what the deltas built (``compare``).

The stream is numbered: ``sequence_number`` runs 0, 1, 2... (``sequence_field``);
a number at or below the last one is a replay (a resumed stream), dropped and
counted. The event name is the data's ``type`` (``type_field``), which frames
without an ``event:`` line (OpenRouter) need. A stream ends with the response's
terminal event; ``data: [DONE]`` may follow (OpenRouter) or not (OpenAI).

Rules for changing this module
------------------------------
Put the sentence that justifies a row next to it (``why``), naming the capture
or the source in RESPONSES.md, and say in a rule's ``source`` which kind of source
it is (``reference``, ``specification``, ``stream``: the stream contradicts itself,
``captures``: only observed; :data:`runflow.protocols.payload.Source`). A rule only
captures support reports a warning. ``build_protocol`` checks the definition at
import. Run ``runflow diagram --protocol responses --refresh`` after a change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from typing import Any, cast

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
from runflow.engine.shapes import ANY, ID, STR, List, Obj, Opt, json_type
from runflow.engine.violations import Code, Severity
from runflow.protocols.responses.call_ids import CALL_KINDS, CallIds, call_ids, note_call_id
from runflow.protocols.responses.events import PROTOCOL_EVENTS
from runflow.protocols.responses.slots import (
    first_parts,
    index_of,
    item_at,
    items_now,
    parts,
    previous_slot,
)
from runflow.protocols.responses.values import OutputText, StreamedText

__all__ = [
    "CONTENT_KINDS",
    "ITEM_KINDS",
    "PROTOCOL_EVENTS",
    "RESPONSE",
    "RESPONSES",
    "RULES",
    "STREAM",
    "TABLES",
    "build_responses",
]

U = UNSEEN
P = "response."

STREAM_EVENTS = {"done": EventKind.DONE, "error": EventKind.ERROR}
IGNORED_EVENTS: frozenset[str] = frozenset({
    "keepalive", "ping", P + "keep_alive",  # heartbeats: no entity, nothing to check
    # audio events name no item (no output_index, no item_id) and no capture has them
    P + "audio.delta", P + "audio.done", P + "audio.transcript.delta",
    P + "audio.transcript.done",
})

# --------------------------------------------------------------------------- #
# Payload shapes: the fields runflow reads (others are kept as the server sent them)
# --------------------------------------------------------------------------- #
RESPONSE_SHAPE = Obj({"id": ID, "status": Opt(STR), "output": Opt(List(Obj()))},
                     required=("id",))
ITEM_SHAPE = Obj({"id": ANY, "type": STR, "status": Opt(STR)}, required=("type",),
                 tag="type", variants={
                     # the view writes the streamed commands into action.commands
                     "shell_call": {"action": Opt(Obj())},
                     # the arguments accumulator writes operation.diff
                     "apply_patch_call": {"operation": Opt(Obj())},
                 })
"""An output item: the fields the flow and its views read or hand to the SDK's
types. ``action`` and ``operation`` hold values the streamed deltas fill in. Its
position (``output_index``) identifies it; an ``id`` that is not a string is reported
by the ``item_id_is_a_string`` rule and the position is followed, so the item and
its later events are kept (as for parts)."""
PART_SHAPE = Obj({"id": ANY, "type": STR, "text": Opt(STR), "refusal": Opt(STR),
                  "annotations": Opt(List(Obj()))}, required=("type",))
"""A content or summary part. Its position identifies it (``output_index`` and
``content_index`` / ``summary_index``); the ``id`` DeepSeek and LM Studio send names it
when it is a string. Any other id is reported by the ``part_id_is_a_string`` rule and
the position is followed, so the part and its deltas are kept."""
ERROR_SHAPE = Obj({"message": Opt(STR), "code": Opt(STR), "type": Opt(STR), "param": Opt(STR)})
"""The error of an ``error`` event: nested at ``data.error`` on the wire
(prism_error_rate_limited_gpt4o), flat in the SDK's type; both are read."""


def _value(key: str) -> Obj:
    return Obj({key: STR}, required=(key,))


EVENT_SHAPES = {
    P + "output_text.done": _value("text"),
    P + "refusal.done": _value("refusal"),
    P + "reasoning_text.done": _value("text"),
    P + "reasoning_summary_text.done": _value("text"),
    P + "function_call_arguments.done": _value("arguments"),
    P + "custom_tool_call_input.done": _value("input"),
    P + "code_interpreter_call_code.done": _value("code"),
    P + "mcp_call_arguments.done": _value("arguments"),
    P + "shell_call_command.done": _value("command"),
    P + "apply_patch_call_operation_diff.done": _value("diff"),
}
"""The data of value events: the finished value must be a string."""

# --------------------------------------------------------------------------- #
# The response
# --------------------------------------------------------------------------- #
RESPONSE = EntityTable(
    entity="response",
    role="root",
    children_open=frozenset({"in_progress"}),
    shape=RESPONSE_SHAPE,
    snapshot="openai.types.responses:Response",  # the SDK loads when a snapshot is built
    states=(U, "queued", "in_progress", "completed", "incomplete", "failed", "cancelled"),
    terminal=frozenset({"completed", "incomplete", "failed", "cancelled"}),
    # a response id that changes mid-stream is still the one response: followed with
    # an item_id_mismatch warning, as items at a stable output_index are (a gateway
    # rotates ids on every event; the copilot profile expects it)
    id_rotates=True,
    # response.completed whose object says incomplete: the stream contradicts itself
    status_mismatch="error",
    transitions=(
        Transition(P + "created", (U,), "in_progress", carries="response",
                   by_status=frozenset({"queued"}),
                   why="created in_progress, or queued when background=true "
                       "(pydanticai_background_create_gpt4o)"),
        Transition(P + "queued", (U, "queued"), "queued", carries="response",
                   why="background only; a resume after 0 starts with it "
                       "(pydanticai_background_resume_after0_gpt4o)"),
        Transition(P + "in_progress", (U, "queued", "in_progress"), "in_progress",
                   carries="response", why="follows created in every capture"),
        Transition(P + "completed", (U, "in_progress"), "completed", carries="response",
                   why="the terminal event of a finished response"),
        Transition(P + "incomplete", (U, "in_progress"), "incomplete", carries="response",
                   why="max_output_tokens reached (ddtrace_incomplete_max_output_tokens_gpt4o)"),
        Transition(P + "failed", (U, "queued", "in_progress"), "failed", carries="response",
                   why="after an error event (prism_error_rate_limited_gpt4o); a queued "
                       "background response may fail before it starts"),
        Transition(P + "cancelled", (U, "queued", "in_progress"), "cancelled",
                   carries="response",
                   why="status cancelled exists but no event is specified or captured; "
                       "accepted if a server sends one (RESPONSES.md §6)"),
    ),
)

# --------------------------------------------------------------------------- #
# Output items: one table per item type
# --------------------------------------------------------------------------- #
_ENDS = frozenset({"completed", "incomplete", "failed"})
_ITEM_STATES = ("in_progress", "completed", "incomplete", "failed")


def _item(tag: str, *moves: Transition, states: tuple[str, ...] = (),
          done_from: tuple[str, ...] = ("in_progress",),
          deltas: dict[str, frozenset[str]] | None = None,
          accumulator: Any = None, why: str = "") -> EntityTable:
    """The table of one item type: ``output_item.added`` -> ``in_progress``, its own
    events (``moves``), ``output_item.done`` from ``done_from`` to the status its
    object names."""
    return EntityTable(
        entity=tag if tag != "*" else "item",
        tag=tag,
        group="output",
        position=("output_index",),
        named_by="item_id",
        shape=ITEM_SHAPE,
        status_from_event=False,
        accumulator=accumulator,
        delta_body="",
        states=(U, "in_progress", *states, "completed", "incomplete", "failed"),
        terminal=_ENDS,
        transitions=(
            Transition(P + "output_item.added", (U,), "in_progress", carries="item",
                       why="the first event of every item (OR-spec 'Items are streamable')"),
            *moves,
            Transition(P + "output_item.done", (U, *done_from), "completed", carries="item",
                       by_status=frozenset({"incomplete", "failed"}),
                       compare=accumulator is not None,
                       why=why or "closes the item with its final object"),
        ),
        deltas=deltas or {},
    )


def _ref(event: str, sources: tuple[str, ...], dest: str, why: str = "",
         compare: bool | None = None) -> Transition:
    """An item's own event: it carries no object, only the indices that place it."""
    return Transition(P + event, sources, dest, why, carries=None, compare=compare)


def _hosted(tag: str, working: str, *, partial: str | None = None) -> EntityTable:
    """A hosted tool call: ``.in_progress``, ``.<working>``, ``.completed``."""
    moves = [
        _ref(f"{tag}.in_progress", ("in_progress",), "in_progress",
             "repeats the status right after output_item.added"),
        _ref(f"{tag}.{working}", ("in_progress",), working),
        _ref(f"{tag}.completed", ("in_progress", working), "finished",
             "the call is over; output_item.done closes the item"),
    ]
    if partial is not None:
        moves.append(_ref(f"{tag}.{partial}", (working,), working,
                          "partial images while generating (vercel_image_generation_partial_gpt5)"))
    return _item(tag, *moves, states=(working, "finished"), done_from=("finished", working),
                 why=f"Azure closes a {tag} without .completed, still {working!r} "
                     "(vercel_azure_web_search_preview_gpt41mini): a status_mismatch warning")


def _streamed(tag: str, value: str, key: str, path: tuple[str, ...] = (),
              event: str | None = None) -> EntityTable:
    """An item whose one value grows by deltas: ``<event>.delta``* then ``.done``."""
    event = event or f"{tag}_{value}"
    return _item(
        tag,
        _ref(f"{event}.done", ("in_progress",), f"{value}_done",
             f"the finished {key}, compared with the deltas", compare=True),
        states=(f"{value}_done",),
        done_from=(f"{value}_done",),
        deltas={P + f"{event}.delta": frozenset({"in_progress"})},
        accumulator=partial(StreamedText, key, path),
    )


MESSAGE = _item("message", why="closes the message; its content equals the parts")
REASONING = _item("reasoning", why="OpenAI reasoning items have no status field; "
                                   "DeepSeek's and LM Studio's do")
FUNCTION_CALL = _streamed("function_call", "arguments", "arguments")
CUSTOM_TOOL_CALL = _streamed("custom_tool_call", "input", "input")
APPLY_PATCH_CALL = _streamed("apply_patch_call", "diff", "diff", ("operation", "diff"),
                             event="apply_patch_call_operation_diff")
WEB_SEARCH_CALL = _hosted("web_search_call", "searching")
FILE_SEARCH_CALL = _hosted("file_search_call", "searching")
IMAGE_GENERATION_CALL = _hosted("image_generation_call", "generating",
                                partial="partial_image")
CODE_INTERPRETER_CALL = _item(
    "code_interpreter_call",
    _ref("code_interpreter_call.in_progress", ("in_progress",), "in_progress"),
    _ref("code_interpreter_call_code.done", ("in_progress",), "code_done",
         "the finished code, compared with the deltas", compare=True),
    _ref("code_interpreter_call.interpreting", ("in_progress", "code_done"), "interpreting",
         "runs the code (pydanticai_code_interpreter_reasoning_gpt5)"),
    _ref("code_interpreter_call.completed", ("interpreting",), "finished"),
    states=("code_done", "interpreting", "finished"),
    done_from=("finished",),
    deltas={P + "code_interpreter_call_code.delta": frozenset({"in_progress"})},
    accumulator=partial(StreamedText, "code"),
)
MCP_CALL = _item(
    "mcp_call",
    _ref("mcp_call.in_progress", ("in_progress",), "in_progress"),
    _ref("mcp_call_arguments.done", ("in_progress",), "arguments_done", compare=True),
    _ref("mcp_call.completed", ("arguments_done",), "finished"),
    _ref("mcp_call.failed", ("in_progress", "arguments_done"), "finished",
         "the status in output_item.done says failed"),
    states=("arguments_done", "finished"),
    done_from=("finished",),
    deltas={P + "mcp_call_arguments.delta": frozenset({"in_progress"})},
    accumulator=partial(StreamedText, "arguments"),
)
MCP_LIST_TOOLS = _item(
    "mcp_list_tools",
    _ref("mcp_list_tools.in_progress", ("in_progress",), "in_progress"),
    _ref("mcp_list_tools.completed", ("in_progress",), "finished"),
    _ref("mcp_list_tools.failed", ("in_progress",), "finished"),
    states=("finished",), done_from=("finished",),
)
SHELL_CALL = _item("shell_call", why="its commands are shell_command entities")
SHELL_CALL_OUTPUT = _item(
    "shell_call_output",
    _ref("shell_call_output_content.delta", ("in_progress",), "in_progress",
         "output chunks; the finished output is in output_item.done"),
    _ref("shell_call_output_content.done", ("in_progress",), "in_progress",
         "one command's output (pydanticai_hosted_shell_gpt52)"),
)
COMPACTION = _item("compaction",
                   _ref("compaction.compacting", ("in_progress",), "in_progress"),
                   why="no status field, no sub-events (pydanticai_compaction_item_gpt41)")
TOOL_SEARCH_CALL = _item("tool_search_call", why="no sub-events (pydanticai_tool_search_gpt54)")
TOOL_SEARCH_OUTPUT = _item("tool_search_output")
OTHER_ITEM = _item("*", why="an item type this definition does not know: accepted "
                            "(OR-spec: clients MUST be able to ignore unknown items)")

ITEM_TABLES = (MESSAGE, REASONING, FUNCTION_CALL, CUSTOM_TOOL_CALL, APPLY_PATCH_CALL,
               WEB_SEARCH_CALL, FILE_SEARCH_CALL, IMAGE_GENERATION_CALL,
               CODE_INTERPRETER_CALL, MCP_CALL, MCP_LIST_TOOLS, SHELL_CALL, SHELL_CALL_OUTPUT,
               COMPACTION, TOOL_SEARCH_CALL, TOOL_SEARCH_OUTPUT, OTHER_ITEM)
ITEM_KINDS: tuple[str, ...] = tuple(t.entity for t in ITEM_TABLES)

# --------------------------------------------------------------------------- #
# Parts: content parts, reasoning summary parts, shell commands
# --------------------------------------------------------------------------- #
_PART_STATES = (U, "in_progress", "text_done", "done")


def _content(tag: str, value_event: str | None, key: str,
             accumulator: Any, deltas: tuple[str, ...] = ()) -> EntityTable:
    moves = []
    if value_event is not None:
        moves.append(Transition(P + value_event, ("in_progress",), "text_done",
                                f"the finished {key}, compared with the deltas",
                                carries=None, compare=True))
    return EntityTable(
        entity=tag if tag != "*" else "content_part",
        tag=tag,
        group="content",
        position=("output_index", "content_index"),
        parent_group="output",
        named_by="item_id",
        shape=PART_SHAPE,
        status_field=None,
        accumulator=accumulator,
        delta_body="",
        states=_PART_STATES if value_event is not None else (U, "in_progress", "done"),
        terminal=frozenset({"done"}),
        transitions=(
            Transition(P + "content_part.added", (U,), "in_progress", carries="part",
                       why="streamable content is backed by a part (OR-spec)"),
            *moves,
            Transition(P + "content_part.done", ("text_done" if value_event else "in_progress",),
                       "done", carries="part", compare=value_event is not None,
                       why="the part's final object, after its value's .done"),
        ),
        deltas={P + d: frozenset({"in_progress"}) for d in deltas},
    )


OUTPUT_TEXT = _content("output_text", "output_text.done", "text", OutputText,
                       ("output_text.delta", "output_text.annotation.added"))
REFUSAL = _content("refusal", "refusal.done", "refusal",
                   partial(StreamedText, "refusal"), ("refusal.delta",))
REASONING_TEXT = _content("reasoning_text", "reasoning_text.done", "text",
                          partial(StreamedText, "text"), ("reasoning_text.delta",))
OTHER_PART = _content("*", None, "", None)

SUMMARY_TEXT = EntityTable(
    entity="summary_text",
    group="summary",
    position=("output_index", "summary_index"),
    parent_group="output",
    named_by="item_id",
    shape=PART_SHAPE,
    status_field=None,
    accumulator=partial(StreamedText, "text"),
    delta_body="",
    states=_PART_STATES,
    terminal=frozenset({"done"}),
    transitions=(
        Transition(P + "reasoning_summary_part.added", (U,), "in_progress", carries="part",
                   why="summary parts 0..3 (pydanticai_reasoning_summary_o3mini)"),
        Transition(P + "reasoning_summary_text.done", ("in_progress",), "text_done",
                   carries=None, compare=True),
        Transition(P + "reasoning_summary_part.done", ("text_done",), "done", carries="part",
                   compare=True),
    ),
    deltas={P + "reasoning_summary_text.delta": frozenset({"in_progress"})},
)

SHELL_COMMAND = EntityTable(
    entity="shell_command",
    group="command",
    position=("output_index", "command_index"),
    parent_group="output",
    status_field=None,
    accumulator=partial(StreamedText, "command"),
    delta_body="",
    states=(U, "in_progress", "done"),
    terminal=frozenset({"done"}),
    transitions=(
        Transition(P + "shell_call_command.added", (U,), "in_progress", carries=None,
                   why="no item_id: found by output_index and command_index "
                       "(pydanticai_hosted_shell_gpt52)"),
        Transition(P + "shell_call_command.done", ("in_progress",), "done", carries=None,
                   compare=True),
    ),
    deltas={P + "shell_call_command.delta": frozenset({"in_progress"})},
)

CONTENT_TABLES = (OUTPUT_TEXT, REFUSAL, REASONING_TEXT, OTHER_PART)
CONTENT_KINDS: tuple[str, ...] = tuple(t.entity for t in CONTENT_TABLES)
PART_TABLES = (*CONTENT_TABLES, SUMMARY_TEXT, SHELL_COMMAND)
TABLES = (RESPONSE, *ITEM_TABLES, *PART_TABLES)

# --------------------------------------------------------------------------- #
# The stream's own machine
# --------------------------------------------------------------------------- #
STREAM = StreamTable(
    states=("open", "ended", "done", "after_done", "error", "truncated"),
    initial="open",
    endings={"open": None, "ended": "done", "done": "done", "after_done": "done",
             "error": "error", "truncated": "truncated"},
    rows=(
        # -- an entity event --------------------------------------------------- #
        StreamRow(("open", "ended"), "event", "=",
                  why="a response event; events after the terminal one are the "
                      "response's own business (event_after_terminal)"),
        StreamRow(("truncated",), "event", "open",
                  why="after a cut, the stream from starting_after resumes the response"),
        StreamRow(("error",), "event", "=",
                  why="'Any error incurred while streaming will be followed by a "
                      "response.failed event' (OR-spec)"),
        StreamRow(("done",), "event", "after_done", code=Code.EVENT_AFTER_DONE,
                  say="{event!r} arrived after data: [DONE]"),
        StreamRow(("after_done",), "event", "=", why="reported once"),
        # -- data: [DONE] ------------------------------------------------------ #
        StreamRow(("open", "ended", "truncated"), "done", "done", when=("final",),
                  why="OpenRouter ends with [DONE] after the terminal event; OpenAI "
                      "sends none"),
        StreamRow(("open", "ended", "truncated"), "done", "done",
                  when=("open", "pause", "stalled"), code=Code.DONE_BEFORE_FINAL,
                  say="[DONE] arrived while the response is {root_state!r}, not terminal",
                  names_root=True),
        StreamRow(("error",), "done", "=", why="[DONE] after an error ends nothing more"),
        StreamRow(("done", "after_done"), "done", "after_done", code=Code.EVENT_AFTER_DONE,
                  say="a second [DONE]"),
        # -- error ------------------------------------------------------------- #
        StreamRow(("open", "ended", "truncated"), "error", "error",
                  why="the server reports an error; response.failed follows"),
        StreamRow(("error",), "error", "=", code=Code.EVENT_AFTER_ERROR,
                  say="a second error event"),
        StreamRow(("done", "after_done"), "error", "after_done", code=Code.EVENT_AFTER_DONE,
                  say="an error event arrived after data: [DONE]"),
        # -- close() ----------------------------------------------------------- #
        StreamRow(("open",), "close", "ended", when=("final",),
                  why="OpenAI's streams simply end after the terminal event"),
        StreamRow(("open",), "close", "truncated", when=("open", "pause", "stalled"),
                  code=Code.TRUNCATED,
                  say="the input ended after {count} event(s) while the response is "
                      "{root_state}; a background response can be resumed with "
                      "starting_after"),
        StreamRow(("ended", "done", "after_done", "error", "truncated"), "close", "=",
                  why="the ending stays what it was"),
        # -- begin_stream() ---------------------------------------------------- #
        StreamRow(("truncated",), "begin", "open",
                  why="the stream from starting_after continues the response"),
        StreamRow(("open", "ended", "done", "after_done", "error"), "begin", "=",
                  why="the first stream, or one after the response ended"),
    ),
)


# --------------------------------------------------------------------------- #
# Cross-entity rules
# --------------------------------------------------------------------------- #
# A rule returns its findings; on the common path, none: an empty tuple, which costs
# less than a generator that yields nothing (the rules run on nearly every event).
# Items and parts are looked up by their slot keys (runflow.protocols.responses.slots).
_NONE: tuple[Finding, ...] = ()


def _created_first(state: Any, response: Any, data: Any, event: str) -> Iterable[Finding]:
    if data.get("sequence_number") != 0:
        return _NONE
    return (Finding(f"a fresh stream (sequence_number 0) began with {event}, not "
                    "response.created"),)


def _next_position(state: Any, tracker: Any, data: Any, event: str) -> Iterable[Finding]:
    """A new item or part takes the next index: no gap, in order."""
    slot = tracker.slot
    before = previous_slot(slot)
    if before is None or before in state.slots:
        return _NONE
    last = index_of(tracker)
    group, *indices = slot.split("/")
    field = "output_index" if len(indices) == 1 else {
        "content": "content_index", "summary": "summary_index",
        "command": "command_index"}.get(group, "index")
    return (Finding(f"{event} at {field} {last}, but {field} {last - 1} was never added; "
                    "indices are dense and in order"),)


def _not_interleaved(state: Any, item: Any, data: Any, event: str) -> Iterable[Finding]:
    index = index_of(item)
    before = item_at(state, index - 1) if index > 0 else None
    if before is None or before.state in _ENDS:
        return _NONE
    return (Finding(f"{item.label} was added while {before.label} is still "
                    f"{before.state!r}; OpenAI closes each item before the next"),)


def _parts_closed(state: Any, item: Any, obj: Any, event: str) -> Iterable[Finding]:
    slots = state.slots
    index = index_of(item)
    found: list[Finding] = []
    for group, first in first_parts(index):
        if first not in slots:
            continue
        for part in parts(state, group, index, first):
            if part.state != "done":
                found.append(Finding(f"{item.label} ended while its {part.label} is still "
                                     f"{part.state!r}", part))
    return found


def _item_matches_parts(state: Any, item: Any, obj: Any, event: str) -> Iterable[Finding]:
    """The item's final content equals its streamed parts (the parts' own values were
    compared with their .done events already)."""
    slots = state.slots
    index = index_of(item)
    found: list[Finding] = []
    for group, first in first_parts(index)[:2]:  # content and summary
        theirs = obj.get(group)  # the item's key is the group's name
        if type(theirs) is not list or first not in slots:
            continue
        for j, part in enumerate(parts(state, group, index, first)):
            if part.acc is None or not part.deltas:
                continue
            server = theirs[j] if j < len(theirs) else None
            field = part.acc.key
            value = server.get(field) if type(server) is dict else None
            if value is None:
                found.append(Finding(f"{item.label}'s {group}[{j}] is missing from {event}, "
                                     f"but {part.label} streamed {len(part.acc.text)} "
                                     "characters"))
            elif value != part.acc.text:
                found.append(Finding(f"{item.label}'s {group}[{j}].{field} differs from what "
                                     f"{part.label} streamed"))
    return found


def _output_matches(state: Any, response: Any, obj: Any, event: str) -> Iterable[Finding]:
    output = obj.get("output")
    if type(output) is not list:
        return _NONE
    items = items_now(state)
    ours = [item.owner for item in items]
    theirs = [o.get("id") if type(o) is dict else None for o in output]
    if ours != theirs:
        return (Finding(f"{event}'s output has items {_ids(theirs)} but the stream's items "
                        f"are {_ids(ours)}; the streamed items are kept"),)
    return _items_agree(items, output, event)


def _ids(ids: list[Any]) -> str:
    shown = ", ".join(str(i)[:40] for i in ids[:6])
    return f"[{shown}{', ...' if len(ids) > 6 else ''}] ({len(ids)})"


def _items_closed(state: Any, response: Any, obj: Any, event: str) -> Iterable[Finding]:
    severity: Severity = "error" if response.state == "completed" else "warning"
    return [Finding(f"the response ended {response.state!r} while {item.label} is still "
                    f"{item.state!r}", item, severity)
            for item in items_now(state) if item.state not in _ENDS]


def _incomplete_item_last(state: Any, response: Any, obj: Any, event: str) -> Iterable[Finding]:
    items = items_now(state)
    found = [Finding(f"{item.label} is incomplete but is not the last item "
                     "(OR-spec: an incomplete item MUST be the last)", item)
             for item in items[:-1] if item.state == "incomplete"]
    if items and items[-1].state == "incomplete" and response.state == "completed":
        found.append(Finding(f"the response completed although its last item "
                             f"{items[-1].label} is incomplete; it should end incomplete",
                             items[-1]))
    return found


def _no_incomplete_details(state: Any, response: Any, obj: Any, event: str) -> Iterable[Finding]:
    if not obj.get("incomplete_details"):
        return _NONE
    return (Finding(f"{event} carries incomplete_details {obj['incomplete_details']!r}"),)


def _arguments_are_json(state: Any, call: Any, data: Any, event: str) -> Iterable[Finding]:
    """The API reference calls arguments "a JSON string", yet OpenAI's own guides say
    the model does not always produce valid JSON (unless strict): a warning, as
    Assistants' invalid_tool_arguments is."""
    arguments = data.get("arguments") if type(data) is dict else None
    if type(arguments) is not str:
        return _NONE
    try:
        json.loads(arguments)
    except (ValueError, RecursionError):
        return (Finding(f"{call.label}'s arguments at {event} are not JSON: "
                        f"{arguments[:60]!r}{'...' if len(arguments) > 60 else ''}"),)
    return _NONE


def _tool_offered(state: Any, call: Any, obj: Any, event: str) -> Iterable[Finding]:
    """A function_call names a function of the response's ``tools`` (when the response
    lists any: a server that echoes none says nothing of them)."""
    name = obj.get("name")
    root = state.root
    tools = root.raw.get("tools") if root is not None and type(root.raw) is dict else None
    if type(name) is not str or type(tools) is not list or not tools:
        return _NONE
    offered = _offered(root, tools)
    if name in offered:
        return _NONE
    shown = ", ".join(sorted(str(n) for n in offered)[:6]) or "no function"
    return (Finding(f"{call.label} calls {name[:60]!r}, but the response's tools offer "
                    f"{shown}"),)


def _offered(root: Any, tools: list[Any]) -> frozenset[str]:
    """The function names ``tools`` (the root's ``raw["tools"]``) offers, made once per
    tools list and kept on the root (``Tracker.memo``): a hostile response may list
    thousands of tools and then make thousands of calls, and making the set at every
    call made the work tools x calls (20,000 tools and 1,000 calls: 4.6 s to feed
    4.5 MB)."""
    memo = root.memo
    kept = memo.get("offered") if memo is not None else None
    if kept is not None and kept[0] is tools:
        return cast("frozenset[str]", kept[1])
    offered = frozenset(n for t in tools if type(t) is dict and t.get("type") == "function"
                        and type(n := t.get("name")) is str)  # no string name: offers none
    if memo is None:
        root.memo = memo = {}
    memo["offered"] = (tools, offered)
    return offered


def _tools_named(state: Any, response: Any, obj: Any, event: str) -> Iterable[Finding]:
    """Each function tool of the response's ``tools`` has a string ``name`` (what a
    function_call names, :func:`_tool_offered`): one finding per event, naming the
    first few paths."""
    tools = obj.get("tools") if type(obj) is dict else None
    if type(tools) is not list or not tools:
        return _NONE
    bad = [(i, tool.get("name")) for i, tool in enumerate(tools)
           if type(tool) is dict and tool.get("type") == "function"
           and type(tool.get("name")) is not str]
    if not bad:
        return _NONE
    paths = "; ".join(f"response.tools[{i}].name: expected a string, got {json_type(name)}"
                      for i, name in bad[:3])
    more = f" (and {len(bad) - 3} more tools)" if len(bad) > 3 else ""
    return (Finding(f"the data of {event}: {paths}{more}; such a tool offers no function"),)


def _names_its_item(state: Any, tracker: Any, data: Any, event: str) -> Iterable[Finding]:
    if type(data) is not dict or data.get("item_id") is not None:
        return _NONE
    return (Finding(f"{event} has no item_id (the specification requires it); "
                    f"{tracker.label} was found by its indices"),)


def _value_kept(state: Any, tracker: Any, obj: Any, event: str) -> Iterable[Finding]:
    """A value only a value event built (no deltas: LM Studio's function calls), which
    the final object then replaces: the engine compares with deltas only."""
    acc = tracker.acc
    if tracker.deltas or not isinstance(acc, StreamedText) or acc.before is None:
        return _NONE
    theirs = acc.value_in(obj)
    if type(theirs) is not str or theirs == acc.before:
        return _NONE
    return (Finding(f"{event} gives {tracker.label} another {'.'.join(acc.path)} than its "
                    f"value event did ({len(theirs)} characters, not {len(acc.before)}); "
                    "the server's final object is kept"),)


def _call_id_unique(state: Any, call: Any, obj: Any, event: str) -> Iterable[Finding]:
    """No earlier call of the response has this call's ``call_id``: an output answers
    a call by it, so two calls of one id cannot both be answered. The call ids are
    kept on the root (:mod:`runflow.protocols.responses.call_ids`), not walked at
    every call (which made the work calls x calls)."""
    call_id = obj.get("call_id")
    if type(call_id) is not str:
        return _NONE
    ids = call_ids(state)
    item = (ids or CallIds(state)).earlier(state, call, call_id)
    if item is None:
        return _NONE
    return (Finding(f"{call.label} has call_id {_short(call_id)}, which "
                    f"{item.label} already has; an output answers a call by its "
                    "call_id, so one of them cannot be answered"),)


def _note_call_id(state: Any, call: Any, obj: Any, event: str) -> Iterable[Finding]:
    """Takes note of the call_id the call's object now holds (for
    :func:`_call_id_unique`); finds nothing."""
    note_call_id(state, call)
    return _NONE


_SAID_VALUES = ("arguments", "input", "code")


def _what_it_says(item: Any) -> dict[str, Any]:
    """An item's status and values, as output_item.done or the terminal output says
    them: null and absent are both left out (every client reads both as None)."""
    said = {key: item.get(key) for key in ("status", *_SAID_VALUES)}
    content = item.get("content")
    if type(content) is list:
        said["content"] = [c.get("text", c.get("refusal")) if type(c) is dict else None
                           for c in content]
    return {key: value for key, value in said.items() if value is not None}


def _items_agree(items: list[Any], output: list[Any], event: str) -> Iterable[Finding]:
    """Each item of the terminal output against what output_item.done said of it. An
    item equal to that object says the same (nearly every one): one comparison in C
    instead of reading both; every item equal to it, one comparison of the lists."""
    try:
        if [item.raw for item in items] == output:
            return _NONE
    except RecursionError:  # nested past the interpreter's limit: item by item below
        pass
    found: list[Finding] = []
    for index, (item, theirs) in enumerate(zip(items, output, strict=True)):
        raw = item.raw
        if raw is theirs or item.state not in _ENDS or type(theirs) is not dict \
                or type(raw) is not dict:
            continue
        try:
            if raw == theirs:
                continue
        except RecursionError:  # nested past the interpreter's limit: read them instead
            pass
        ours, final = _what_it_says(raw), _what_it_says(theirs)
        found.extend(Finding(f"{event}'s output[{index}] says {item.label}'s {key} is "
                             f"{_short(final[key])}, but output_item.done said "
                             f"{_short(ours[key])}; the streamed item is kept", item, "error")
                     for key in ours.keys() & final.keys() if ours[key] != final[key])
    return found


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_VALUE_ENDS = {table.entity: frozenset(t.event for t in table.transitions
                                       if t.compare and t.carries is not None)
               for table in (*ITEM_TABLES, *PART_TABLES) if table.accumulator is not None}
_NAMED = {table.entity: frozenset(t.event for t in table.transitions if t.carries != "item")
          for table in (*ITEM_TABLES, *PART_TABLES) if table.named_by is not None}
"""The events of each positioned kind that must name their item (item_id): every event
but the ones carrying the item itself (output_item.added and .done)."""

_PART_EVENTS = {table.entity: frozenset(t.event for t in table.transitions
                                        if t.carries == "part")
                for table in (*CONTENT_TABLES, SUMMARY_TEXT)}
"""The events of each content and summary part kind that carry the part's object."""


def _part_id_is_a_string(state: Any, tracker: Any, part: Any, event: str) -> Iterable[Finding]:
    """A part's id, when it has one, is a string; the part is found by its position
    whatever its id holds (PART_SHAPE leaves ``id`` open for this rule to report)."""
    pid = part.get("id") if type(part) is dict else None
    if pid is None or type(pid) is str:
        return _NONE
    return (Finding(f"the data of {event}: part.id: expected a string, got "
                    f"{json_type(pid)}; {tracker.label} is found by its position, which "
                    "is followed"),)


_ADDED = frozenset({P + "output_item.added"})
_ITEM_DONE = frozenset({P + "output_item.done"})


def _item_id_is_a_string(state: Any, tracker: Any, item: Any, event: str) -> Iterable[Finding]:
    """An item's id, when it has one, is a string; the item is found by its position
    whatever its id holds (ITEM_SHAPE leaves ``id`` open for this rule to report)."""
    iid = item.get("id") if type(item) is dict else None
    if iid is None or type(iid) is str:
        return _NONE
    return (Finding(f"the data of {event}: item.id: expected a string, got "
                    f"{json_type(iid)}; {tracker.label} is found by its position, which "
                    "is followed", None, "error"),)


_TERMINAL = RESPONSE.terminal
_FIRST = frozenset(t.event for t in RESPONSE.transitions) - RESPONSE.created


def _per_item(name: str, code: Code | None, phase: Any, check: Any, events: frozenset[str],
              kinds: tuple[str, ...] = ITEM_KINDS, why: str = "",
              sees: Any = "object", source: str = "captures") -> tuple[Rule, ...]:
    return tuple(Rule(name, code, kind, phase, check, events=events, why=why, sees=sees,
                      source=source) for kind in kinds)


RULES: tuple[Rule, ...] = (
    Rule("created_first", Code.OUT_OF_ORDER, "response", "after", _created_first,
         events=_FIRST, sees="data", source="reference",
         why="a fresh stream starts with response.created (every capture; the SDK's "
             "ResponseStreamState raises without it); a resumed one starts after its "
             "cursor"),
    *_per_item("items_in_order", Code.CONTENT_INDEX_GAP, "check", _next_position, _ADDED,
               why="output_index is dense and in order of output_item.added (every capture; "
                   "the SDK's ResponseStreamState appends each item at the end)",
               source="reference"),
    *_per_item("parts_in_order", Code.CONTENT_INDEX_GAP, "check", _next_position,
               frozenset({P + "content_part.added"}), CONTENT_KINDS,
               why="content_index counts the item's parts (the SDK indexes content by it)",
               source="reference"),
    Rule("summaries_in_order", Code.CONTENT_INDEX_GAP, "summary_text", "check",
         _next_position, events=frozenset({P + "reasoning_summary_part.added"}),
         source="reference",
         why="summary_index counts the reasoning item's summary parts"),
    Rule("commands_in_order", Code.CONTENT_INDEX_GAP, "shell_command", "check",
         _next_position, events=frozenset({P + "shell_call_command.added"}),
         source="reference", why="command_index counts the shell call's commands"),
    *_per_item("items_not_interleaved", Code.ITEMS_INTERLEAVED, "after", _not_interleaved,
               _ADDED, why="OpenAI closes an item before adding the next (every OpenAI "
                           "capture); OpenRouter interleaves"),
    *_per_item("parts_closed", Code.CHILDREN_OPEN_AT_TERMINAL, "after", _parts_closed,
               _ITEM_DONE, why="a part ends before its item", source="stream"),
    *_per_item("item_matches_parts", Code.SNAPSHOT_DIVERGENCE, "after", _item_matches_parts,
               _ITEM_DONE, ("message", "reasoning"), source="stream",
               why="the item in output_item.done holds the text its parts streamed"),
    Rule("items_closed", Code.CHILDREN_OPEN_AT_TERMINAL, "response", "after", _items_closed,
         states=_TERMINAL, why="items end before the response does", source="stream"),
    Rule("incomplete_item_last", Code.OUT_OF_ORDER, "response", "after",
         _incomplete_item_last, states=_TERMINAL, source="specification",
         why="OR-spec 'Items are state machines': incomplete is terminal, MUST be the last "
             "item, and the response is then incomplete"),
    Rule("output_matches_items", Code.OUTPUT_MISMATCH, "response", "after", _output_matches,
         states=_TERMINAL, source="stream",
         why="response.completed's output lists the streamed items in order (the Codex "
             "backend sends []: pydanticai_codex_backend_fc_gpt55), each with the status "
             "and values output_item.done gave it (an error where they differ: the SDK's "
             "final response would contradict what the stream said)"),
    Rule("no_incomplete_details", Code.INCOMPLETE_DETAILS_ON_COMPLETED, "response", "after",
         _no_incomplete_details, states=frozenset({"completed"}), source="stream",
         why="incomplete_details explains an incomplete response"),
    Rule("arguments_are_json", Code.INVALID_TOOL_ARGUMENTS, "function_call", "after",
         _arguments_are_json, events=frozenset({P + "function_call_arguments.done"}),
         sees="data", source="reference",
         why="API reference: arguments is 'a JSON string'; OpenAI says the model may "
             "still produce invalid JSON (unless strict), so the reference does not make "
             "valid JSON required: a warning, like Assistants' invalid_tool_arguments"),
    Rule("tool_offered", Code.UNKNOWN_TOOL, "function_call", "after", _tool_offered,
         events=_ITEM_DONE, source="captures",
         why="every capture calls a function its response's tools list offers; a warning: "
             "some servers add tools of their own"),
    *(Rule("call_ids_noted", None, kind, "after", _note_call_id, recovered=True,
           source="reference", why="what call_id_unique compares: the call_id each call's "
                                   "object holds, noted at every event that may replace it")
      for kind in CALL_KINDS),
    *_per_item("call_id_unique", Code.DUPLICATE_CALL_ID, "after", _call_id_unique,
               _ITEM_DONE, CALL_KINDS, source="reference",
               why="API reference: call_id is 'the unique ID of the ... tool call "
                   "generated by the model', and a *_output item answers the call by it"),
    Rule("tools_named", Code.MISSING_FIELD, "response", "after", _tools_named,
         events=frozenset(t.event for t in RESPONSE.transitions if t.carries == "response"),
         source="reference",
         why="API reference: a function tool's name is a required string (FunctionTool); "
             "a tool without one offers no function a call could name"),
    *(Rule("names_its_item", Code.MISSING_FIELD, kind, "after", _names_its_item,
           events=events, sees="data", source="specification",
           why="OR-spec and API reference: part, delta and value events carry the item_id "
               "of their item (a required str in every SDK event type)")
      for kind, events in _NAMED.items() if events),
    *(Rule("part_id_is_a_string", Code.ITEM_ID_MISMATCH, kind, "after",
           _part_id_is_a_string, events=events, source="captures",
           why="DeepSeek and LM Studio name a part with a string id; the position "
               "identifies it (the specification gives parts no id), so another id is a "
               "warning and the part, its deltas and its value are kept")
      for kind, events in _PART_EVENTS.items()),
    *_per_item("item_id_is_a_string", Code.ITEM_ID_MISMATCH, "after", _item_id_is_a_string,
               _ADDED | _ITEM_DONE, source="reference",
               why="API reference: an output item's id is a string (every SDK item type); "
                   "its output_index identifies it, so another id is reported and the "
                   "item, its parts, deltas and values are kept, not orphaned"),
    *(Rule("value_kept", Code.SNAPSHOT_DIVERGENCE, kind, "after", _value_kept,
           events=events, source="stream",
           why="the final object holds the value its value event finished, deltas or not "
               "(LM Studio sends function calls without deltas)")
      for kind, events in _VALUE_ENDS.items() if events),
)

def build_responses(
    tables: tuple[EntityTable, ...] = TABLES,
    *,
    events: frozenset[str] = PROTOCOL_EVENTS,
    stream: StreamTable = STREAM,
    rules: tuple[Rule, ...] = RULES,
    ignored: frozenset[str] = IGNORED_EVENTS,
) -> Protocol:
    """Build (and check) the Responses definition, or a variant of it."""
    return build_protocol(tables, name="responses", stream=stream, events=events,
                          stream_events=STREAM_EVENTS, ignored=ignored, rules=rules,
                          error_shape=ERROR_SHAPE, type_field="type",
                          sequence_field="sequence_number", event_shapes=EVENT_SHAPES)


RESPONSES: Protocol = build_responses()
"""The Responses protocol, checked at import."""
