"""The types layer under the type fuzz (:mod:`runflow.testing.typefuzz`).

``runflow check --types`` and ``runflow conform`` validate every object an event
carries against the openai SDK's class (:mod:`runflow.conform.sdk_types`, bounded by
:mod:`runflow.conform.sdk_schema`). The fuzz runs that layer over every mutated
stream once per mutation (its ``sse`` input: the layer reads the parsed JSON, the
same whichever way the flow was fed), the events numbered as the flow numbers them
and the mutated one parsed from its SSE data as ``runflow check`` parses it
(:func:`tapped`). Anything it raises is an untyped exception; :func:`types_problems`
says what else is wrong:

* a finding that does not name the event it came from (its index and name), is not
  a ``types.*`` warning, or whose message does not begin with a JSON path naming a
  value of that event (or a key absent from an object of it, said ``absent``);
* more findings at one event than :data:`~runflow.conform.sdk_types.MAX_PER_EVENT`,
  or a message longer than :data:`MAX_MESSAGE` (it shows an excerpt of the value,
  never the payload);
* work that grows with the input where the layer promises a bound, counted, not
  timed (:class:`Work`): the errors one validation of an object returns (each list
  stops at its first bad element, a tagged union tries one variant: the count
  depends on the SDK's class, not on the value) past :data:`MAX_ERRORS`, and
  validations at one event past one for the event, one for its object and one for
  each element of the object's lists (the root's list of children is typed element
  by element).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from runflow.conform.events import TappedEvent, named_event, sse_event
from runflow.conform.findings import Finding
from runflow.conform.sdk_schema import MAX_KEY_SHOWN, Checker, Error, at
from runflow.conform.sdk_types import MAX_PER_EVENT, SdkTypes
from runflow.engine.definition import Protocol
from runflow.engine.sse import RawEvent
from runflow.testing.typefuzz_target import Event

__all__ = ["MAX_ERRORS", "MAX_MESSAGE", "TypesRun", "Work", "counting", "named_path", "tapped",
           "tapped_event", "types_problems"]

MAX_ERRORS: Final = 1_000
"""Errors one validation may return: bounded by the SDK's class (its fields, each
variant of a smart union), whatever the value holds -- 109 for ``[{}]`` in a
``response.instructions`` (a union of twenty-odd input items, each variant failing),
274 for ``[{}]`` in eleven of a response's fields at once -- and far under what a
validator reporting each bad element of the fuzz's 10,000-element list would."""
MAX_MESSAGE: Final = 2_000
"""Characters of one finding's message: the path, an excerpt of the value (60),
pydantic's messages and the class."""


@dataclass
class Work:
    """What the types layer's validations did, counted (:func:`counting`)."""

    calls: int = 0
    """Validations of an object against an SDK class."""
    errors: list[int] = field(default_factory=list)
    """The errors each validation returned."""


@contextmanager
def counting() -> Iterator[Work]:
    """Count every :meth:`Checker.errors` call while inside (a probe on the class, put
    back on leaving)."""
    work = Work()
    original = Checker.errors

    def probe(self: Checker, obj: Any) -> list[Error] | None:
        work.calls += 1
        errors = original(self, obj)
        work.errors.append(len(errors or ()))
        return errors

    Checker.errors = probe  # type: ignore[method-assign]
    try:
        yield work
    finally:
        Checker.errors = original  # type: ignore[method-assign]


def tapped(protocol: Protocol, events: Sequence[Event], index: int,
           text: str) -> list[TappedEvent]:
    """The stream's events as the layers see them, event ``index``'s data being the
    JSON text ``text`` (parsed as ``runflow check`` parses an SSE event's data)."""
    return [tapped_event(protocol, i, event.get("event"), event.get("data"),
                         text if i == index else None) for i, event in enumerate(events)]


def tapped_event(protocol: Protocol, index: int, name: str | None, data: Any,
                 text: str | None = None) -> TappedEvent:
    """Event ``index`` as the layers see it: ``data``, or the JSON text ``text`` parsed
    as ``runflow check`` parses an SSE event's data."""
    if text is None:
        return named_event(protocol, index, 0, name, data, None)
    return sse_event(protocol, index, 0, RawEvent(name, text.encode("utf-8", "surrogatepass"),
                                                  0))


def _lists(obj: Any) -> int:
    """The elements of the lists an object holds at its top level."""
    if not isinstance(obj, dict):
        return 0
    return sum(len(v) for v in obj.values() if isinstance(v, list))


@dataclass
class TypesRun:
    """What the types layer did over one stream (:func:`types_problems`)."""

    problems: list[str] = field(default_factory=list)
    """What is wrong (see the module docstring)."""
    findings: int = 0
    calls: int = 0
    """Validations of an object against an SDK class."""
    most_errors: int = 0
    """The most errors one validation returned."""


def types_problems(protocol: Protocol, events: Sequence[TappedEvent]) -> TypesRun:
    """Run the types layer over ``events`` and judge it; raises whatever the layer
    raises. A finding may come at a later event's :meth:`~SdkTypes.see` or at
    :meth:`~SdkTypes.end` (the layer waits for the flow's verdict on an event before
    reporting it), so findings are judged against the event they name."""
    layer = SdkTypes(protocol)
    run = TypesRun()
    problems = run.problems
    found: list[Finding] = []
    for event in events:
        with counting() as work:
            found += layer.see(event)
        run.calls += work.calls
        run.most_errors = max(run.most_errors, *work.errors, 0)
        if work.errors and max(work.errors) > MAX_ERRORS:
            problems.append(f"#{event.index}: one validation returned "
                            f"{max(work.errors)} errors, over {MAX_ERRORS}")
        data = event.data if isinstance(event.data, dict) else {}
        bound = 2 + max(_lists(data), *(_lists(v) for v in data.values()), 0)
        if work.calls > bound:
            problems.append(f"#{event.index}: {work.calls} validations, over {bound}")
    found += layer.end()
    run.findings = len(found)
    named = {event.index: event for event in events}
    per_event: dict[int | None, int] = {}
    for f in found:
        per_event[f.index] = per_event.get(f.index, 0) + 1
        subject = named.get(f.index) if f.index is not None else None
        if subject is None:
            problems.append(f"#{f.index}: a finding names no event of the stream")
            continue
        problems += [f"#{subject.index}: {p}" for p in _finding(f, subject)]
    problems += [f"#{index}: {n} findings, over {MAX_PER_EVENT}"
                 for index, n in per_event.items() if n > MAX_PER_EVENT]
    return run


def _finding(f: Finding, event: TappedEvent) -> list[str]:
    """What is wrong with finding ``f`` of ``event``."""
    bad = []
    if (f.index, f.event) != (event.index, event.name):
        bad.append(f"a finding names #{f.index} {f.event!r}, which is {event.name!r}")
    if not f.rule.startswith("types.") or f.severity != "warning":
        bad.append(f"a finding is {f.rule} ({f.severity})")
    if len(f.message) > MAX_MESSAGE:
        bad.append(f"a message of {len(f.message)} characters")
    head = f"{event.name}: "
    if not f.message.startswith(head) or named_path(f.message[len(head):], event.data) is None:
        bad.append(f"a message naming no JSON path of the event: {f.message[:150]!r}")
    return bad


def named_path(text: str, data: Any) -> tuple[str | int, ...] | None:
    """The JSON path ``text`` begins with (as :func:`~runflow.conform.sdk_types.dotted`
    writes it, then ``" is "``) when it names a value of ``data`` (and the text does
    not call it ``absent``), or a key absent from an object of it (and the text says
    ``absent``); else None."""
    if text.startswith("(the object) is "):
        return ()
    path: list[str | int] = []
    rest = text
    while not rest.startswith(" is "):
        segment, rest = _segment(rest, not path)
        if segment is None:
            return None
        path.append(segment)
    whole = _keys_in(data, path)
    absent = rest.startswith(" is absent")  # a value present is shown by its repr
    if whole is not None and next(at(data, whole), _ABSENT) is not _ABSENT:
        return None if absent else whole
    parent = next(at(data, whole[:-1]), None) if whole is not None else None
    if absent and isinstance(parent, dict) and path[-1] not in parent:
        return tuple(path)
    return None


_ABSENT: Final = object()


def _keys_in(data: Any, path: list[str | int]) -> tuple[str | int, ...] | None:
    """``path`` with each key a message cut (:func:`~runflow.conform.sdk_schema.shown_path`)
    read back as the key of ``data`` it begins (None: no such key)."""
    out: list[str | int] = []
    for seg in path:
        if isinstance(seg, str) and len(seg) == MAX_KEY_SHOWN and seg.endswith("…"):
            obj = next(at(data, tuple(out)), None)
            seg = next((k for k in obj if len(k) > MAX_KEY_SHOWN and k.startswith(seg[:-1])),
                       "") if isinstance(obj, dict) else ""
            if not seg:
                return None
        out.append(seg)
    return tuple(out)


def _segment(text: str, first: bool) -> tuple[str | int | None, str]:
    """The path segment ``text`` begins with, and what follows it."""
    if text.startswith("["):
        end = _literal_end(text)
        if end is None:
            return None, text
        try:
            value = ast.literal_eval(text[1:end])
        except (ValueError, SyntaxError):
            return None, text
        ok = isinstance(value, int) or (isinstance(value, str) and not value.isidentifier())
        return (value if ok else None), text[end + 1:]
    if not first:
        if not text.startswith("."):
            return None, text
        text = text[1:]
    stop = min((i for i in (text.find("."), text.find("["), text.find(" is ")) if i >= 0),
               default=len(text))
    name = text[:stop]
    return (name if name.isidentifier() else None), text[stop:]


def _literal_end(text: str) -> int | None:
    """The index of the ``]`` closing the bracket ``text`` begins with: after an
    integer, or after a quoted string (escapes skipped)."""
    if len(text) > 1 and text[1] in "'\"":
        quote, i = text[1], 2
        while i < len(text):
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == quote:
                return i + 1 if text[i + 1:i + 2] == "]" else None
            i += 1
        return None
    end = text.find("]")
    return end if end > 1 and text[1:end].isdigit() else None
