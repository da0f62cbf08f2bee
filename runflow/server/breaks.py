"""Server switches that break one payload invariant or ordering expectation each.

Faults (:mod:`.faults`) damage the wire: the run goes on server-side and REST
stays right. A *break* makes the server itself wrong, the way a buggy
implementation is: the scripted events are changed before the store sees them, so
the stream and REST agree on the mistake (``usage`` null at ``completed``, a run
that skips ``queued``), and only the rule under test fails. The ``rest.*`` breaks
are the other way round: the stream is right and one REST answer differs from it.

A request names its breaks in the header ``X-Runflow-Break: name[,name...]``
(:data:`BREAKS`; an unknown name is a 400). :meth:`Backend.body` reads it on the
requests that start or continue a stream and hands the names to the scripts under
:data:`BREAKS_KEY` of the validated body (no request parameter has that name); the
``rest.*`` breaks are read from the header of the REST request they change.
``runflow conform --header 'X-Runflow-Break: run.usage'`` grades a server so broken;
``docs/conform_table.md`` lists what each break makes conform report.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from runflow.server.store import JSON

__all__ = ["BREAKS", "BREAKS_KEY", "BREAK_HEADER", "Break", "BreakSyntaxError", "Breaker",
           "break_responses", "breaks_in", "parse_breaks"]

BREAK_HEADER = "X-Runflow-Break"
BREAKS_KEY = "runflow:breaks"
"""Where :meth:`Backend.body` puts a request's break names in its validated body."""

Event = tuple[str, JSON]
Edit = Callable[[str, JSON, dict[str, Any]], list[Event]]
"""``edit(event, data, memo) -> events``: what goes out instead (``memo`` lives as
long as the run or response)."""
RestEdit = Callable[[Any], Any]


class BreakSyntaxError(ValueError):
    """An unknown break name."""


@dataclass(frozen=True)
class Break:
    name: str
    protocol: Literal["assistants", "responses"]
    rule: str
    """The conform rule it makes fail."""
    description: str
    edit: Edit | None = None
    rest: RestEdit | None = None
    """For ``rest.*`` breaks: changes the JSON a REST endpoint answers."""
    endpoint: str | None = None
    """The endpoint whose answer ``rest`` changes (a Backend / ResponsesApi method name)."""
    scenario: str = "text"
    """The conform scenario that shows it (the table runs that one)."""
    at: str | None = None
    """The event whose index the finding names: the first of that name (in stream
    ``stream`` of the scenario's first flow); None: a REST finding, at no event."""
    stream: int = 0


def _set(events: tuple[str, ...], **changes: Any) -> Edit:
    def edit(event: str, data: JSON, memo: dict[str, Any]) -> list[Event]:
        if event in events or data.get("type") in events:
            data = copy.deepcopy(data)
            inner = data.get("response")
            target: JSON = inner if isinstance(inner, dict) else data
            target.update(changes)
        return [(event, data)]
    return edit


def _drop(events: tuple[str, ...]) -> Edit:
    def edit(event: str, data: JSON, memo: dict[str, Any]) -> list[Event]:
        if event in events:
            return []
        return [(event, data)]
    return edit


def _rename(old: str, new: str) -> Edit:
    """Every id starting with ``old`` starts with ``new`` instead (in every event, so
    the stream and REST stay consistent with each other)."""
    def edit(event: str, data: JSON, memo: dict[str, Any]) -> list[Event]:
        text = json.dumps(data).replace(f'"{old}', f'"{new}')
        return [(event, json.loads(text))]
    return edit


def _stale_required_action(event: str, data: JSON, memo: dict[str, Any]) -> list[Event]:
    """``required_action`` stays on the run after the outputs were submitted."""
    if event == "thread.run.requires_action":
        memo["required_action"] = copy.deepcopy(data.get("required_action"))
    elif event.startswith("thread.run.") and data.get("object") == "thread.run" \
            and memo.get("required_action") is not None:
        data = dict(data, required_action=memo["required_action"])
    return [(event, data)]


def _rest_metadata(body: Any) -> Any:
    """REST forgets the metadata the object was created with."""
    if isinstance(body, dict):
        body = dict(body, metadata={})
    return body


def _rest_first_text(body: Any) -> Any:
    for message in (body or {}).get("data") or []:
        for part in message.get("content") or []:
            if part.get("type") == "text" and message.get("role") == "assistant":
                part["text"]["value"] += " (changed over REST)"
                return body
    return body


def _rest_step_usage(body: Any) -> Any:
    for step in (body or {}).get("data") or []:
        step["usage"] = None
        return body
    return body


_RUN_OPEN = ("thread.run.created", "thread.run.queued", "thread.run.in_progress",
             "thread.run.requires_action")
_RUN_END = ("thread.run.completed", "thread.run.incomplete", "thread.run.failed")

BREAKS: dict[str, Break] = {b.name: b for b in (
    Break("run.started_at", "assistants", "payload.run.started_at",
          "thread.run.in_progress carries started_at null",
          _set(("thread.run.in_progress",), started_at=None), at="thread.run.in_progress"),
    Break("run.expires_at", "assistants", "payload.run.expires_at",
          "the open run carries expires_at null", _set(_RUN_OPEN, expires_at=None),
          at="thread.run.created"),
    Break("run.completed_at", "assistants", "payload.run.completed_at",
          "thread.run.completed carries completed_at null",
          _set(("thread.run.completed",), completed_at=None), at="thread.run.completed"),
    Break("run.usage", "assistants", "payload.run.usage",
          "the finished run carries usage null", _set(_RUN_END, usage=None),
          at="thread.run.completed"),
    Break("run.last_error", "assistants", "payload.run.last_error",
          "thread.run.failed carries last_error null",
          _set(("thread.run.failed",), last_error=None), scenario="failure",
          at="thread.run.failed"),
    Break("run.cancelled_at", "assistants", "payload.run.cancelled_at",
          "thread.run.cancelled carries cancelled_at null",
          _set(("thread.run.cancelled",), cancelled_at=None), scenario="cancel",
          at="thread.run.cancelled"),
    Break("run.incomplete_details", "assistants", "payload.run.incomplete_details",
          "thread.run.incomplete carries incomplete_details null",
          _set(("thread.run.incomplete",), incomplete_details=None), scenario="incomplete",
          at="thread.run.incomplete"),
    Break("run.required_action", "assistants", "payload.run.required_action",
          "required_action stays on the run after the tool outputs were submitted",
          _stale_required_action, scenario="parallel_functions", at="thread.run.queued", stream=1),
    Break("run.object", "assistants", "payload.run.object",
          "run events carry object 'run' instead of 'thread.run'",
          _set((*_RUN_OPEN, *_RUN_END, "thread.run.cancelling", "thread.run.cancelled"),
               object="run"), at="thread.run.created"),
    Break("step.completed_at", "assistants", "payload.step.completed_at",
          "thread.run.step.completed carries completed_at null",
          _set(("thread.run.step.completed",), completed_at=None), at="thread.run.step.completed"),
    Break("step.usage", "assistants", "payload.step.usage",
          "thread.run.step.completed carries usage null",
          _set(("thread.run.step.completed",), usage=None), at="thread.run.step.completed"),
    Break("message.completed_at", "assistants", "payload.message.completed_at",
          "thread.message.completed carries completed_at null",
          _set(("thread.message.completed",), completed_at=None), at="thread.message.completed"),
    Break("message.incomplete_details", "assistants", "payload.message.incomplete_details",
          "thread.message.incomplete carries incomplete_details null",
          _set(("thread.message.incomplete",), incomplete_details=None),
          scenario="incomplete", at="thread.message.incomplete"),
    Break("message.id", "assistants", "payload.message.id",
          "message ids start with 'message-' instead of 'msg_'", _rename("msg_", "message-"),
          at="thread.message.created"),
    Break("order.run.queued", "assistants", "order.run.queued_before_in_progress",
          "the run goes from created to in_progress without thread.run.queued",
          _drop(("thread.run.queued",)), at="thread.run.in_progress"),
    Break("order.step.in_progress", "assistants", "order.step.in_progress_after_created",
          "no thread.run.step.in_progress after thread.run.step.created",
          _drop(("thread.run.step.in_progress",)), at="thread.message.created"),
    Break("order.message.in_progress", "assistants",
          "order.message.in_progress_after_created",
          "no thread.message.in_progress after thread.message.created",
          _drop(("thread.message.in_progress",)), at="thread.message.delta"),
    Break("rest.run", "assistants", "consistency.run",
          "runs.retrieve answers the run without its metadata",
          rest=_rest_metadata, endpoint="get_run"),
    Break("rest.messages", "assistants", "consistency.messages",
          "messages.list answers another text than the stream's",
          rest=_rest_first_text, endpoint="list_messages"),
    Break("rest.steps", "assistants", "consistency.steps",
          "runs.steps.list answers a step whose usage is null",
          rest=_rest_step_usage, endpoint="list_steps"),
    Break("response.usage", "responses", "payload.response.usage",
          "the finished response carries usage null",
          _set(("response.completed", "response.incomplete"), usage=None), at="response.completed"),
    Break("response.completed_at", "responses", "payload.response.completed_at",
          "response.completed carries completed_at null",
          _set(("response.completed",), completed_at=None), at="response.completed"),
    Break("response.error", "responses", "payload.response.error",
          "response.failed carries error null", _set(("response.failed",), error=None),
          scenario="failed", at="response.failed"),
    Break("response.incomplete_details", "responses", "payload.response.incomplete_details",
          "response.incomplete carries incomplete_details null",
          _set(("response.incomplete",), incomplete_details=None), scenario="incomplete",
          at="response.incomplete"),
    Break("response.object", "responses", "payload.response.object",
          "the response's object is 'resp' instead of 'response'",
          _set(("response.created", "response.queued", "response.in_progress",
                "response.completed", "response.incomplete", "response.failed"),
               object="resp"), at="response.created"),
    Break("response.id", "responses", "payload.response.id",
          "response ids start with 'response-' instead of 'resp_'",
          _rename("resp_", "response-"), at="response.created"),
    Break("item.message.id", "responses", "payload.message.id",
          "message item ids start with 'message-' instead of 'msg_'",
          _rename("msg_", "message-"), at="response.output_item.added"),
    Break("order.response.in_progress", "responses",
          "order.response.in_progress_after_created",
          "no response.in_progress after response.created",
          _drop(("response.in_progress",)), at="response.output_item.added"),
    Break("order.response.queued", "responses", "order.response.queued_after_created",
          "a background response is created queued but never sends response.queued",
          _drop(("response.queued",)), scenario="background", at="response.in_progress"),
    Break("rest.response", "responses", "consistency.response",
          "responses.retrieve answers the response without its metadata",
          rest=_rest_metadata, endpoint="get_response"),
    Break("rest.resume", "responses", "consistency.resume",
          "a stream resumed with starting_after=N starts again at sequence_number 0",
          endpoint="get_response", scenario="background", at="response.created", stream=1),
)}


def parse_breaks(header: str | None) -> tuple[str, ...]:
    """The names in a header value (``""``/None: none); raise for an unknown one."""
    names = tuple(n.strip() for n in (header or "").split(",") if n.strip())
    for name in names:
        if name not in BREAKS:
            raise BreakSyntaxError(f"unknown break {name!r} in {BREAK_HEADER}; known: "
                                   f"{', '.join(BREAKS)}")
    return names


def breaks_in(body: JSON) -> tuple[str, ...]:
    """The break names :meth:`Backend.body` put into a validated body."""
    found = body.get(BREAKS_KEY)
    return tuple(found) if isinstance(found, (list, tuple)) else ()


@dataclass
class Breaker:
    """Applies a run's breaks to its events, lazily, across all of its streams."""

    names: tuple[str, ...]
    memo: dict[str, Any] = field(default_factory=dict)

    def events(self, events: Iterable[Event]) -> Iterator[Event]:
        edits = [BREAKS[n].edit for n in self.names if BREAKS[n].edit is not None]
        for event in events:
            out = [event]
            for edit in edits:
                assert edit is not None
                out = [e for name, data in out for e in edit(name, data, self.memo)]
            yield from out


def break_responses(names: tuple[str, ...], events: list[JSON]) -> list[JSON]:
    """A scripted Responses stream with ``names`` applied, renumbered 0, 1, 2..."""
    if not names:
        return events
    breaker = Breaker(names)
    out = [data for _name, data in breaker.events((e["type"], e) for e in events)]
    for number, event in enumerate(out):
        event["sequence_number"] = number
    return out
