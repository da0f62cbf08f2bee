"""The one JSON parser and writer runflow uses for remote and saved input.

Everything runflow reads as JSON -- stream events, recording files, checkpoints,
tool arguments, request bodies of the local server -- goes through
:func:`parse_json`, and everything it writes as JSON through :func:`dump_json`:

* parsing is ``pydantic_core.from_json`` (Rust; about 2.7x faster than
  ``json.loads`` on a typical delta). Its nesting is bounded
  (:data:`MAX_DEPTH`), so hostile input can never raise ``RecursionError``;
  ``NaN``/``Infinity``, lone-surrogate escapes and numbers out of range are
  rejected. Every failure is a :class:`JSONError` (a ``ValueError``) whose message
  says what was wrong and where (line and column).
* writing never produces text that is not valid UTF-8 JSON: non-finite numbers are
  refused, and lone surrogates (which Python strings can hold, e.g. from
  ``surrogateescape``) are replaced with U+FFFD, which the caller is told about.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pydantic_core

__all__ = ["MAX_DEPTH", "JSONError", "describe", "dump_json", "has_non_finite", "parse_json"]

MAX_DEPTH = 200
"""Deepest nesting of arrays and objects accepted (pydantic-core's fixed bound)."""


class JSONError(ValueError):
    """Text that is not acceptable JSON; the message names the cause and position."""


# A double overflows to inf only with an exponent of three digits or a mantissa of
# more than 308 digits: either way three digits in a row. This screen (about 0.2 µs
# on a delta, where a precise pattern costs 2 µs) decides whether the walk for inf
# is needed; timestamps and some ids pass it, and the walk then finds nothing.
_MAYBE_HUGE = re.compile(rb"[0-9]{3}")


def parse_json(data: bytes | str) -> Any:
    """Parse one JSON text; raise :class:`JSONError` naming what is wrong.

    The flow's hot path calls ``from_json`` itself, without the check for numbers
    that overflow to infinity, and checks the values it keeps instead
    (:func:`has_non_finite`): a text delta keeps no number at all."""
    try:
        value = pydantic_core.from_json(data, allow_inf_nan=False)
    except ValueError as exc:
        raise JSONError(describe(exc)) from None
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if _MAYBE_HUGE.search(raw) and has_non_finite(value):
        raise JSONError("a number is out of range (it would be infinite)")
    return value


def describe(exc: ValueError) -> str:
    """The reason ``pydantic_core.from_json`` gave, in the words of this module."""
    reason = str(exc)
    if reason.startswith("recursion limit exceeded"):
        reason = f"nested deeper than {MAX_DEPTH} levels ({reason})"
    return reason


_FLOAT_RANGE = int(sys.float_info.max)
"""An integer past this is infinite as a float (the SDK's float fields, pydantic's
float validation: ``OverflowError``): out of range like ``1e999``."""


_LOW, _HIGH = -_FLOAT_RANGE, _FLOAT_RANGE


def has_non_finite(value: Any) -> bool:
    """Whether ``value`` holds a float that is NaN or infinite, or an integer too
    large for a float (a 400-digit timestamp), at any depth.

    A walk of every value, run for many status objects: strings (most values) and
    null are passed over first, the values of a dict or list are walked as one
    iterable (an empty one not at all), the nested ones kept on a list made only when
    there is one, and no function is called per value."""
    kind = type(value)
    values: Any
    if kind is dict or isinstance(value, dict):
        values = value.values()
    elif kind is list or isinstance(value, list):
        values = value
    else:
        values = (value,)
    todo: list[Any] | None = None
    while True:
        for item in values:
            kind = type(item)
            if kind is str or item is None or kind is bool:
                continue
            if kind is dict or kind is list:
                if item:
                    if todo is None:
                        todo = []
                    todo.append(item.values() if kind is dict else item)
            elif kind is float:
                if item - item != 0.0:  # inf - inf and nan - nan are nan; finite: 0.0
                    return True
            elif kind is int:
                if not _LOW <= item <= _HIGH:
                    return True
            elif isinstance(item, (dict, list)):  # a subclass (not from JSON text)
                if todo is None:
                    todo = []
                todo.append(item.values() if isinstance(item, dict) else item)
        if not todo:
            return False
        values = todo.pop()


def dump_json(value: Any, *, indent: int | None = None) -> tuple[str, bool]:
    """``(text, replaced)``: ``value`` as JSON that encodes to valid UTF-8.

    ``replaced`` is True when lone surrogates were replaced by U+FFFD. Raises
    ``ValueError`` for NaN or infinite numbers (they are not JSON).
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=indent)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return fixed, True
    return text, False
