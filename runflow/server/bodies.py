"""Reading a request body: bounded in size and nesting, always a JSON object.

A body over :data:`MAX_BODY_BYTES` (or the server's own limit) is a 413, read to
its end but not kept, so the client can still read the answer. JSON goes through
:func:`runflow.engine.jsonparse.parse_json`, whose nesting bound makes a deeply nested
body a 400 like any other unparsable one.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from runflow.engine.jsonparse import JSONError, parse_json
from runflow.server.errors import ApiError
from runflow.server.store import JSON
from runflow.server.validation import json_type

__all__ = ["MAX_BODY_BYTES", "read_json"]

MAX_BODY_BYTES = 8 * 1024 * 1024
"""Default body size limit: far above any real Assistants request, far below harm."""


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"Request body too large: the limit is {limit} bytes.",
                    code="request_too_large")


async def read_bytes(request: Request, limit: int) -> bytes:
    """The raw body; :class:`ApiError` 413 beyond ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    over = declared.isdigit() and int(declared) > limit
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                over = True
            if not over:
                chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "The client went away before sending the whole body.") from None
    if over:
        raise _too_large(limit)
    return b"".join(chunks)


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> JSON:
    """The body as a JSON object (``{}`` when empty); 400 or 413 otherwise."""
    raw = await read_bytes(request, limit)
    if not raw.strip():
        return {}
    try:
        body = parse_json(raw)
    except JSONError as exc:
        raise ApiError(400, f"We could not parse the JSON body of your request: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"The request body must be a JSON object, not {json_type(body)}.")
    return body
