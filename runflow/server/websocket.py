"""WebSocket mode of ``/v1/responses`` for the local server: lanes, steering,
successors, warm-up, chaining in connection memory (and from what the REST side
stored, as the real service loads it), a time limit and faults. A response is stored
on the REST side from its ``response.created`` unless its create said ``store: false``
(as the real service persists it), and each event sent updates it there
(:mod:`.websocket_rest`): ``GET /v1/responses/{id}`` shows it ``in_progress`` with its
output so far, then ended; its ``input_items`` and, once it ended, a REST create's
``previous_response_id`` find it, and so does another connection.

Plug it in with the backend's route-set hook (``Backend.route_sets``)::

    mode = WebSocketMode()
    backend.route_sets.append(mode.routes)

uvicorn must run with a WebSocket implementation (the shipped ``Server`` passes
``ws="none"``); :class:`WebSocketServer` runs an app with both for tests.

Each connection answers ``response.create`` per lane (``stream_id``, FIFO; lanes run
concurrently) with the scripted Responses streams of :mod:`.responses_scenarios`,
each event carrying the lane's ``stream_id``. ``metadata.hold = "steer"`` (or ``"steer:N"``)
holds a response after ``response.in_progress`` until one (N) steer events arrive,
accepted or refused (deterministic steering in tests); ``metadata.steering =
"unsupported"`` refuses steering, ``metadata.successor = "fail"`` fails the accepted
steers with ``successor_creation_failed`` instead of creating the successor.
Accepted steers end a text response at its next item boundary with
``response.incomplete`` (reason ``steered``) and an automatic successor whose input is
the steered input and whose ``response.created`` commits exactly those steers; a
response with function calls completes and reports ``response.steer.pending`` with the
``required_input`` stubs, and the create that answers them gets the pending input
prepended (:mod:`.websocket_input`). An answer acknowledges the steering text it took
(``"(steered: ...)"``), so a client sees which response it reached. A create continuing
from a response with function calls must answer each call, as over HTTP; the scenario
carries over from the previous response. Every frame both ways is recorded in
:attr:`WebSocketMode.transcripts`. The fault switches (:data:`FAULTS`) and which frame a
frame fault takes are :mod:`.websocket_faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from runflow.protocols.responses.websocket.transcript import Frame
from runflow.server.responses_scenarios import (
    RESPONSE_SCENARIOS,
    ResponseRequest,
    ScenarioError,
    script_response,
)
from runflow.server.responses_store import ResponseStore, StoredResponse
from runflow.server.scenarios import ScenarioOptions
from runflow.server.store import JSON, new_id
from runflow.server.websocket_faults import FAULTS, Cut, WsFault, frame_fault
from runflow.server.websocket_input import input_items, steer_items, steer_texts, tool_outputs
from runflow.server.websocket_rest import rest_copy

__all__ = ["FAULTS", "HasOptions", "WebSocketMode", "WsFault"]

MAX_PENDING_STEERS = 4
HOLD_SECONDS = 5.0


class HasOptions(Protocol):
    """What WebSocket mode reads of the server's ``Backend`` (typed structurally, so that
    ``runflow.server.backend`` may import this module without a cycle)."""

    @property
    def options(self) -> ScenarioOptions: ...


@dataclass
class _Active:
    id: str
    lane: str | None
    body: JSON
    sequence: int = 0
    steers: list[tuple[str, Any]] = field(default_factory=list)
    steered: asyncio.Event = field(default_factory=asyncio.Event)
    hold: int = 0
    """Steer events still awaited before the response goes on (``metadata.hold``)."""
    ended: bool = False
    scenario: str = "text"
    """The scenario it runs (what a REST create continuing from it inherits)."""
    input: list[JSON] = field(default_factory=list)
    """The input items it ran with (steering input included)."""
    stored: StoredResponse | None = None
    """Its copy on the REST side, written as its events are sent (None: not stored)."""
    response: JSON = field(default_factory=dict)
    """The response as created, with each output item added as it is done: what a
    ``response.incomplete`` sent at a steered boundary carries (a whole Response, as
    the API reference's event requires: ``created_at``, ``model``, the output so far)."""

    def released(self) -> None:
        """One steer event arrived: a hold waiting for it may end."""
        self.hold -= 1
        if self.hold <= 0:
            self.steered.set()


class WebSocketMode:
    """Serves WebSocket mode; faults and the time limit apply to new connections."""

    def __init__(self, *, max_seconds: float | None = None) -> None:
        self.max_seconds = max_seconds
        self.faults: list[WsFault] = []
        self.transcripts: list[list[Frame]] = []
        self.inputs: dict[str, list[JSON]] = {}
        """Response id -> the input items it ran with (steering input included), which
        a real server keeps to itself; for tests of where steered input went."""
        self.persist = True
        """Whether responses (``store`` not false) are stored on the REST side;
        False stands for a service that cannot load them (ZDR, or a cache the new
        socket misses): a continuation on a new socket is then
        ``previous_response_not_found``."""
        self.faulted: list[tuple[str, int]] = []
        """Each frame fault applied: its name and the transcript index it shows at (a
        dropped frame: the index the next frame takes; a cut: the transcript's end)."""
        self.backend: HasOptions | None = None

    def inject(self, name: str, at: int = 0) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown WebSocket fault {name!r}; one of {FAULTS}")
        self.faults.append(WsFault(name, at))

    def routes(self, backend: HasOptions) -> list[BaseRoute]:
        """The route set (``backend.route_sets.append(mode.routes)``)."""
        self.backend = backend
        return [WebSocketRoute("/v1/responses", self._endpoint)]

    async def _endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        transcript: list[Frame] = []
        self.transcripts.append(transcript)
        conn = _Connection(self, websocket, transcript, list(self.faults))
        self.faults.clear()
        await conn.run()


class _Connection:
    def __init__(self, mode: WebSocketMode, ws: WebSocket, transcript: list[Frame],
                 faults: list[WsFault]) -> None:
        self.mode, self.ws, self.transcript = mode, ws, transcript
        self.faults = {f.name: f for f in faults}
        self.memory: dict[str, JSON] = {}
        self.active: dict[str, _Active] = {}
        self.lanes: dict[str | None, asyncio.Queue[JSON]] = {}
        self.running: dict[str | None, _Active] = {}
        self.pending: dict[str, list[tuple[str, Any]]] = {}
        """Parent response id -> its accepted ``(steer id, input)`` awaiting required input."""
        self.tasks: list[asyncio.Task[None]] = []
        self.lock = asyncio.Lock()
        self.steer_sequence = 0
        self.started = time.monotonic()
        self.closed = False

    # -- frames -----------------------------------------------------------------
    def _record(self, kind: str, text: str) -> None:
        self.transcript.append(Frame(kind, text, time.time()))  # type: ignore[arg-type]

    async def send(self, event: JSON) -> None:
        async with self.lock:
            if self.closed:
                return
            others = [k for k in self.running if k != event.get("stream_id")]
            fault = frame_fault(self.faults, len(self.transcript), event, others)
            if fault is not None:
                del self.faults[fault.name]
                self.mode.faulted.append((fault.name, len(self.transcript) + (
                    fault.name == "duplicate")))
                if fault.name == "drop":
                    return
                if fault.name == "cut":
                    raise Cut
                if fault.name == "wrong_lane":
                    event = dict(event, stream_id=others[0])
            text = json.dumps(event)
            for _ in range(2 if fault is not None and fault.name == "duplicate" else 1):
                self._record("receive", text)
                await self.ws.send_text(text)
        await asyncio.sleep(0)  # let the other lanes and the reader run between frames

    async def run(self) -> None:
        watchdog = (asyncio.create_task(self._limit()) if self.mode.max_seconds is not None
                    else None)
        try:
            while True:
                text = await self.ws.receive_text()
                self._record("send", text)
                await self._on_client(text)
        except (WebSocketDisconnect, Cut, RuntimeError):
            pass
        finally:
            self.closed = True
            for task in (*self.tasks, *([watchdog] if watchdog else [])):
                task.cancel()
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def _limit(self) -> None:
        assert self.mode.max_seconds is not None
        await asyncio.sleep(self.mode.max_seconds)
        await self.send({"type": "error", "status": 400, "error": {
            "type": "invalid_request_error", "code": "websocket_connection_limit_reached",
            "message": "The WebSocket connection reached its time limit. (runflow)"}})
        self.closed = True
        await self.ws.close()

    def _parent(self, previous: Any) -> JSON | None:
        """The response a create continues from: in this connection's memory, else one
        the REST side stored (``store`` not false) and finished -- as the real service
        loads an older response from persisted state when it is not in the connection's
        cache (openai-python's ``lib/responses_websocket/README.md``: "With
        ``store=True``, an older response may be loaded from persisted state. With
        ``store=False`` or ZDR, an uncached ID produces ``previous_response_not_found``")."""
        if type(previous) is not str:
            return None
        remembered = self.memory.get(previous)
        if remembered is not None:
            return remembered
        store = self._rest_store()
        if store is None or previous not in store:
            return None
        stored = store.get(previous)
        if stored.readers == 0:
            stored.publish()  # a background response nobody streams runs when it is read
        return stored.view() if stored.finished else None

    def _rest_store(self) -> ResponseStore | None:
        """The server's REST side's stored responses (None: a backend without one)."""
        responses = getattr(self.mode.backend, "responses", None)
        store: ResponseStore | None = getattr(responses, "store", None)
        return store

    def _error(self, code: str, message: str, lane: str | None, param: str | None = None,
               ) -> JSON:
        event: JSON = {"type": "error", "status": 400, "error": {
            "type": "invalid_request_error", "code": code, "message": message,
            "param": param}}
        if lane is not None:
            event["stream_id"] = lane
        return event

    async def _on_client(self, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError:
            await self.send(self._error("invalid_json", "The frame is not JSON.", None))
            return
        if not isinstance(event, dict):
            await self.send(self._error("invalid_event", "An event is an object.", None))
            return
        if event.get("type") == "response.create":
            lane = event.get("stream_id") if isinstance(event.get("stream_id"), str) else None
            if lane in self.running and "busy_lane" in self.faults:
                self.tasks.append(asyncio.create_task(self._guarded(self._respond(event))))
                return
            if lane not in self.lanes:
                self.lanes[lane] = asyncio.Queue()
                self.tasks.append(asyncio.create_task(self._guarded(self._lane(lane))))
            self.lanes[lane].put_nowait(event)
        elif event.get("type") == "response.steer":
            await self._steer(event)
        else:
            await self.send(self._error("unknown_event_type",
                                        f"Unknown event type {event.get('type')!r}.", None))

    async def _guarded(self, work: Any) -> None:
        try:
            await work
        except Cut:
            self.closed = True
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def _lane(self, lane: str | None) -> None:
        queue = self.lanes[lane]
        while True:
            await self._respond(await queue.get())

    # -- responses --------------------------------------------------------------
    async def _respond(self, body: JSON, successor_of: str | None = None,
                       steered: list[tuple[str, Any]] | None = None) -> None:
        """Run one response; ``steered`` is the accepted input an automatic successor
        commits (its ``input`` already holds it)."""
        lane = body.get("stream_id") if isinstance(body.get("stream_id"), str) else None
        for name in ("stream", "background"):
            if name in body:
                await self.send(self._error("invalid_request_error", f"{name!r} is not "
                                            "supported in WebSocket mode.", lane, name))
                return
        previous = body.get("previous_response_id")
        parent = self._parent(previous)
        if previous is not None and parent is None:
            await self.send(self._error("previous_response_not_found",
                                        f"Previous response {previous!r} not found.", lane,
                                        "previous_response_id"))
            return
        metadata: JSON = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
        inherited = parent.get("metadata") if parent is not None else None
        scenario = str(metadata.get("scenario") or (  # else the previous response's
            inherited.get("scenario") if isinstance(inherited, dict) else None) or "text")
        if successor_of is not None:  # steering stops text answers only: the successor
            scenario = "text"         # goes on answering, in text, with the steer taken
        assert self.mode.backend is not None
        options = self.mode.backend.options.with_metadata(metadata)
        request_body = {k: v for k, v in body.items() if k not in ("type", "stream_id")}
        # the explicit create answering required input: the queued steers go first
        committed = steered if steered is not None else self.pending.get(str(previous), [])
        if steered is None and committed:
            request_body["input"] = [*steer_items(committed),
                                     *input_items(body.get("input"))]
        outputs, refusal = tool_outputs(input_items(request_body.get("input")), parent)
        if refusal:
            await self.send(self._error("invalid_request_error", refusal, lane, "input"))
            return
        wanted = ResponseRequest(request_body, options, outputs, steer_texts(committed))
        try:
            events = (script_response("text", wanted)[:1] if body.get("generate") is False
                      else script_response(scenario if scenario in RESPONSE_SCENARIOS
                                           else "text", wanted))
        except (ScenarioError, KeyError) as exc:
            await self.send(self._error("invalid_request_error", str(exc), lane))
            return
        first = events[0]["response"]
        rid = first["id"]
        self.mode.inputs[rid] = input_items(request_body.get("input"))
        active = _Active(rid, lane, body, input=self.mode.inputs[rid], scenario=(
            scenario if scenario in RESPONSE_SCENARIOS and body.get("generate") is not False
            else "text"))
        self.active[rid] = active
        self.running[lane] = active
        if previous is not None:  # its response.created commits the steers left pending
            self.pending.pop(previous, None)
        if body.get("generate") is False:
            done = dict(first, status="completed", completed_at=int(time.time()))
            events = [events[0], {"type": "response.completed", "sequence_number": 1,
                                  "response": done}]
        if successor_of is not None:  # the fault: a successor that continues from nothing
            continues = None if "successor_uncommitted" in self.faults else successor_of
            for event in events:
                if "response" in event:
                    event["response"]["previous_response_id"] = continues
        active.response = copy.deepcopy(events[0]["response"])
        calls = [e["item"] for e in events if e["type"] == "response.output_item.done"
                 and e["item"].get("type") == "function_call"]
        hold = str(metadata.get("hold", ""))
        if hold.startswith("steer"):  # "steer" or "steer:N": wait for N steer events
            count = hold.partition(":")[2]
            active.hold = int(count) if count.isdigit() else 1
        if self.mode.persist:
            active.stored = rest_copy(self._rest_store(), events[0], active)
        written = 0
        try:
            for event in events:
                if lane is not None:
                    event["stream_id"] = lane
                kind = event["type"]
                if active.steers and not calls and kind in ("response.output_item.added",
                                                            "response.completed"):
                    await self._steered(active, event["sequence_number"])
                    return
                if written and active.stored is not None:  # (response.created made it)
                    active.stored.write(event)
                written += 1
                if kind == "response.output_item.done":
                    active.response.setdefault("output", []).append(
                        copy.deepcopy(event["item"]))
                if kind.startswith("response.") and kind[9:] in ("completed", "incomplete",
                                                                  "failed"):
                    self._finish(active, event["response"])
                await self.send(event)
                if kind == "response.in_progress" and active.hold:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(active.steered.wait(), HOLD_SECONDS)
        finally:
            if active.stored is not None and not active.ended:
                # the socket went (cut, closed): the run goes on server-side to its
                # end, as the REST side drains a stream its client left
                for event in events[written:]:
                    active.stored.write(event)
                active.stored.close()
        if active.steers and calls:
            stubs = [{"type": "function_call_output", "call_id": c["call_id"],
                      "name": c["name"]} for c in calls]
            for steer_id, _ in active.steers:
                await self.send(self._steer_event("response.steer.pending", active,
                                                  {"id": steer_id,
                                                   "previous_response_id": rid},
                                                  reason="waiting_for_required_input",
                                                  required_input=stubs))
            self.pending[rid] = list(active.steers)

    def _finish(self, active: _Active, response: JSON) -> None:
        active.ended = True
        self.memory[active.id] = copy.deepcopy(response)
        if self.running.get(active.lane) is active:
            del self.running[active.lane]

    async def _steered(self, active: _Active, sequence: int) -> None:
        """End ``active`` at this boundary and run its successor with the queued input."""
        response = dict(active.response, status="incomplete",
                        incomplete_details={"reason": "steered"})
        response.setdefault("output", [])
        stopped: JSON = {"type": "response.incomplete", "sequence_number": sequence,
                         "response": response}
        if active.lane is not None:
            stopped["stream_id"] = active.lane
        if active.stored is not None:
            active.stored.write(stopped)
        self._finish(active, stopped["response"])
        await self.send(stopped)
        if (active.body.get("metadata") or {}).get("successor") == "fail":
            for steer_id, inp in active.steers:
                await self.send(self._steer_event(
                    "response.steer.failed", active,
                    {"id": steer_id, "previous_response_id": active.id, "input": inp},
                    error={"code": "successor_creation_failed", "type": "invalid_request_error",
                           "message": "The successor response could not be created. (runflow)"}))
            return
        body = {k: v for k, v in active.body.items() if k != "metadata"}
        body["previous_response_id"] = active.id
        body["input"] = steer_items(active.steers)  # it continues with the queued input
        await self._respond(body, successor_of=active.id, steered=list(active.steers))

    # -- steering ---------------------------------------------------------------
    def _steer_event(self, kind: str, active: _Active | None, steer: JSON,
                     **fields: Any) -> JSON:
        event: JSON = {"type": kind, "sequence_number": self.steer_sequence, "steer": steer,
                       **fields}
        self.steer_sequence += 1
        if active is not None and active.lane is not None:
            event["stream_id"] = active.lane
        return event

    async def _steer(self, event: JSON) -> None:
        target = event.get("previous_response_id")
        inp = event.get("input")
        active = self.active.get(target) if isinstance(target, str) else None
        returned = {"previous_response_id": target, "input": inp}
        code = None
        if active is None:
            code = "response_not_found"
        elif not _user_input(inp) or "stream_id" in event:
            code = "invalid_input"
        elif active.ended:
            code = "response_already_completed"
        elif (active.body.get("metadata") or {}).get("steering") == "unsupported":
            code = "steering_not_supported"
        elif len(active.steers) >= MAX_PENDING_STEERS:
            code = "too_many_pending_steers"
        if code is not None:
            if active is not None:
                active.released()  # a refused steer counts towards a hold too
            await self.send(self._steer_event(
                "response.steer.failed", active, returned, error={
                    "code": code, "message": f"Steering failed: {code}. (runflow)",
                    "type": "invalid_request_error"}))
            return
        assert active is not None
        steer_id = new_id("steer")
        active.steers.append((steer_id, inp))
        active.released()
        if "steer_unacked" not in self.faults:
            await self.send(self._steer_event("response.steer.accepted", active,
                                              {"id": steer_id, "previous_response_id": target}))


def _user_input(inp: Any) -> bool:
    if isinstance(inp, str):
        return bool(inp)
    return isinstance(inp, list) and bool(inp) and all(
        isinstance(i, dict) and i.get("role") == "user" for i in inp)
