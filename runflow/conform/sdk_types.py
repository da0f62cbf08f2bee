"""The types layer: every field of every object an event carries, against the SDK's type.

The definitions' shapes name only the fields the flow reads, and a snapshot is built
leniently (:mod:`runflow.engine.lenient`: a field that fails the SDK's validation is
built by the SDK's own ``construct``), so an item whose ``content`` is ``7`` became
a ``ResponseOutputMessage`` whose ``content`` is 7, and nothing said so. This layer
validates each object a status event carries (:func:`~runflow.conform.events.carried`)
against the openai SDK class its snapshot is built as, and reports each error as a
``types.<entity kind>`` finding (``types.run``, ``types.message``, ``types.response``;
for the kinds a shared event dispatches by ``type``, their group: every Responses
output item is ``types.output``, every content part ``types.content``)
naming the event's index, the JSON path inside the event (``item.content``,
``response.output[0].content[0].annotations``), what the SDK's type expects
(pydantic's message) and an excerpt of the value, never the payload.

Source and severity: the openai SDK's types, generated from OpenAI's API reference
(the version in each message); a **warning**, as the SDK itself accepts such an
object (it builds it leniently) and a payload invariant or the grammar reports what
the flow depends on.

Which class: the snapshot class of the entity's table (``Run``, ``RunStep``,
``Message``, ``Thread``, ``Response``); an entity whose table names none (a Responses
output item, content part, summary part) takes the class of the field that carries
it in the SDK's own event class (the registry row's ``sdk_events``), picked by the
object's ``type``: an item or part of a ``type`` the SDK does not know is not typed
(the definition accepts it: the Open Responses specification has clients ignore
unknown items), and neither is such an element of the final response's ``output``.
Inside an object, a ``type`` none of the SDK's variants takes (a run step's
``step_details``, a message's content part) is an error like any other: the SDK
cannot type it. Validation is the SDK's (lax where
pydantic is lax, extra fields allowed), bounded (:mod:`runflow.conform.sdk_schema`):
each list stops at its first bad element, and at most :data:`MAX_PER_EVENT` paths are
reported per event. The root object's list of children (``response.output``) is not
validated again where an element equals the object its child's own event carried
(each item, at ``output_item.done``), which was validated then.

Not reported twice: a top-level field a payload invariant reports at the same event
(``payload.message.role``) gets no ``types.*`` finding, nor does the value the
definition's shape of the object names (the grammar's ``malformed_event``: ``status:
required, got null``), or a value holding it or held by it.

Every finding on the shared captures
------------------------------------
The layer was run over every shared capture (``recordings/*.sse`` and ``*.jsonl``,
``responses/``, ``docs_examples/``; there is no WebSocket capture) and each error the
SDK's types find was judged. Every one is the real service's object against a newer
or narrower SDK type, so each is a gap in the SDK's types (:data:`SDK_GAPS`, matched
by class, field, pydantic's error type and, for a value, the exact value seen) and
none is reported: ``tests/test_sdk_types.py`` pins no finding on any capture, and
that without the table the captures give exactly these errors.

===================================  ===================  =================================
class.field (error)                  where                verdict
===================================  ===================  =================================
Run.parallel_tool_calls (missing)    the 2024 captures    SDK gap: the field is newer than
                                     (openllmetry,        the captures; the service sent
                                     rubyopenai,          runs without it
                                     simpleopenai)
Run.instructions (null)              every docs_examples  SDK gap: typed ``str``; OpenAI's
                                     run, dotnet_*,       own reference examples send null
                                     rubyopenai_..._2024
Run.tools[] type 'retrieval'         simpleopenai_*_v1    SDK gap: the v1 tool, renamed
                                                          file_search in v2
FileSearchRankingOptions.ranker      simpleopenai_EDITED  SDK gap: a Literal the service
'default-2024-08-21'                 _file_search_step_   sends another spelling of; only
                                     deltas (run, step)   that value is let through
InputTokensDetails.cache_write_      every Responses      SDK gap: required by the SDK,
tokens (missing)                     capture's usage      sent by no response
ResponseFunctionWebSearch.action     pydanticai_web_      SDK gap: absent at
(missing)                            search_multi_gpt5    output_item.added (in progress),
                                                          present at done
===================================  ===================  =================================

A Literal the service sends a new value for is let through for that value only (a
new value the next capture shows is a new row, with its capture); a field the SDK
requires that the service omits is let through when absent, never when it holds a
wrong type.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from runflow.conform.events import TappedEvent, carried, entity_key
from runflow.conform.findings import Finding
from runflow.conform.payload import holds
from runflow.conform.sdk_schema import Error, Path, at, shown_path, validator
from runflow.engine.accumulator import shorten
from runflow.engine.definition import Protocol
from runflow.engine.lazy import resolve
from runflow.protocols.payload import Invariant
from runflow.protocols.registry import row_of

__all__ = ["MAX_PER_EVENT", "MAX_SEEN", "SDK_GAPS", "Gap", "SdkTypes", "check_types", "dotted",
           "rule_of", "sdk_version"]

MAX_PER_EVENT = 3
"""Paths reported per event; the last finding counts the others."""
MAX_SEEN = 10_000
"""Children remembered for the root's list (``Limits.max_entities``' default): past
that, a child listed in the root is typed again."""


@dataclass(frozen=True)
class Gap:
    """Errors the real service's objects make against the SDK's types: the SDK's gap,
    not the server's deviation, so not reported. An error matches when it sits at
    ``field`` of an object of class ``model`` (the path from that object, without
    list indices), is of one of pydantic's error ``kinds``, and (when ``values`` is
    set) its value, or a tagged object's ``type``, is one of them."""

    model: str
    field: str
    kinds: frozenset[str]
    why: str
    values: frozenset[str | None] | None = None

    def covers(self, error: Error, value: Any) -> bool:
        if (error.model, ".".join(map(str, error.field))) != (self.model, self.field):
            return False
        if error.kind not in self.kinds:
            return False
        if self.values is None:
            return True
        tag = value.get("type") if isinstance(value, dict) else value
        return (tag is None or isinstance(tag, str)) and tag in self.values


_MISSING = frozenset({"missing"})
SDK_GAPS: tuple[Gap, ...] = (
    Gap("Run", "parallel_tool_calls", _MISSING,
        "the SDK requires it; the runs of 2024 (openllmetry_*, rubyopenai_*, "
        "simpleopenai_*) omit it"),
    Gap("Run", "instructions", frozenset({"string_type"}),
        "the SDK types it str; OpenAI's own reference examples (docs_examples/*), the "
        "dotnet_* runs and rubyopenai_..._2024 send null", frozenset({None})),
    Gap("Run", "tools", frozenset({"union_tag_invalid"}),
        "the v1 Assistants tool 'retrieval' (renamed file_search in v2), which the SDK's "
        "v2 types do not know (simpleopenai_text_answer_v1_2024)", frozenset({"retrieval"})),
    Gap("FileSearchRankingOptions", "ranker", frozenset({"literal_error"}),
        "the service names the ranker 'default-2024-08-21', the SDK's Literal "
        "'default_2024_08_21' (simpleopenai_EDITED_file_search_step_deltas, its run and step)",
        frozenset({"default-2024-08-21"})),
    Gap("InputTokensDetails", "cache_write_tokens", _MISSING,
        "the SDK requires it; no response of the service sends it (every Responses "
        "capture's usage.input_tokens_details)"),
    Gap("ResponseFunctionWebSearch", "action", _MISSING,
        "the SDK requires it; the service sends a web_search_call without it at "
        "output_item.added, in progress, and with it at done "
        "(pydanticai_web_search_multi_gpt5)"),
)
"""The SDK's gaps found on the shared captures (see the module docstring)."""


@cache
def sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openai")
    except PackageNotFoundError:  # pragma: no cover - the SDK is a dependency
        return "?"


def dotted(prefix: str, path: Path) -> str:
    """A JSON path as a reader writes it: ``item.content[0].annotations``."""
    out = prefix
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif seg.isidentifier():
            out += f".{seg}" if out else seg
        else:
            out += f"[{seg!r}]"
    return out or "(the object)"


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The model classes a type (a union, ``Annotated``, ``Optional``) names."""
    if get_origin(annotation) is Annotated:
        return _models(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) is Union:
        return [m for a in get_args(annotation) for m in _models(a)]
    return []


def _literals(model: type[BaseModel], field: str) -> tuple[str, ...]:
    info = model.model_fields.get(field)
    annotation = info.annotation if info is not None else None
    if get_origin(annotation) is Literal:
        return tuple(a for a in get_args(annotation) if isinstance(a, str))
    return ()


@cache
def _event_fields(ref: str) -> dict[str, dict[str, dict[str, type[BaseModel]]]]:
    """Event name -> field -> ``type`` tag -> class, from the SDK's event union ``ref``
    (a field holding one class is under the tag ``""``)."""
    out: dict[str, dict[str, dict[str, type[BaseModel]]]] = {}
    for event in _models(resolve(ref)):
        names = [n for f in event.model_fields for n in _literals(event, f)]
        fields: dict[str, dict[str, type[BaseModel]]] = {}
        for name, info in event.model_fields.items():
            models = _models(info.annotation)
            by_tag: dict[str, type[BaseModel]] = {}
            for model in models:
                for tag in _literals(model, "type") or ("",):
                    by_tag.setdefault(tag, model)
            if len(models) == 1:
                by_tag.setdefault("", models[0])
            if by_tag:
                fields[name] = by_tag
        for name in names:
            out.setdefault(name, fields)
    return out


class SdkTypes:
    """The types layer fed one event at a time: :meth:`see` gives that event's
    findings (see the module docstring)."""

    __slots__ = ("_classes", "_lists", "_placing", "_protocol", "_ref", "_root", "_rows",
                 "_seen")

    def __init__(self, protocol: Protocol) -> None:
        self._protocol = protocol
        row = row_of(protocol)
        self._ref = row.sdk_events
        self._rows: dict[str, list[Invariant]] = {}
        for inv in row.invariants:
            self._rows.setdefault(inv.entity, []).append(inv)
        self._classes: dict[tuple[str, str, str], type[BaseModel] | None] = {}
        self._root = protocol.root
        self._lists: dict[str, str] = {}
        """Root field listing children (``output``) -> an event carrying such a child."""
        self._placing: dict[str, tuple[str, str]] = {}
        """Child kind -> (the root field listing it, the field of its events placing it)."""
        for kind, table in protocol.tables.items():
            if table.role == "child" and table.group and len(table.position) == 1:
                for t in table.transitions:
                    if t.carries:
                        self._lists[table.group] = t.event
                        self._placing[kind] = (table.group, table.position[0])
        self._seen: dict[tuple[str, Any], Any] = {}
        """(root field, position) -> the last object a child's event carried there."""

    def _model(self, kind: str, event: str, obj: dict[str, Any]) -> type[BaseModel] | None:
        tag = obj.get("type")
        tag = tag if isinstance(tag, str) else ""
        key = (kind, event, tag)
        if key in self._classes:
            return self._classes[key]
        model = self._protocol.tables[kind].snapshot_model
        if model is None and self._ref is not None:
            where = self._protocol.carries.get(event) or ""
            model = _event_fields(self._ref).get(event, {}).get(where, {}).get(tag)
        if len(self._classes) < 4096:  # tags are strings the server chose
            self._classes[key] = model
        return model

    def see(self, event: TappedEvent) -> list[Finding]:
        found = carried(self._protocol, event)
        if found is None:
            return []
        obj, name, kind = found.obj, str(event.name), found.kind
        model = self._model(kind, name, obj)
        if model is None:
            return []
        placing = self._placing.get(kind)
        if placing is not None:
            place = event.data.get(placing[1])
            key = (placing[0], place)
            if type(place) is int and (key in self._seen or len(self._seen) < MAX_SEEN):
                self._seen[key] = obj
        errors = (self._root_errors(model, obj) if kind == self._root and self._lists
                  else validator(model).errors(obj))
        if not errors:
            return []
        errors = self._unreported(errors, kind, found.state, name, obj)
        return self._findings(event, kind, obj, errors)

    def _root_errors(self, model: type[BaseModel], obj: dict[str, Any]) -> list[Error] | None:
        """The errors of the root object, its lists of children apart: each element
        typed alone, unless it equals what its child's own event carried."""
        lists = {f: v for f, v in obj.items() if f in self._lists and type(v) is list and v
                 and all(type(item) is dict for item in v)}
        if not lists:
            return validator(model).errors(obj)
        errors = validator(model).errors({**obj, **{f: [] for f in lists}}) or []
        for field, items in lists.items():
            event = self._lists[field]
            kinds = self._protocol.dispatch.get(event, {})
            for i, item in enumerate(items):
                seen = self._seen.get((field, i))
                if seen is not None and (seen is item or seen == item):
                    continue
                tag = item.get("type")
                kind = (kinds.get(tag) if isinstance(tag, str) else None) or kinds.get("*")
                child = self._model(kind, event, item) if kind is not None else None
                if child is not None:
                    errors += self._inside((field, i), validator(child).errors(item) or [])
                if len(errors) > MAX_PER_EVENT:
                    return errors
        return errors

    @staticmethod
    def _inside(prefix: Path, errors: list[Error]) -> list[Error]:
        """``errors`` of an element, placed at ``prefix`` in its parent."""
        return [Error((*prefix, *e.path), e.model, e.field, e.message, e.kind,
                      tuple(((*prefix, *p), n, lab) for p, n, lab in e.union))
                for e in errors]

    def _unreported(self, errors: list[Error], kind: str, state: str, event: str,
                    obj: dict[str, Any]) -> list[Error]:
        """Without the SDK's gaps, the losing variants of a smart union, and the fields a
        payload invariant reports at this event."""
        errors = [e for e in _best_variants(errors) if not any(
            gap.covers(e, next(at(obj, e.path), None)) for gap in SDK_GAPS)]
        taken = {row.field for row in self._rows.get(kind, ())
                 if (row.events is None or event in row.events)
                 and holds(row, state, obj) is not None}
        errors = [e for e in errors if not (e.path and e.path[0] in taken)]
        shape = self._protocol.tables[kind].shape
        problem = shape.problem(obj) if shape is not None else None
        if problem is None:
            return errors
        spot = problem.split(": ", 1)[0]  # the grammar's malformed_event names it
        return [e for e in errors if not _overlaps(dotted("", e.path), spot)]

    def _findings(self, event: TappedEvent, kind: str, obj: dict[str, Any],
                  errors: list[Error]) -> list[Finding]:
        by_path: dict[Path, list[Error]] = {}
        for error in errors:
            by_path.setdefault(error.path, []).append(error)
        prefix = self._protocol.carries.get(str(event.name)) or ""
        oid = obj.get("id")
        entity = f"{kind} {oid}" if isinstance(oid, str) else kind
        key = entity_key(self._protocol, event)
        out = []
        paths = list(by_path.items())
        for n, (path, group) in enumerate(paths[:MAX_PER_EVENT]):
            said = " or ".join(dict.fromkeys(e.message for e in group))
            value = next(at(obj, path), _ABSENT)
            shown = "absent" if value is _ABSENT else shorten(value)
            first = group[0]
            where = ".".join(map(str, shown_path(first.field))) or "(the object)"
            message = (f"{event.name}: {dotted(prefix, shown_path(path))} is {shown}: "
                       f"{said} (openai {sdk_version()} types: {first.model}.{where})")
            if n == MAX_PER_EVENT - 1 and len(paths) > MAX_PER_EVENT:
                message += f"; and {len(paths) - MAX_PER_EVENT} more path(s) in this event"
            out.append(Finding(rule_of(self._protocol, kind), "warning", message, event.index,
                               event.name,
                               entity, key))
        return out


_ABSENT = object()


def _overlaps(one: str, other: str) -> bool:
    """Whether two JSON paths name the same value or one holds the other."""
    short, long = sorted((one, other), key=len)
    return long == short or long.startswith((short + ".", short + "["))


def _best_variants(errors: list[Error]) -> list[Error]:
    """Of a smart union's variants that failed, the errors of the closest one (fewest
    errors; the first on a tie), unless every variant failed at the union itself
    (a scalar of the wrong kind: all are kept, one finding says each expectation)."""
    unions: dict[tuple[Path, int], dict[str, int]] = {}
    for error in errors:
        for path, node, label in error.union:
            counts = unions.setdefault((path, node), {})
            counts[label] = counts.get(label, 0) + 1
    drop: dict[tuple[Path, int], str] = {}
    for (path, node), counts in unions.items():
        if len(counts) < 2:
            continue
        inside = [e for e in errors if any((p, n) == (path, node) for p, n, _ in e.union)]
        if all(e.path == path for e in inside):
            continue
        best = min(counts, key=lambda label: counts[label])
        drop[(path, node)] = best
    if not drop:
        return errors
    return [e for e in errors
            if all(drop.get((p, n), label) == label for p, n, label in e.union)]


def rule_of(protocol: Protocol, kind: str) -> str:
    """The rule of an entity kind's objects: ``types.<group>`` for the kinds a shared
    event dispatches by ``type`` into one group (every Responses output item is
    ``types.output``, every content part ``types.content``), else ``types.<kind>``
    (``types.run``, ``types.response``)."""
    table = protocol.tables[kind]
    return f"types.{table.group or kind}"


def check_types(protocol: Protocol, events: Iterable[TappedEvent]) -> Iterator[Finding]:
    """The findings of :class:`SdkTypes` over ``events``."""
    layer = SdkTypes(protocol)
    for event in events:
        yield from layer.see(event)
