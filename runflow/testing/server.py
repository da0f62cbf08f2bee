"""An Assistants-compatible HTTP server for tests, with scripted runs and fault injection.

``create_app`` builds the Starlette (ASGI) app, ``Server`` runs it with uvicorn in
a background thread on a free loopback port, ``serve`` runs it in the foreground.
Streamed answers come, in this priority, from queued recordings
(:meth:`Backend.enqueue_recording`) or from the scenario of the run's assistant.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import itertools
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .faults import FAULT_HEADER, Cut, Fault, FaultSyntaxError, apply_faults, parse_fault
from .scenarios import (
    BUILTIN_ASSISTANTS,
    SCENARIOS,
    TERMINAL,
    CannotCancel,
    Event,
    RunScript,
    Scenario,
    ScenarioOptions,
    ScriptedRun,
    SubmitError,
    assistant_object,
)
from .sse import Frame, done_frame, encode_event, load_recording
from .store import JSON, NotFound, Store, new_id

__all__ = ["Backend", "Server", "create_app", "serve"]


class ApiError(Exception):
    """An error answered with OpenAI's ``{"error": {...}}`` body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = (
            status, message, type_, param, code)

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}
        return JSONResponse(body, status_code=self.status)


# uvicorn logs an error when a response is left unfinished; for deliberate cuts
# that is the point, so the log record is dropped (only in that request's context).
_deliberate_cut: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "runflow_deliberate_cut", default=False)


class _HideDeliberateCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (_deliberate_cut.get() and "without completing response" in record.msg)


logging.getLogger("uvicorn.error").addFilter(_HideDeliberateCuts())


class EventStream(Response):
    """A ``text/event-stream`` response written frame by frame, with faults applied.

    When the stream is cut, hits an injected error or the client goes away, the
    remaining frames are still pulled (and thus applied to the store): the run
    goes on server-side, as on a real server.
    """

    media_type = "text/event-stream"

    def __init__(self, frames: Iterator[Frame], fault: Fault) -> None:
        super().__init__(media_type=self.media_type)
        self._frames = frames
        self._fault = fault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
        ]})
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        complete = False
        try:
            for item in apply_faults(self._frames, self._fault):
                if isinstance(item, Cut) or gone.is_set():
                    break
                await send({"type": "http.response.body", "body": item.raw, "more_body": True})
                if self._fault.delay:  # before producing the next event: REST stays in step
                    await asyncio.sleep(self._fault.delay)
            else:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                complete = True
        finally:
            watcher.cancel()
            for _ in self._frames:
                pass
        if not complete:
            _deliberate_cut.set(True)


def _list(items: list[JSON], limit: int) -> JSONResponse:
    page = items[:limit]
    return JSONResponse({
        "object": "list", "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    })


def _user_content(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    parts = []
    for part in content or []:
        if isinstance(part, dict) and part.get("type") == "text":
            parts.append({"type": "text", "text": {"value": part.get("text", ""),
                                                   "annotations": []}})
        elif isinstance(part, dict):
            parts.append(part)
    return parts


class Backend:
    """The server's state and endpoints: store, live scripted runs, queued streams, faults."""

    def __init__(self, store: Store | None = None, *,
                 options: ScenarioOptions | None = None) -> None:
        self.store = store if store is not None else Store()
        self.options = options or ScenarioOptions()
        self.runs: dict[str, ScriptedRun] = {}
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

    # -- helpers -----------------------------------------------------------------

    def _fault_for(self, request: Request) -> Fault:
        fault = self._once.popleft() if self._once else self._always
        header = request.headers.get(FAULT_HEADER)
        if header:
            try:
                fault = fault.merge(parse_fault(header))
            except FaultSyntaxError as exc:
                raise ApiError(400, str(exc), param=FAULT_HEADER) from None
        return fault

    def _publish(self, events: Iterator[Event]) -> Iterator[Frame]:
        """Apply each event to the store, then hand out its frame; ``done`` last."""
        for event, data in events:
            self.store.apply(event, data)
            yield encode_event(event, data)
        yield done_frame()

    def _replay(self, frames: list[Frame]) -> Iterator[Frame]:
        for frame in frames:
            self.store.apply(frame.event, frame.json())
            yield frame

    def _recording(self, request: Request) -> Response | None:
        if not self._recorded:
            return None
        return EventStream(self._replay(self._recorded.popleft()), self._fault_for(request))

    def _respond(self, request: Request, events: Iterator[Event], stream: bool) -> Response:
        """Stream the events, or run them to the next stop point and return the first run."""
        if stream:
            return EventStream(self._publish(events), self._fault_for(request))
        first: JSON | None = None
        for _event, data in events:
            self.store.apply(_event, data)
            if first is None and data.get("object") == "thread.run":
                first = data
        assert first is not None
        return JSONResponse(first)

    def _scenario(self, assistant_id: Any, metadata: dict[str, Any]) -> Scenario:
        name = metadata.get("scenario")
        if not isinstance(assistant_id, str):
            raise ApiError(400, "Missing required parameter: 'assistant_id'.",
                           param="assistant_id")
        if not name:
            name = self.store.get("assistant", assistant_id)["metadata"].get("scenario", "text")
        if name not in SCENARIOS:
            raise ApiError(400, f"Unknown scenario {name!r}; known: {', '.join(SCENARIOS)}.",
                           param="metadata")
        return SCENARIOS[name]

    def _add_message(self, thread_id: str, body: JSON) -> JSON:
        message: JSON = {
            "id": new_id("msg"), "object": "thread.message", "created_at": int(time.time()),
            "assistant_id": None, "thread_id": thread_id, "run_id": None,
            "status": "completed", "incomplete_details": None, "incomplete_at": None,
            "completed_at": None, "role": body.get("role", "user"),
            "content": _user_content(body.get("content")),
            "attachments": body.get("attachments") or [], "metadata": body.get("metadata") or {},
        }
        return self.store.put("message", message)

    def _new_thread(self, body: JSON) -> JSON:
        thread: JSON = {"id": new_id("thread"), "object": "thread", "created_at": int(time.time()),
                  "metadata": body.get("metadata") or {},
                  "tool_resources": body.get("tool_resources") or {}}
        self.store.put("thread", thread)
        for message in body.get("messages") or []:
            self._add_message(str(thread["id"]), message)
        return thread

    def _start_run(self, request: Request, thread_id: str, body: JSON) -> ScriptedRun:
        metadata = body.get("metadata") or {}
        scenario = self._scenario(body.get("assistant_id"), metadata)
        options = self.options.with_metadata(metadata)
        params = dict(body)
        params["include_content"] = any(
            "content" in value for value in request.query_params.getlist("include[]"))
        script = RunScript(thread_id=thread_id, assistant_id=body["assistant_id"], params=params,
                           tools=copy.deepcopy(scenario.tools), model=options.model)
        for message in body.get("additional_messages") or []:
            self._add_message(thread_id, message)
        run = ScriptedRun(scenario, script, options)
        self.runs[run.run_id] = run
        return run

    @staticmethod
    async def _body(request: Request) -> JSON:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise ApiError(400, "We could not parse the JSON body of your request.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The request body must be a JSON object.")
        return body

    @staticmethod
    def _limit(request: Request) -> int:
        try:
            return max(1, min(100, int(request.query_params.get("limit", "20"))))
        except ValueError:
            raise ApiError(400, "Invalid 'limit': expected an integer.", param="limit") from None

    @staticmethod
    def _order(request: Request) -> Any:
        order = request.query_params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(400, "Invalid 'order': expected 'asc' or 'desc'.", param="order")
        return order

    # -- endpoints -----------------------------------------------------------------

    async def create_assistant(self, request: Request) -> Response:
        body = await self._body(request)
        metadata = body.get("metadata") or {}
        scenario = metadata.get("scenario", "text")
        if scenario not in SCENARIOS:
            raise ApiError(400, f"Unknown scenario {scenario!r}.", param="metadata")
        assistant = assistant_object(
            new_id("asst"), scenario, int(time.time()), model=body.get("model") or "gpt-4o",
            name=body.get("name"), instructions=body.get("instructions"),
            tools=body.get("tools"), metadata={"scenario": scenario, **metadata},
        )
        return JSONResponse(self.store.put("assistant", assistant))

    async def get_assistant(self, request: Request) -> Response:
        return JSONResponse(self.store.get("assistant", request.path_params["assistant_id"]))

    async def create_thread(self, request: Request) -> Response:
        return JSONResponse(self._new_thread(await self._body(request)))

    async def get_thread(self, request: Request) -> Response:
        return JSONResponse(self.store.thread(request.path_params["thread_id"]))

    async def create_message(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        self.store.thread(thread_id)
        return JSONResponse(self._add_message(thread_id, await self._body(request)))

    async def list_messages(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        self.store.thread(thread_id)
        q = request.query_params
        items = self.store.messages(thread_id, order=self._order(request),
                                    run_id=q.get("run_id"), after=q.get("after"),
                                    before=q.get("before"))
        return _list(items, self._limit(request))

    async def get_message(self, request: Request) -> Response:
        p = request.path_params
        return JSONResponse(self.store.message(p["thread_id"], p["message_id"]))

    async def create_run(self, request: Request) -> Response:
        body = await self._body(request)
        stream = bool(body.get("stream"))
        if stream and (replay := self._recording(request)) is not None:
            return replay
        thread_id = request.path_params["thread_id"]
        self.store.thread(thread_id)
        return self._respond(request, self._start_run(request, thread_id, body).start(), stream)

    async def create_thread_and_run(self, request: Request) -> Response:
        body = await self._body(request)
        stream = bool(body.get("stream"))
        if stream and (replay := self._recording(request)) is not None:
            return replay
        self._scenario(body.get("assistant_id"), body.get("metadata") or {})
        thread = self._new_thread(body.get("thread") or {})
        run = self._start_run(request, thread["id"], body)
        events = itertools.chain([("thread.created", thread)], run.start())
        return self._respond(request, events, stream)

    async def list_runs(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        self.store.thread(thread_id)
        q = request.query_params
        items = self.store.runs(thread_id, order=self._order(request), after=q.get("after"),
                                before=q.get("before"))
        return _list(items, self._limit(request))

    async def get_run(self, request: Request) -> Response:
        p = request.path_params
        return JSONResponse(self.store.run(p["thread_id"], p["run_id"]))

    async def submit_tool_outputs(self, request: Request) -> Response:
        body = await self._body(request)
        stream = bool(body.get("stream"))
        if stream and (replay := self._recording(request)) is not None:
            return replay
        p = request.path_params
        self.store.run(p["thread_id"], p["run_id"])
        run = self.runs.get(p["run_id"])
        if run is None:
            raise ApiError(400, "This run cannot be continued by the test server.")
        try:
            events = run.submit(body.get("tool_outputs") or [])
        except SubmitError as exc:
            raise ApiError(400, str(exc), param="tool_outputs") from None
        return self._respond(request, events, stream)

    async def cancel_run(self, request: Request) -> Response:
        p = request.path_params
        stored = self.store.run(p["thread_id"], p["run_id"])
        run = self.runs.get(p["run_id"])
        try:
            if run is not None:
                events = run.cancel()
            elif stored["status"] in TERMINAL or stored["status"] == "cancelling":
                raise CannotCancel(f"Cannot cancel run with status '{stored['status']}'.")
            else:  # a replayed run: no script, just record the outcome
                now = int(time.time())
                cancelling = dict(stored, status="cancelling", required_action=None)
                events = [("thread.run.cancelling", cancelling),
                          ("thread.run.cancelled", dict(cancelling, status="cancelled",
                                                        cancelled_at=now, expires_at=None))]
        except CannotCancel as exc:
            raise ApiError(400, str(exc)) from None
        for event, data in events:
            self.store.apply(event, data)
        return JSONResponse(events[0][1])  # like the real API: the run, now "cancelling"

    async def list_steps(self, request: Request) -> Response:
        p, q = request.path_params, request.query_params
        self.store.run(p["thread_id"], p["run_id"])
        items = self.store.steps(p["run_id"], order=self._order(request), after=q.get("after"),
                                 before=q.get("before"))
        return _list(items, self._limit(request))

    async def get_step(self, request: Request) -> Response:
        p = request.path_params
        self.store.run(p["thread_id"], p["run_id"])
        return JSONResponse(self.store.step(p["run_id"], p["step_id"]))

    def routes(self) -> list[Route]:
        runs = "/v1/threads/{thread_id}/runs"
        return [
            Route("/v1/assistants", self.create_assistant, methods=["POST"]),
            Route("/v1/assistants/{assistant_id}", self.get_assistant, methods=["GET"]),
            Route("/v1/threads/runs", self.create_thread_and_run, methods=["POST"]),
            Route("/v1/threads", self.create_thread, methods=["POST"]),
            Route("/v1/threads/{thread_id}", self.get_thread, methods=["GET"]),
            Route("/v1/threads/{thread_id}/messages", self.create_message, methods=["POST"]),
            Route("/v1/threads/{thread_id}/messages", self.list_messages, methods=["GET"]),
            Route("/v1/threads/{thread_id}/messages/{message_id}", self.get_message,
                  methods=["GET"]),
            Route(runs, self.create_run, methods=["POST"]),
            Route(runs, self.list_runs, methods=["GET"]),
            Route(runs + "/{run_id}", self.get_run, methods=["GET"]),
            Route(runs + "/{run_id}/cancel", self.cancel_run, methods=["POST"]),
            Route(runs + "/{run_id}/submit_tool_outputs", self.submit_tool_outputs,
                  methods=["POST"]),
            Route(runs + "/{run_id}/steps", self.list_steps, methods=["GET"]),
            Route(runs + "/{run_id}/steps/{step_id}", self.get_step, methods=["GET"]),
        ]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotFound)
    return ApiError(404, exc.message).response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = f"Invalid URL ({request.method} {request.url.path})"
    return ApiError(exc.status_code, message if exc.status_code in (404, 405) else exc.detail
                    ).response()


def create_app(store: Store | None = None, *, backend: Backend | None = None,
               options: ScenarioOptions | None = None) -> Starlette:
    """The ASGI app; ``app.state.backend`` holds the :class:`Backend`."""
    backend = backend or Backend(store, options=options)
    app = Starlette(routes=backend.routes(), exception_handlers={
        ApiError: _api_error, NotFound: _not_found, HTTPException: _http_error,
    })
    app.state.backend = backend
    return app


def serve(host: str = "127.0.0.1", port: int = 8000, *, store: Store | None = None,
          options: ScenarioOptions | None = None, recordings: Iterable[str | Path] = (),
          fault: Fault | str | None = None, log_level: str = "info") -> None:
    """Run the server in the foreground until interrupted (for ``runflow serve``)."""
    backend = Backend(store, options=options)
    for path in recordings:
        backend.enqueue_recording(path)
    if fault:
        backend.inject(fault, always=True)
    uvicorn.run(create_app(backend=backend), host=host, port=port, log_level=log_level,
                lifespan="off", ws="none")


class Server:
    """The app on a free loopback port, in a background thread::

        with Server() as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="test")
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, store: Store | None = None,
                 options: ScenarioOptions | None = None,
                 recordings: Iterable[str | Path] = (), fault: Fault | str | None = None,
                 log_level: str = "warning") -> None:
        self.host, self._port, self._log_level = host, port, log_level
        self.backend = Backend(store, options=options)
        for path in recordings:
            self.backend.enqueue_recording(path)
        if fault:
            self.backend.inject(fault, always=True)
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def store(self) -> Store:
        return self.backend.store

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("server not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What ``openai.OpenAI(base_url=...)`` expects: the URL ending in ``/v1``."""
        return self.url + "/v1"

    def enqueue_recording(self, path: str | Path) -> int:
        return self.backend.enqueue_recording(path)

    def enqueue_events(self, events: Iterable[tuple[str, Any]]) -> None:
        self.backend.enqueue_events(events)

    def inject(self, fault: Fault | str, *, always: bool = False) -> None:
        self.backend.inject(fault, always=always)

    def clear_faults(self) -> None:
        self.backend.clear_faults()

    def start(self, timeout: float = 10.0) -> Server:
        """Bind, start uvicorn in a daemon thread and wait until it accepts connections."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # accepted sockets inherit this; without it small writes wait ~40 ms (Nagle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self._port))
        self._socket = sock
        config = uvicorn.Config(create_app(backend=self.backend), log_config=None,
                                log_level=self._log_level, lifespan="off", ws="none",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"runflow-server-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("runflow test server did not start")
            time.sleep(0.005)
        with socket.create_connection((self.host, self.port), timeout=timeout):
            pass
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and join its thread (forcing it if it lingers)."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=3)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout=3)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
