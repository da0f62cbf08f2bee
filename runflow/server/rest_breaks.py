"""The ``rest.*`` breaks (:mod:`.breaks`): the stream is right and one REST answer
differs from it. They wrap the endpoints they change, so this module imports the
Responses endpoints' error shape and the streaming, which :mod:`.breaks` (imported
by the scripts) must not."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runflow.server.breaks import BREAK_HEADER, BREAKS, BreakSyntaxError, parse_breaks
from runflow.server.errors import ApiError
from runflow.server.responses import responses_error
from runflow.server.streaming import EventStream

__all__ = ["rest_breaks"]


def rest_breaks(backend: Any) -> None:
    """Wrap the REST endpoints that ``rest.*`` breaks change (each endpoint is an
    attribute looked up per request, see :class:`.backend.Backend`)."""

    def wrap(owner: Any, endpoint: str) -> None:
        inner = getattr(owner, endpoint)

        async def changed(request: Request) -> Response:
            try:
                names = parse_breaks(request.headers.get(BREAK_HEADER))
            except BreakSyntaxError as exc:
                raise ApiError(400, str(exc), param=BREAK_HEADER) from None
            mine = [BREAKS[n] for n in names if BREAKS[n].endpoint == endpoint]
            if any(b.name == "rest.resume" for b in mine) and \
                    request.query_params.get("stream") == "true":
                stored = owner.store.get(request.path_params["response_id"])
                return EventStream(stored.frames(-1), backend.fault_for(request),
                                   backend.streams, error=responses_error)
            response: Response = await inner(request)
            edits = [b.rest for b in mine if b.rest is not None]
            if not edits or not isinstance(response, JSONResponse):
                return response
            body = json.loads(bytes(response.body))
            for edit in edits:
                body = edit(body)
            return JSONResponse(body, status_code=response.status_code)

        setattr(owner, endpoint, changed)

    for name in ("get_run", "list_messages", "list_steps"):
        wrap(backend, name)
    wrap(backend.responses, "get_response")
