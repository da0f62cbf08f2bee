"""The Assistants API v2 endpoints the ``openai`` SDKs call, over a backend core
(:class:`~runflow.server.core.BackendCore`).

assistants create/retrieve/update/list/delete; threads create/retrieve/update/
delete; messages create/retrieve/update/list/delete; runs create/retrieve/update/
list/cancel and ``submit_tool_outputs``; run steps retrieve/list; threads
``create_and_run``. Runs are streamed (``stream: true``) or, without it, played
to their next stop point at once and answered with the run as first created (a
client then polls it). Every body is validated (:mod:`.validation`), every list
paginated as documented (:mod:`.pagination`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from runflow.server.core import BackendCore
from runflow.server.errors import ApiError
from runflow.server.pagination import page, page_query
from runflow.server.scenarios import (
    SCENARIOS,
    TERMINAL,
    CannotCancel,
    Event,
    SubmitError,
    assistant_object,
)
from runflow.server.store import JSON, Store, new_id

__all__ = ["ROUTES", "AssistantsApi", "assistants_routes"]

UPDATABLE_ASSISTANT = ("description", "instructions", "metadata", "model", "name",
                       "reasoning_effort", "response_format", "temperature", "tool_resources",
                       "tools", "top_p")


def _deleted(object_id: str, kind: str) -> JSONResponse:
    return JSONResponse({"id": object_id, "object": f"{kind}.deleted", "deleted": True})


def _scenario_of(metadata: JSON, default: str) -> str:
    name = metadata.get("scenario", default)
    if name not in SCENARIOS:
        raise ApiError(400, f"Unknown scenario {name!r}; known: {', '.join(SCENARIOS)}.",
                       param="metadata.scenario")
    return str(name)


class AssistantsApi:
    """One method per endpoint; :func:`assistants_routes` maps them to URLs."""

    def __init__(self, backend: BackendCore) -> None:
        self.b = backend

    @property
    def store(self) -> Store:
        return self.b.store

    # -- assistants ------------------------------------------------------------------

    async def create_assistant(self, request: Request) -> Response:
        body = await self.b.body(request, "assistant.create")
        metadata = body.get("metadata") or {}
        scenario = _scenario_of(metadata, "text")
        assistant = assistant_object(
            new_id("asst"), scenario, int(time.time()), model=body["model"],
            name=body.get("name"), description=body.get("description"),
            instructions=body.get("instructions"), tools=body.get("tools"),
            tool_resources=body.get("tool_resources"), temperature=body.get("temperature"),
            top_p=body.get("top_p"), response_format=body.get("response_format"),
            reasoning_effort=body.get("reasoning_effort"),
            metadata={"scenario": scenario, **metadata},
        )
        return JSONResponse(self.store.put("assistant", assistant))

    async def get_assistant(self, request: Request) -> Response:
        return JSONResponse(self.store.get("assistant", request.path_params["assistant_id"]))

    async def update_assistant(self, request: Request) -> Response:
        assistant = self.store.get("assistant", request.path_params["assistant_id"])
        body = await self.b.body(request, "assistant.update")
        if "metadata" in body:  # the scenario stays unless the new metadata names one
            old = (assistant.get("metadata") or {}).get("scenario", "text")
            metadata = body["metadata"] or {}
            body["metadata"] = {"scenario": _scenario_of(metadata, old), **metadata}
        assistant.update({k: v for k, v in body.items() if k in UPDATABLE_ASSISTANT})
        return JSONResponse(self.store.put("assistant", assistant))

    async def list_assistants(self, request: Request) -> Response:
        return JSONResponse(page(self.store.assistants(), page_query(request),
                                 "assistant").body())

    async def delete_assistant(self, request: Request) -> Response:
        assistant_id = request.path_params["assistant_id"]
        self.store.delete("assistant", assistant_id)
        return _deleted(assistant_id, "assistant")

    # -- threads ---------------------------------------------------------------------

    async def create_thread(self, request: Request) -> Response:
        return JSONResponse(self.b.new_thread(await self.b.body(request, "thread.create")))

    async def get_thread(self, request: Request) -> Response:
        return JSONResponse(self.store.thread(request.path_params["thread_id"]))

    async def update_thread(self, request: Request) -> Response:
        thread = self.store.thread(request.path_params["thread_id"])
        body = await self.b.body(request, "thread.update")
        for key in ("metadata", "tool_resources"):
            if key in body:
                thread[key] = body[key] or {}
        return JSONResponse(self.store.put("thread", thread))

    async def delete_thread(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        self.store.delete("thread", thread_id)
        return _deleted(thread_id, "thread")

    # -- messages --------------------------------------------------------------------

    async def create_message(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        self.store.thread(thread_id)
        body = await self.b.body(request, "message.create")
        self.b.check_idle(thread_id)
        return JSONResponse(self.b.add_message(thread_id, body))

    async def list_messages(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        self.store.thread(thread_id)
        query = page_query(request)
        run_id = request.query_params.get("run_id")
        items = self.store.messages(thread_id, order="asc", run_id=run_id)
        return JSONResponse(page(items, query, "message").body())

    async def get_message(self, request: Request) -> Response:
        p = request.path_params
        return JSONResponse(self.store.message(p["thread_id"], p["message_id"]))

    async def update_message(self, request: Request) -> Response:
        p = request.path_params
        message = self.store.message(p["thread_id"], p["message_id"])
        body = await self.b.body(request, "message.update")
        if "metadata" in body:
            message["metadata"] = body["metadata"] or {}
        return JSONResponse(self.store.put("message", message))

    async def delete_message(self, request: Request) -> Response:
        p = request.path_params
        self.store.message(p["thread_id"], p["message_id"])
        self.store.delete("message", p["message_id"])
        return _deleted(p["message_id"], "thread.message")

    # -- runs ------------------------------------------------------------------------

    async def create_run(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        body = await self.b.body(request, "run.create")
        stream = bool(body.get("stream"))
        if stream and (replay := self.b.recording(request)) is not None:
            return replay
        self.store.thread(thread_id)
        scenario = self.b.scenario(body["assistant_id"], body.get("metadata") or {})
        self.b.check_idle(thread_id)
        fault = self.b.fault_for(request) if stream else None  # a bad header: 400 first
        run = self.b.start_run(request, thread_id, body, scenario)
        return self.b.respond(run.start(), fault)

    async def create_thread_and_run(self, request: Request) -> Response:
        body = await self.b.body(request, "thread.create_and_run")
        stream = bool(body.get("stream"))
        if stream and (replay := self.b.recording(request)) is not None:
            return replay
        scenario = self.b.scenario(body["assistant_id"], body.get("metadata") or {})
        fault = self.b.fault_for(request) if stream else None
        thread = self.b.new_thread(body.get("thread") or {})
        run = self.b.start_run(request, thread["id"], body, scenario)
        events = itertools.chain([("thread.created", thread)], run.start())
        return self.b.respond(events, fault)

    async def list_runs(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        self.store.thread(thread_id)
        query = page_query(request)
        return JSONResponse(page(self.store.runs(thread_id, order="asc"), query, "run").body())

    async def get_run(self, request: Request) -> Response:
        p = request.path_params
        return JSONResponse(self.store.run(p["thread_id"], p["run_id"]))

    async def update_run(self, request: Request) -> Response:
        p = request.path_params
        run = self.store.run(p["thread_id"], p["run_id"])
        body = await self.b.body(request, "run.update")
        if "metadata" in body:
            run["metadata"] = body["metadata"] or {}
            scripted = self.b.runs.get(p["run_id"])
            if scripted is not None:  # later snapshots of the run carry it too
                scripted.script.run["metadata"] = run["metadata"]
        return JSONResponse(self.store.put("run", run))

    async def submit_tool_outputs(self, request: Request) -> Response:
        p = request.path_params
        body = await self.b.body(request, "run.submit_tool_outputs")
        stream = bool(body.get("stream"))
        if stream and (replay := self.b.recording(request)) is not None:
            return replay
        self.store.run(p["thread_id"], p["run_id"])
        run = self.b.runs.get(p["run_id"])
        if run is None:
            raise ApiError(400, "This run cannot be continued by the test server.")
        fault = self.b.fault_for(request) if stream else None
        try:
            events = run.submit(body["tool_outputs"])
        except SubmitError as exc:
            raise ApiError(400, str(exc), param="tool_outputs") from None
        return self.b.respond(events, fault)

    async def cancel_run(self, request: Request) -> Response:
        p = request.path_params
        stored = self.store.run(p["thread_id"], p["run_id"])
        run = self.b.runs.get(p["run_id"])
        events: list[Event]
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

    # -- run steps -------------------------------------------------------------------

    async def list_steps(self, request: Request) -> Response:
        p = request.path_params
        self.store.run(p["thread_id"], p["run_id"])
        query = page_query(request)
        return JSONResponse(page(self.store.steps(p["run_id"], order="asc"), query,
                                 "run step").body())

    async def get_step(self, request: Request) -> Response:
        p = request.path_params
        self.store.run(p["thread_id"], p["run_id"])
        return JSONResponse(self.store.step(p["run_id"], p["step_id"]))


RUNS = "/v1/threads/{thread_id}/runs"
MESSAGES = "/v1/threads/{thread_id}/messages"
ROUTES: list[tuple[str, str, str, str | None]] = [
    # method, path, AssistantsApi method, body kind (see validation.BODIES)
    ("POST", "/v1/assistants", "create_assistant", "assistant.create"),
    ("GET", "/v1/assistants", "list_assistants", None),
    ("GET", "/v1/assistants/{assistant_id}", "get_assistant", None),
    ("POST", "/v1/assistants/{assistant_id}", "update_assistant", "assistant.update"),
    ("DELETE", "/v1/assistants/{assistant_id}", "delete_assistant", None),
    ("POST", "/v1/threads/runs", "create_thread_and_run", "thread.create_and_run"),
    ("POST", "/v1/threads", "create_thread", "thread.create"),
    ("GET", "/v1/threads/{thread_id}", "get_thread", None),
    ("POST", "/v1/threads/{thread_id}", "update_thread", "thread.update"),
    ("DELETE", "/v1/threads/{thread_id}", "delete_thread", None),
    ("POST", MESSAGES, "create_message", "message.create"),
    ("GET", MESSAGES, "list_messages", None),
    ("GET", MESSAGES + "/{message_id}", "get_message", None),
    ("POST", MESSAGES + "/{message_id}", "update_message", "message.update"),
    ("DELETE", MESSAGES + "/{message_id}", "delete_message", None),
    ("POST", RUNS, "create_run", "run.create"),
    ("GET", RUNS, "list_runs", None),
    ("GET", RUNS + "/{run_id}", "get_run", None),
    ("POST", RUNS + "/{run_id}", "update_run", "run.update"),
    ("POST", RUNS + "/{run_id}/cancel", "cancel_run", None),
    ("POST", RUNS + "/{run_id}/submit_tool_outputs", "submit_tool_outputs",
     "run.submit_tool_outputs"),
    ("GET", RUNS + "/{run_id}/steps", "list_steps", None),
    ("GET", RUNS + "/{run_id}/steps/{step_id}", "get_step", None),
]
"""Every endpoint; tests generate their bad requests from this table."""


class _ThreadId(Convertor[str]):
    """Any path segment but ``runs``: ``GET /v1/threads/runs`` is a 405, not thread "runs"."""

    regex = "(?!runs(?:/|$))[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("runflow_thread_id", _ThreadId())


def _endpoint(backend: BackendCore, name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        handler: Callable[[Request], Awaitable[Response]] = getattr(backend, name)
        return await handler(request)

    endpoint.__name__ = name
    return endpoint


def assistants_routes(backend: BackendCore) -> list[BaseRoute]:
    """The routes of :data:`ROUTES`, each calling ``backend.<name>`` (see Backend)."""
    return [Route(path.replace("{thread_id}", "{thread_id:runflow_thread_id}"),
                  _endpoint(backend, name), methods=[method])
            for method, path, name, _kind in ROUTES]
