"""The server's state behind the endpoints: store, live scripted runs, queued streams, faults.

Endpoints live in protocol modules (:mod:`.assistants`, :mod:`.responses`); each
is a function of a :class:`BackendCore` and a request. :class:`.backend.Backend`
plugs the protocol modules onto this core (``route_sets`` lists their route
builders) -- the body limits, errors, faults and streams here are shared. The
split keeps the imports one way: the protocol modules import this core, the
backend imports them.

Faults for a streamed answer: the ``X-Runflow-Fault`` header, when present,
replaces everything else for that request (``none`` switches faults off);
otherwise the next fault queued with :meth:`Backend.inject` is used, else the
standing one (``inject(..., always=True)``, ``runflow serve --fault``).
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from runflow.protocols.assistants.definition import RUN
from runflow.server.bodies import MAX_BODY_BYTES, read_json
from runflow.server.breaks import (
    BREAK_HEADER,
    BREAKS_KEY,
    BreakSyntaxError,
    breaks_in,
    parse_breaks,
)
from runflow.server.errors import ApiError
from runflow.server.faults import FAULT_HEADER, Fault, FaultSyntaxError, parse_fault
from runflow.server.scenarios import (
    BUILTIN_ASSISTANTS,
    SCENARIOS,
    Event,
    RunScript,
    Scenario,
    ScenarioOptions,
    assistant_object,
)
from runflow.server.scripted_run import ScriptedRun
from runflow.server.sse import Frame, done_frame, encode_event, load_recording
from runflow.server.store import JSON, Store, new_id
from runflow.server.streaming import EventStream, OpenStreams
from runflow.server.validation import validate_body

__all__ = ["ACTIVE", "BackendCore", "RouteSet"]

RouteSet = Callable[["BackendCore"], list[BaseRoute]]
_STREAMING_KINDS = frozenset({"run.create", "thread.create_and_run",
                              "run.submit_tool_outputs", "response.create"})
ACTIVE = frozenset(RUN.states) - RUN.terminal - {RUN.initial}
"""Run statuses that keep a thread busy: no new run or message until they end."""


def user_content(content: Any) -> list[JSON]:
    """A message's ``content`` as stored: request parts turned into message parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    parts = []
    for part in content or []:
        if part.get("type") == "text":
            parts.append({"type": "text", "text": {"value": part["text"], "annotations": []}})
        else:
            parts.append(copy.deepcopy(part))
    return parts


class BackendCore:
    """State and shared request handling; see the module docstring."""

    def __init__(self, store: Store | None = None, *,
                 options: ScenarioOptions | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.store = store if store is not None else Store()
        self.options = options or ScenarioOptions()
        self.max_body_bytes = max_body_bytes
        self.runs: dict[str, ScriptedRun] = {}
        self.streams = OpenStreams()
        self.route_sets: list[RouteSet] = []
        self._recorded: deque[list[Frame]] = deque()
        self._once: deque[Fault] = deque()
        self._always = Fault()
        now = int(time.time())
        for assistant_id, name in BUILTIN_ASSISTANTS.items():
            if not self.store.has("assistant", assistant_id):
                self.store.put("assistant", assistant_object(assistant_id, name, now))

    # -- test controls (callable from any thread) -------------------------------

    def enqueue_recording(self, path: str | Path) -> int:
        """Queue each stream of a ``.jsonl``/``.sse`` recording; returns how many."""
        streams = load_recording(path)
        self._recorded.extend(streams)
        return len(streams)

    def enqueue_events(self, events: Iterable[tuple[str, Any]]) -> None:
        """Queue one stream of ``(event, data)`` pairs (end it with ``("done", "[DONE]")``)."""
        self._recorded.append([encode_event(event, data) for event, data in events])

    def inject(self, fault: Fault | str, *, always: bool = False) -> None:
        """Damage the next streamed response (or every one, with ``always``)."""
        parsed = parse_fault(fault) if isinstance(fault, str) else fault
        if always:
            self._always = parsed
        else:
            self._once.append(parsed)

    def clear_faults(self) -> None:
        self._once.clear()
        self._always = Fault()

    def routes(self) -> list[BaseRoute]:
        return [route for route_set in self.route_sets for route in route_set(self)]

    # -- shared request handling ---------------------------------------------------

    async def body(self, request: Request, kind: str,
                   validate: Callable[[str, JSON], JSON] = validate_body) -> JSON:
        """The request's JSON object, validated as the SDK's ``kind`` parameters
        (by ``validate``: each protocol module brings its own table of bodies).

        A bad fault header is refused here too: it is part of a bad request, and
        must not wait until the thread or run has been looked up.
        """
        self._header_fault(request)
        breaks = self.breaks_for(request)
        body = validate(kind, await read_json(request, self.max_body_bytes))
        if breaks and kind in _STREAMING_KINDS:
            body[BREAKS_KEY] = breaks
        return body

    @staticmethod
    def breaks_for(request: Request) -> tuple[str, ...]:
        """The request's ``X-Runflow-Break`` names (see :mod:`.breaks`); unknown: 400."""
        try:
            return parse_breaks(request.headers.get(BREAK_HEADER))
        except BreakSyntaxError as exc:
            raise ApiError(400, str(exc), param=BREAK_HEADER) from None

    @staticmethod
    def _header_fault(request: Request) -> Fault | None:
        header = request.headers.get(FAULT_HEADER)
        if header is None or not header.strip():
            return None
        try:
            return parse_fault(header)
        except FaultSyntaxError as exc:
            raise ApiError(400, str(exc), param=FAULT_HEADER) from None

    def fault_for(self, request: Request) -> Fault:
        """The header's fault, else the next queued one, else the standing one."""
        header = self._header_fault(request)
        if header is not None:
            return header
        return self._once.popleft() if self._once else self._always

    def stream(self, frames: Iterator[Frame], fault: Fault) -> EventStream:
        return EventStream(frames, fault, self.streams)

    def publish(self, events: Iterator[Event]) -> Iterator[Frame]:
        """Apply each event to the store, then hand out its frame; ``done`` last."""
        for event, data in events:
            self.store.apply(event, data)
            yield encode_event(event, data)
        yield done_frame()

    def _replay(self, frames: list[Frame]) -> Iterator[Frame]:
        for frame in frames:
            self.store.apply(frame.event, frame.json())
            yield frame

    def recording(self, request: Request) -> Response | None:
        """The next queued recording as a stream, if one is queued."""
        if not self._recorded:
            return None
        fault = self.fault_for(request)
        return self.stream(self._replay(self._recorded.popleft()), fault)

    def respond(self, events: Iterator[Event], fault: Fault | None) -> Response:
        """Stream the events with ``fault`` (resolved before the run started, so a bad
        header is refused before anything happens), or, without one (not streamed),
        run them to the next stop point and answer with the first run snapshot."""
        if fault is not None:
            return self.stream(self.publish(events), fault)
        first: JSON | None = None
        for name, data in events:
            self.store.apply(name, data)
            if first is None and data.get("object") == "thread.run":
                first = data
        if first is None:
            raise ApiError(500, "The scenario produced no run.", type_="server_error")
        return JSONResponse(first)

    # -- runs ------------------------------------------------------------------------

    def scenario(self, assistant_id: str, metadata: dict[str, Any]) -> Scenario:
        """The run's ``metadata.scenario``, else its assistant's; 404 for no assistant."""
        assistant = self.store.get("assistant", assistant_id)
        name = metadata.get("scenario") or (assistant.get("metadata") or {}).get(
            "scenario", "text")
        if name not in SCENARIOS:
            raise ApiError(400, f"Unknown scenario {name!r}; known: {', '.join(SCENARIOS)}.",
                           param="metadata.scenario")
        return SCENARIOS[name]

    def check_idle(self, thread_id: str) -> None:
        """409 while a run of the thread is active, as the real API refuses then."""
        for run in self.store.runs(thread_id):
            if run.get("status") in ACTIVE:
                raise ApiError(409, f"Thread {thread_id} already has an active run "
                               f"{run['id']} (status {run['status']}).", code="conflict")

    def add_message(self, thread_id: str, body: JSON) -> JSON:
        message: JSON = {
            "id": new_id("msg"), "object": "thread.message", "created_at": int(time.time()),
            "assistant_id": None, "thread_id": thread_id, "run_id": None,
            "status": "completed", "incomplete_details": None, "incomplete_at": None,
            "completed_at": None, "role": body["role"],
            "content": user_content(body["content"]),
            "attachments": body.get("attachments") or [], "metadata": body.get("metadata") or {},
        }
        return self.store.put("message", message)

    def new_thread(self, body: JSON) -> JSON:
        thread: JSON = {"id": new_id("thread"), "object": "thread",
                        "created_at": int(time.time()), "metadata": body.get("metadata") or {},
                        "tool_resources": body.get("tool_resources") or {}}
        self.store.put("thread", thread)
        for message in body.get("messages") or []:
            self.add_message(str(thread["id"]), message)
        return thread

    def start_run(self, request: Request, thread_id: str, body: JSON,
                  scenario: Scenario) -> ScriptedRun:
        metadata = body.get("metadata") or {}
        options = self.options.with_metadata(metadata)
        params = dict(body)
        params["include_content"] = any(
            "content" in value for value in request.query_params.getlist("include[]"))
        script = RunScript(thread_id=thread_id, assistant_id=body["assistant_id"], params=params,
                           tools=copy.deepcopy(scenario.tools), model=options.model)
        for message in body.get("additional_messages") or []:
            self.add_message(thread_id, message)
        run = ScriptedRun(scenario, script, options, breaks=breaks_in(body))
        self.runs[run.run_id] = run
        return run
