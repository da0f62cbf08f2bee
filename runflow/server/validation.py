"""Request bodies checked against the ``openai`` package's own request types.

The SDK's ``*_params`` modules describe every body as a ``TypedDict``; pydantic
validates those. Two adjustments make them strict enough for a server:

* ``Iterable[X]`` (and the SDK's ``SequenceNotStr[X]``) become ``list[X]``:
  pydantic validates iterables lazily, so an error inside would surface only
  when the handler iterates it -- as a 500. Lists are checked up front.
* every TypedDict forbids unknown keys, as the real API does
  ("Unknown parameter: 'foo'."), and path parameters (``thread_id``) and query
  parameters (``include``) are not body fields.

Validation is strict (``"5"`` is not an integer), and the errors read like the
API's: ``Missing required parameter: 'role'.``, ``Invalid type for 'content':
expected one of a string or an array, but got an integer instead.``, with
``param`` naming the field as ``messages[0].content``. On top of the types come
the documented limits the types cannot say (:func:`check_rules`).
"""

from __future__ import annotations

import collections.abc
import types
import typing
from functools import cache
from typing import Any, Literal, Optional, Union, get_args, get_origin

from openai.types.beta import (
    assistant_create_params,
    assistant_update_params,
    thread_create_and_run_params,
    thread_create_params,
    thread_update_params,
)
from openai.types.beta.threads import (
    message_create_params,
    message_update_params,
    run_create_params,
    run_submit_tool_outputs_params,
    run_update_params,
)
from pydantic import ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import NotRequired, Required, TypedDict, get_type_hints, is_typeddict

from runflow.server.errors import ApiError
from runflow.server.store import JSON

__all__ = ["BODIES", "check_rules", "closed_type", "describe_errors", "param_name",
           "relevant_errors", "validate_body", "walk_type"]

Kind = Literal[
    "assistant.create", "assistant.update", "thread.create", "thread.update",
    "thread.create_and_run", "message.create", "message.update", "run.create", "run.update",
    "run.submit_tool_outputs",
]

_OPTIONAL_BOOL: Any = Optional[bool]  # noqa: UP045 - a runtime type object

# Which SDK type describes each body, and which extra top-level keys it may carry.
BODIES: dict[str, tuple[Any, dict[str, Any]]] = {
    "assistant.create": (assistant_create_params.AssistantCreateParams, {}),
    "assistant.update": (assistant_update_params.AssistantUpdateParams, {}),
    "thread.create": (thread_create_params.ThreadCreateParams, {}),
    "thread.update": (thread_update_params.ThreadUpdateParams, {}),
    "thread.create_and_run": (thread_create_and_run_params.ThreadCreateAndRunParamsBase,
                              {"stream": _OPTIONAL_BOOL}),
    "message.create": (message_create_params.MessageCreateParams, {}),
    "message.update": (message_update_params.MessageUpdateParams, {}),
    "run.create": (run_create_params.RunCreateParamsBase, {"stream": _OPTIONAL_BOOL}),
    "run.update": (run_update_params.RunUpdateParams, {}),
    "run.submit_tool_outputs": (run_submit_tool_outputs_params.RunSubmitToolOutputsParamsBase,
                                {"stream": _OPTIONAL_BOOL}),
}
NOT_IN_BODY = frozenset({"thread_id", "include"})  # path and query parameters
_FORBID = ConfigDict(extra="forbid")


# -- turning the SDK's types into eager, closed ones -----------------------------------


def _strip_required(tp: Any) -> Any:
    while get_origin(tp) in (Required, NotRequired):
        tp = get_args(tp)[0]
    return tp


def _is_union(origin: Any) -> bool:
    return origin is Union or origin is types.UnionType


def _eager(tp: Any, seen: dict[Any, Any]) -> Any:
    """``tp`` with iterables as lists and every TypedDict closed (see module doc)."""
    if is_typeddict(tp):
        return closed_type(tp, seen, {}, frozenset())
    origin, args = get_origin(tp), get_args(tp)
    if origin is typing.Annotated:
        return typing.Annotated.__class_getitem__((_eager(args[0], seen), *tp.__metadata__))
    if origin in (Required, NotRequired):
        return origin[_eager(args[0], seen)]
    if origin in (collections.abc.Iterable, collections.abc.Sequence, list) or getattr(
            origin, "__name__", "") == "SequenceNotStr":
        return list[_eager(args[0], seen)] if args else list[Any]  # type: ignore[misc]
    if origin in (dict, collections.abc.Mapping):
        return dict[args[0], _eager(args[1], seen)]  # type: ignore[misc,valid-type]
    if _is_union(origin):
        return Union[tuple(_eager(arg, seen) for arg in args)]  # noqa: UP007 - built at runtime
    return tp


def closed_type(td: Any, seen: dict[Any, Any], extra: dict[str, Any], drop: frozenset[str]) -> Any:
    if not extra and not drop and td in seen:
        return seen[td]
    hints = get_type_hints(td, include_extras=True)
    fields: dict[str, Any] = {}
    for name, hint in hints.items():
        if name in drop:
            continue
        # the SDK's modules use string annotations, so __required_keys__ cannot be
        # trusted: Required/NotRequired are read from the resolved hints
        origin: Any = get_origin(hint)
        required = origin is Required or (origin is not NotRequired and td.__total__)
        inner = _eager(_strip_required(hint), seen)
        fields[name] = Required[inner] if required else NotRequired[inner]
    fields.update({name: NotRequired[hint] for name, hint in extra.items()})
    closed = TypedDict(td.__name__, fields)  # type: ignore[misc]
    setattr(closed, "__pydantic_config__", _FORBID)  # noqa: B010 - not a declared attribute
    if not extra and not drop:
        seen[td] = closed
    return closed


@cache
def _body_type(kind: str) -> Any:
    td, extra = BODIES[kind]
    return closed_type(td, {}, extra, NOT_IN_BODY)


@cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(_body_type(kind))


# -- errors as the API words them ---------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    """Strip Annotated/Required and Optional (a union with None and one other type)."""
    while True:
        tp = _strip_required(tp)
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
        elif _is_union(origin) and len([a for a in get_args(tp) if a is not type(None)]) == 1:
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def walk_type(tp: Any, loc: tuple[int | str, ...]) -> list[int | str] | None:
    """The API parameter path for pydantic's ``loc`` (which also names union members)."""
    tp = _unwrap(tp)
    if not loc:
        return []
    head, rest = loc[0], loc[1:]
    origin = get_origin(tp)
    if is_typeddict(tp):
        hints = get_type_hints(tp, include_extras=True)
        if isinstance(head, str) and head in hints:
            tail = walk_type(hints[head], rest)
            return None if tail is None else [head, *tail]
        return [head] if not rest else None  # an unknown key
    if origin is list and isinstance(head, int):
        tail = walk_type(get_args(tp)[0], rest)
        return None if tail is None else [head, *tail]
    if origin is dict:
        tail = walk_type(get_args(tp)[1], rest)
        return None if tail is None else [head, *tail]
    if _is_union(origin):  # ``head`` names the member; find the one the rest fits
        for member in get_args(tp):
            if member is not type(None) and (tail := walk_type(member, rest)) is not None:
                return tail
    return None


def param_name(path: list[int | str]) -> str:
    """``["messages", 0, "content"]`` -> ``messages[0].content``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_EXPECTED = {
    "string_type": "a string", "int_type": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "bool_type": "a boolean", "dict_type": "an object",
    "typed_dict_type": "an object", "model_type": "an object", "list_type": "an array",
    "iterable_type": "an array", "none_required": "null",
}


def json_type(value: Any) -> str:
    """How the API names the JSON type of ``value`` in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def describe_errors(errors: list[tuple[str, ErrorDetails]]) -> tuple[str, str]:
    """``(param, message)`` for the most specific of pydantic's errors."""
    depth = max(len(path) for path, _ in errors)
    param = next(path for path, _ in errors if len(path) == depth)
    here = [err for path, err in errors if path == param]
    typed = [err for err in here if err["type"] in _EXPECTED]
    first = here[0]
    literal = [err for err in here if err["type"] == "literal_error"]
    if literal and isinstance(literal[0]["input"], str) and not any(
            err["type"] == "string_type" for err in typed):
        first, typed = literal[0], []  # a string was allowed, just not this one
    if first["type"] == "missing":
        return param, f"Missing required parameter: '{param}'."
    if first["type"] == "extra_forbidden":
        return param, f"Unknown parameter: '{param}'."
    if typed:
        wanted = list(dict.fromkeys(_EXPECTED[err["type"]] for err in typed))
        expected = wanted[0] if len(wanted) == 1 else "one of " + " or ".join(wanted)
        got = json_type(typed[0]["input"])
        return param, f"Invalid type for '{param}': expected {expected}, but got {got} instead."
    if first["type"] == "literal_error":
        values = [(err.get("ctx") or {}).get("expected", "") for err in here
                  if err["type"] == "literal_error"]
        supported = ", ".join(dict.fromkeys(v for v in values if v))
        value = first["input"]
        if not isinstance(value, str):
            return param, (f"Invalid type for '{param}': expected one of {supported}, but got "
                           f"{json_type(value)} instead.")
        return param, (f"Invalid value for '{param}': {value!r}. Supported values are: "
                       f"{supported}.")
    return param, f"Invalid value for '{param}': {first['msg']}."


def relevant_errors(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop the errors of union members whose ``type`` tag did not match the input.

    ``{"type": "text", "text": 5}`` fails as an image part too (wrong ``type``);
    only the text part's complaint about ``text`` is useful. When no member matched
    the tag, the tag errors are all that is left, and they are kept.
    """
    tags = [err for err in errors
            if err["type"] == "literal_error" and err["loc"] and err["loc"][-1] == "type"]
    rejected = [tuple(err["loc"][:-1]) for err in tags]
    kept = [err for err in errors
            if not any(tuple(err["loc"][:len(r)]) == r for r in rejected)]
    return kept or tags


def validate_body(kind: str, body: JSON) -> JSON:
    """Check ``body`` against the SDK type for ``kind``; raise a 400 :class:`ApiError`."""
    try:
        _adapter(kind).validate_python(body, strict=True)
    except ValidationError as exc:
        errors = []
        for err in relevant_errors(exc.errors()):
            path = walk_type(_body_type(kind), tuple(err["loc"]))
            errors.append((param_name(path if path is not None else list(err["loc"])), err))
        param, message = describe_errors(errors)
        raise ApiError(400, message, param=param or None) from None
    check_rules(body)
    return body


# -- the documented limits the types do not express ------------------------------------


def _check_metadata(value: Any, param: str) -> None:
    if not isinstance(value, dict):
        return
    if len(value) > 16:
        raise ApiError(400, f"Invalid '{param}': at most 16 key-value pairs, got {len(value)}.",
                       param=param)
    for key, item in value.items():
        if len(key) > 64:
            raise ApiError(400, f"Invalid '{param}': key {key[:20]!r}... is longer than 64 "
                           "characters.", param=param)
        if isinstance(item, str) and len(item) > 512:
            raise ApiError(400, f"Invalid '{param}.{key}': longer than 512 characters.",
                           param=f"{param}.{key}")


def _check_range(body: JSON, name: str, low: float, high: float | None) -> None:
    value = body.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and (
            value < low or (high is not None and value > high)):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ApiError(400, f"Invalid '{name}': {value!r} must be {bound}.", param=name)


def _check_length(body: JSON, name: str, limit: int) -> None:
    value = body.get(name)
    if isinstance(value, (str, list)) and len(value) > limit:
        what = "characters" if isinstance(value, str) else "items"
        raise ApiError(400, f"Invalid '{name}': longer than {limit} {what}.", param=name)


def _messages(body: JSON, key: str, prefix: str) -> None:
    for index, message in enumerate(body.get(key) or []):
        if isinstance(message, dict):
            _check_metadata(message.get("metadata"), f"{prefix}{key}[{index}].metadata")


def check_rules(body: JSON) -> None:
    """Metadata is at most 16 pairs of keys up to 64 and values up to 512 characters;
    ``temperature`` is in 0-2 and ``top_p`` in 0-1; token limits are positive; names,
    descriptions and instructions, and tool lists, have their documented lengths."""
    _check_metadata(body.get("metadata"), "metadata")
    _messages(body, "messages", "")
    _messages(body, "additional_messages", "")
    thread = body.get("thread")
    if isinstance(thread, dict):
        _check_metadata(thread.get("metadata"), "thread.metadata")
        _messages(thread, "messages", "thread.")
    _check_range(body, "temperature", 0, 2)
    _check_range(body, "top_p", 0, 1)
    _check_range(body, "max_completion_tokens", 1, None)
    _check_range(body, "max_prompt_tokens", 1, None)
    for name, limit in (("name", 256), ("description", 512), ("instructions", 256_000),
                        ("tools", 128)):
        _check_length(body, name, limit)
