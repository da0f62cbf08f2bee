"""The Responses API endpoints the ``openai`` SDKs call, over a backend core
(:class:`~runflow.server.core.BackendCore`).

``POST /v1/responses`` (streamed with ``stream: true``, else answered with the
Response as JSON: the finished one, or for ``background: true`` the ``queued``
one); ``GET /v1/responses/{id}`` (with ``stream=true&starting_after=N``: the
stream of a background response from ``sequence_number`` N+1, replayed and then
live); ``POST /v1/responses/{id}/cancel`` (background responses only);
``DELETE /v1/responses/{id}``; ``GET /v1/responses/{id}/input_items`` (paginated
as :mod:`.pagination` documents). The events come from
:mod:`.responses_scenarios`, the stored responses from :mod:`.responses_store`.

Shared with the Assistants endpoints: body limits, OpenAI-shaped errors, the
``X-Runflow-Fault`` header and queued faults (an ``error_after`` fault sends the
Responses ``error`` event, nested as OpenAI sends it, with the sequence number of
the event it displaces), and the open streams a shutdown ends.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from runflow.server.core import BackendCore
from runflow.server.errors import ApiError
from runflow.server.faults import ERROR_MESSAGE, Fault
from runflow.server.pagination import page, page_query
from runflow.server.responses_scenarios import (
    RESPONSE_SCENARIOS,
    ResponseRequest,
    ScenarioError,
    ToolOutput,
    script_response,
)
from runflow.server.responses_store import ResponseStore, StoredResponse
from runflow.server.responses_validation import retrieve_query, validate_response_body
from runflow.server.scenarios import CannotCancel
from runflow.server.sse import Frame, encode_event
from runflow.server.store import JSON, new_id
from runflow.server.streaming import EventStream

__all__ = ["RESPONSES_ROUTES", "ResponsesApi", "input_items", "responses_error",
           "responses_routes"]


def responses_error(displaced: Frame) -> Frame:
    """The injected ``error`` event in the wire shape of a real one (RESPONSES.md §9)."""
    data = displaced.json()
    event: JSON = {"type": "error"}
    sequence = data.get("sequence_number") if isinstance(data, dict) else None
    if isinstance(sequence, int):
        event["sequence_number"] = sequence
    event["error"] = {"type": "server_error", "code": "server_error",
                      "message": ERROR_MESSAGE, "param": None}
    return encode_event("error", event)


_ID_PREFIX = {"message": "msg", "function_call": "fc", "function_call_output": "fco",
              "reasoning": "rs"}


def _input_item(item: JSON) -> JSON:
    """One input item as ``input_items`` lists it: with an id, strings as content parts."""
    kind = item.get("type", "message")
    out = copy.deepcopy(item)
    out["type"] = kind
    out.setdefault("id", new_id(_ID_PREFIX.get(kind, "item")))
    if kind == "message":
        if isinstance(out.get("content"), str):
            part = ({"type": "output_text", "text": out["content"], "annotations": []}
                    if out.get("role") == "assistant"
                    else {"type": "input_text", "text": out["content"]})
            out["content"] = [part]
        out.setdefault("status", "completed")
    elif kind in ("function_call", "function_call_output"):
        out.setdefault("status", "completed")
    return out


def input_items(body: JSON) -> list[JSON]:
    """The request's ``input`` as a list of items (a string is one user message)."""
    given = body.get("input")
    if given is None:
        return []
    if isinstance(given, str):
        return [_input_item({"role": "user", "content": given})]
    return [_input_item(item) for item in given]


def _output_text(output: object) -> str:
    """A ``function_call_output``'s output: a string, or the text of its parts."""
    if isinstance(output, str):
        return output
    parts = output if isinstance(output, list) else []
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


class ResponsesApi:
    """One method per endpoint; :func:`responses_routes` maps them to URLs."""

    def __init__(self, backend: BackendCore) -> None:
        self.b = backend
        self.store = ResponseStore()

    # -- what a create request refers to -------------------------------------------------

    def _previous(self, body: JSON) -> StoredResponse | None:
        previous_id = body.get("previous_response_id")
        if previous_id is None:
            return None
        if previous_id not in self.store:
            raise ApiError(400, f"Previous response with id '{previous_id}' not found.",
                           param="previous_response_id", code="previous_response_not_found")
        previous = self.store.get(previous_id)
        if previous.readers == 0:
            previous.publish()  # a background response nobody streams runs when it is read
        if not previous.finished:
            raise ApiError(409, f"Previous response with id '{previous_id}' is still "
                           f"{previous.status}.", param="previous_response_id",
                           code="conflict")
        return previous

    @staticmethod
    def _scenario(metadata: JSON, previous: StoredResponse | None) -> str:
        """``metadata.scenario``, else the previous response's, else ``text``."""
        name = metadata.get("scenario") or (previous.scenario if previous else "text")
        if name not in RESPONSE_SCENARIOS:
            raise ApiError(400, f"Unknown scenario {name!r}; known: "
                           f"{', '.join(RESPONSE_SCENARIOS)}.", param="metadata.scenario")
        return str(name)

    @staticmethod
    def _tool_outputs(body: JSON, previous: StoredResponse | None) -> list[ToolOutput]:
        """The input's ``function_call_output`` items, each matched to its call, and every
        call of the previous response answered -- or a 400 worded like the API's."""
        given = body.get("input")
        items = given if isinstance(given, list) else []
        asked = [item for item in (previous.view()["output"] if previous else [])
                 if item.get("type") == "function_call"]
        calls = {item["call_id"]: item["name"] for item in asked}
        calls.update({item["call_id"]: item["name"] for item in items
                      if item.get("type") == "function_call"})
        outputs = []
        for index, item in enumerate(items):
            if item.get("type") != "function_call_output":
                continue
            call_id = item.get("call_id")  # optional in the SDK's type; needed to match
            if call_id is None:
                raise ApiError(400, f"Missing required parameter: 'input[{index}].call_id'.",
                               param=f"input[{index}].call_id")
            if call_id not in calls:
                raise ApiError(400, "No tool call found for function call output with "
                               f"call_id {call_id}.", param="input")
            outputs.append(ToolOutput(call_id, calls[call_id], _output_text(item["output"])))
        answered = {output.call_id for output in outputs}
        for call in asked:
            if call["call_id"] not in answered:
                raise ApiError(400, f"No tool output found for function call "
                               f"{call['call_id']}.", param="input")
        return outputs

    def _stream(self, stored: StoredResponse, after: int, fault: Fault) -> EventStream:
        return EventStream(stored.frames(after), fault, self.b.streams, error=responses_error)

    # -- endpoints ---------------------------------------------------------------------------

    async def create_response(self, request: Request) -> Response:
        body = await self.b.body(request, "response.create", validate_response_body)
        metadata = body.get("metadata") or {}
        previous = self._previous(body)
        scenario = self._scenario(metadata, previous)
        wanted = ResponseRequest(body, self.b.options.with_metadata(metadata),
                                 self._tool_outputs(body, previous))
        try:
            events = script_response(scenario, wanted)
        except ScenarioError as exc:
            raise ApiError(400, str(exc), param=exc.param) from None
        stream = body.get("stream") is True
        fault = self.b.fault_for(request) if stream else None  # after every 400
        stored = self.store.new(events, scenario=scenario, input_items=input_items(body))
        if body.get("store") is not False or stored.background:
            self.store.put(stored)
        if fault is not None:
            return self._stream(stored, -1, fault)
        # not streamed: a background response is answered queued, the rest run to the end
        stored.publish(2 if stored.background else None)
        return JSONResponse(stored.view())

    async def get_response(self, request: Request) -> Response:
        stored = self.store.get(request.path_params["response_id"])
        query = retrieve_query(request)
        if query.stream:
            if not stored.background:
                raise ApiError(400, "Only responses created with background=true can be "
                               "streamed.", param="stream")
            return self._stream(stored, query.starting_after, self.b.fault_for(request))
        if stored.readers == 0:
            stored.publish()  # a background response nobody streams runs when it is read
        return JSONResponse(stored.view())

    async def cancel_response(self, request: Request) -> Response:
        stored = self.store.get(request.path_params["response_id"])
        if not stored.background:
            raise ApiError(400, "Only responses created with background=true can be "
                           "cancelled.")
        try:
            return JSONResponse(stored.cancel())
        except CannotCancel as exc:
            raise ApiError(400, str(exc)) from None

    async def delete_response(self, request: Request) -> Response:
        response_id = request.path_params["response_id"]
        self.store.delete(response_id)
        return JSONResponse({"id": response_id, "object": "response", "deleted": True})

    async def list_input_items(self, request: Request) -> Response:
        stored = self.store.get(request.path_params["response_id"])
        query = page_query(request)
        return JSONResponse(page(stored.input_items, query, "input item").body())


RESPONSES = "/v1/responses"
RESPONSES_ROUTES: list[tuple[str, str, str, str | None]] = [
    # method, path, ResponsesApi method, body kind (see responses_validation.RESPONSE_BODIES)
    ("POST", RESPONSES, "create_response", "response.create"),
    ("GET", RESPONSES + "/{response_id}", "get_response", None),
    ("DELETE", RESPONSES + "/{response_id}", "delete_response", None),
    ("POST", RESPONSES + "/{response_id}/cancel", "cancel_response", None),
    ("GET", RESPONSES + "/{response_id}/input_items", "list_input_items", None),
]
"""Every Responses endpoint; tests generate their bad requests from this table."""


def _endpoint(api: ResponsesApi, name: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        handler: Callable[[Request], Awaitable[Response]] = getattr(api, name)
        return await handler(request)

    endpoint.__name__ = name
    return endpoint


def responses_routes(api: ResponsesApi) -> list[BaseRoute]:
    """The routes of :data:`RESPONSES_ROUTES`, each calling ``api.<name>`` (looked up
    per request: a test may wrap one)."""
    return [Route(path, _endpoint(api, name), methods=[method])
            for method, path, name, _kind in RESPONSES_ROUTES]
