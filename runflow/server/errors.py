"""OpenAI-shaped errors for the local server.

Every answer that is not a success carries ``{"error": {"message", "type",
"param", "code"}}`` with the status the real API uses: 400 for a bad request, 404
for an unknown object or URL, 405 for a known URL with the wrong method, 409 when
the request conflicts with a run in progress, 413 for a body over the size limit.
An exception the server did not foresee still answers in that shape (500,
``server_error``), so a client never receives a plain-text page.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from runflow.server.store import NotFound

__all__ = ["ApiError", "error_body", "exception_handlers"]

log = logging.getLogger("runflow.testing")


def error_body(message: str, type_: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, dict[str, str | None]]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


class ApiError(Exception):
    """An error answered with OpenAI's ``{"error": {...}}`` body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = (
            status, message, type_, param, code)

    def response(self) -> JSONResponse:
        body = error_body(self.message, self.type, self.param, self.code)
        return JSONResponse(body, status_code=self.status)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotFound)
    return ApiError(404, exc.message).response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (404, 405):
        message = f"Invalid URL ({request.method} {request.url.path})"
    else:
        message = str(exc.detail)
    response = ApiError(exc.status_code, message).response()
    if exc.headers:  # 405 names the allowed methods
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    """A bug in the server, not in the request: still an OpenAI-shaped answer."""
    log.exception("runflow test server: unexpected error on %s %s", request.method,
                  request.url.path)
    return ApiError(500, f"The runflow test server failed: {type(exc).__name__}: {exc}",
                    type_="server_error").response()


def exception_handlers() -> dict[type[Exception] | int, object]:
    """Starlette ``exception_handlers`` mapping for :func:`create_app`."""
    return {ApiError: _api_error, NotFound: _not_found, HTTPException: _http_error,
            Exception: _unexpected}
