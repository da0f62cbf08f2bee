"""Responses API requests checked like the Assistants ones (see :mod:`.validation`).

``POST /v1/responses`` is validated against the SDK's own
``ResponseCreateParamsBase`` TypedDict, made eager and closed by the same rules
(lists checked up front, unknown keys refused), plus ``stream``; errors read
like the API's, with ``param`` naming the field (``input[0].content``). Unlike
the Assistants bodies, ``include`` is a body field here. On top of the types:
``model`` is required unless a ``prompt`` names one, and the documented ranges.

The query strings of ``GET /v1/responses/{id}`` are checked here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Optional

from openai.types.responses import response_create_params
from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from starlette.requests import Request

from runflow.server.errors import ApiError
from runflow.server.store import JSON

# the shared machinery of the Assistants validator: one way to read the SDK's types
from runflow.server.validation import (
    check_rules,
    closed_type,
    describe_errors,
    param_name,
    relevant_errors,
    walk_type,
)

__all__ = ["RESPONSE_BODIES", "RetrieveQuery", "retrieve_query", "validate_response_body"]

_OPTIONAL_BOOL: Any = Optional[bool]  # noqa: UP045 - a runtime type object

RESPONSE_BODIES: dict[str, tuple[Any, dict[str, Any]]] = {
    "response.create": (response_create_params.ResponseCreateParamsBase,
                        {"stream": _OPTIONAL_BOOL}),
}
"""Which SDK type describes each body, and which extra top-level keys it may carry."""


@cache
def _body_type(kind: str) -> Any:
    td, extra = RESPONSE_BODIES[kind]
    return closed_type(td, {}, extra, frozenset())


@cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(_body_type(kind))


def _check_int(body: JSON, name: str, low: int, high: int | None = None) -> None:
    value = body.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and (
            value < low or (high is not None and value > high)):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, f"Invalid '{name}': {value} must be {bound}.", param=name)


def _tagged_elsewhere(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop the errors of union members that require a ``type`` tag the input lacks.

    An input item without ``type`` is a message (the API's default), so for
    ``{"role": "user"}`` the useful complaint is the message's missing ``content``,
    not the computer call's missing ``pending_safety_checks``. When every member
    wanted a tag, nothing is dropped.
    """
    untagged = [tuple(err["loc"][:-1]) for err in errors
                if err["type"] == "missing" and err["loc"] and err["loc"][-1] == "type"]
    kept = [err for err in errors
            if not any(tuple(err["loc"][:len(u)]) == u for u in untagged)]
    return kept or errors


def _member(loc: tuple[int | str, ...]) -> int | None:
    """Where ``loc`` names the first union member that is a TypedDict (CamelCase, unlike
    the SDK's snake_case fields and pydantic's lowercase ``str``/``list[...]`` labels)."""
    for index, step in enumerate(loc):
        if isinstance(step, str) and step[:1].isupper():
            return index
    return None


def _closest_members(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Of the TypedDict members of one union, keep those with the fewest wrong fields: for
    ``{"role": "bogus", "content": "x"}`` the easy message (only ``role`` wrong), not
    the full message (``role`` and ``content`` wrong)."""
    groups: dict[tuple[int | str, ...], dict[int | str, list[ErrorDetails]]] = {}
    for err in errors:
        at = _member(tuple(err["loc"]))
        if at is not None:
            groups.setdefault(tuple(err["loc"][:at]), {}).setdefault(
                err["loc"][at], []).append(err)
    def fields(found: list[ErrorDetails], at: int) -> int:  # how many of its fields are wrong
        return len({tuple(err["loc"][at + 1:at + 2]) for err in found})

    dropped: set[int] = set()
    for prefix, members in groups.items():
        at = len(prefix)
        fewest = min(fields(found, at) for found in members.values())
        for found in members.values():
            if fields(found, at) > fewest:
                dropped.update(id(err) for err in found)
    return [err for err in errors if id(err) not in dropped]


def validate_response_body(kind: str, body: JSON) -> JSON:
    """Check ``body`` against the SDK type for ``kind``; raise a 400 :class:`ApiError`."""
    try:
        _adapter(kind).validate_python(body, strict=True)
    except ValidationError as exc:
        errors = []
        for err in relevant_errors(_closest_members(_tagged_elsewhere(exc.errors()))):
            path = walk_type(_body_type(kind), tuple(err["loc"]))
            errors.append((param_name(path if path is not None else list(err["loc"])), err))
        param, message = describe_errors(errors)
        raise ApiError(400, message, param=param or None) from None
    if body.get("model") is None and not body.get("prompt"):
        raise ApiError(400, "Missing required parameter: 'model'.", param="model")
    check_rules(body)  # metadata, temperature 0-2, top_p 0-1, instructions and tools lengths
    _check_int(body, "max_output_tokens", 16)
    _check_int(body, "max_tool_calls", 1)
    _check_int(body, "top_logprobs", 0, 20)
    return body


# -- GET /v1/responses/{id} ------------------------------------------------------------------


@dataclass(frozen=True)
class RetrieveQuery:
    stream: bool = False
    starting_after: int = -1  # -1: from the first event
    include_obfuscation: bool = True


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ApiError(400, f"Invalid '{name}': given {len(values)} times.", param=name)
    return values[0] if values else None


def _flag(request: Request, name: str, default: bool) -> bool:
    raw = _one(request, name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise ApiError(400, f"Invalid value for '{name}': expected 'true' or 'false', got "
                       f"{raw!r}.", param=name)
    return raw == "true"


def retrieve_query(request: Request) -> RetrieveQuery:
    """``stream``, ``starting_after`` and ``include_obfuscation``; 400 when malformed."""
    stream = _flag(request, "stream", False)
    obfuscation = _flag(request, "include_obfuscation", True)
    raw = _one(request, "starting_after")
    after = -1
    if raw is not None:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            raise ApiError(400, f"Invalid 'starting_after': expected an integer >= 0, got "
                           f"{raw!r}.", param="starting_after")
        after = int(raw)
    return RetrieveQuery(stream, after, obfuscation)
