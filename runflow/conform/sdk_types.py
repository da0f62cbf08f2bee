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

The events that carry no object, deltas and value events (``output_text.done``),
are typed against the SDK's class of the event by
:mod:`runflow.conform.sdk_events`, with the same rules, gaps and bounds.

Not reported twice (one field, one report, the more precise one):

* a top-level field a payload invariant reports at the same event
  (``payload.message.role``) gets no ``types.*`` finding;
* nor does the value the definition's shape of the object names (the grammar's
  ``malformed_event``: ``status: required, got null``), or a value holding it or
  held by it: the shape's :class:`~runflow.engine.shapes.Misfit` names its path as
  data, as the violation does (:attr:`~runflow.engine.violations.Violation.path`);
* nor does the object's status when it disagrees with the event (a
  ``status`` the SDK's Literal does not allow, or null, in an object whose event
  leads elsewhere): the grammar's ``status_mismatch`` names the event, the state it
  leads to and the status sent, which says more than the Literal's list of values.
  A status the event agrees with has no grammar finding, and is typed.

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
ResponseTextDeltaEvent.logprobs,     llmopenaiplugin_     SDK gap: required by the SDK; the
ResponseTextDoneEvent.logprobs       json_schema_noseq_   stream of before the field (and
(missing)                            gpt4omini            before sequence numbers) omits it
===================================  ===================  =================================

A Literal the service sends a new value for is let through for that value only (a
new value the next capture shows is a new row, with its capture); a field the SDK
requires that the service omits is let through when absent, never when it holds a
wrong type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel

from runflow.conform.events import TappedEvent, carried
from runflow.conform.findings import Finding
from runflow.conform.payload import holds
from runflow.conform.sdk_events import EventTypes
from runflow.conform.sdk_report import (
    MAX_PER_EVENT,
    SDK_GAPS,
    Gap,
    dotted,
    literals,
    models,
    overlaps,
    report,
    rule_of,
    sdk_version,
    unreported,
)
from runflow.conform.sdk_schema import Error, Path, validator
from runflow.conform.short_paths import Listen
from runflow.engine.definition import Protocol
from runflow.engine.lazy import resolve
from runflow.engine.violations import Violation
from runflow.protocols.payload import Invariant
from runflow.protocols.registry import row_of

__all__ = ["MAX_PER_EVENT", "MAX_SEEN", "SDK_GAPS", "Gap", "SdkTypes", "check_types", "dotted",
           "rule_of", "sdk_version"]

MAX_SEEN = 10_000
"""Children remembered for the root's list (``Limits.max_entities``' default): past
that, a child listed in the root is typed again."""


@cache
def _event_fields(ref: str) -> dict[str, dict[str, dict[str, type[BaseModel]]]]:
    """Event name -> field -> ``type`` tag -> class, from the SDK's event union ``ref``
    (a field holding one class is under the tag ``""``)."""
    out: dict[str, dict[str, dict[str, type[BaseModel]]]] = {}
    for event in models(resolve(ref)):
        names = [n for f in event.model_fields for n in literals(event, f)]
        fields: dict[str, dict[str, type[BaseModel]]] = {}
        for name, info in event.model_fields.items():
            held = models(info.annotation)
            by_tag: dict[str, type[BaseModel]] = {}
            for model in held:
                for tag in literals(model, "type") or ("",):
                    by_tag.setdefault(tag, model)
            if len(held) == 1:
                by_tag.setdefault("", held[0])
            if by_tag:
                fields[name] = by_tag
        for name in names:
            out.setdefault(name, fields)
    return out


class SdkTypes:
    """The types layer fed one event at a time: :meth:`see` gives that event's
    findings (see the module docstring)."""

    __slots__ = ("_classes", "_events", "_lists", "_placing", "_protocol", "_ref", "_root", "_rows",
                 "_seen")

    def __init__(self, protocol: Protocol,
                 violations: Callable[[], Sequence[Violation]] | None = None) -> None:
        self._protocol = protocol
        self._events = EventTypes(protocol, violations)
        """The delta and value events (:mod:`runflow.conform.sdk_events`), told the flow's
        ``violations`` (what the grammar reported at an event is not reported again)."""
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
        """The findings of ``event``'s object; of a delta or value event before it, which
        waited for the grammar's findings; and of ``event`` itself, which may wait."""
        waited = self._events.see(event)
        found = carried(self._protocol, event)
        if found is None:
            return waited
        obj, name, kind = found.obj, str(event.name), found.kind
        model = self._model(kind, name, obj)
        if model is None:
            return waited
        placing = self._placing.get(kind)
        if placing is not None:
            place = event.data.get(placing[1])
            key = (placing[0], place)
            if type(place) is int and (key in self._seen or len(self._seen) < MAX_SEEN):
                self._seen[key] = obj
        errors = (self._root_errors(model, obj) if kind == self._root and self._lists
                  else validator(model).errors(obj))
        if not errors:
            return waited
        errors = self._unreported(errors, kind, found.state, name, obj)
        return [*waited, *self._findings(event, kind, obj, errors)]

    def end(self) -> list[Finding]:
        """The findings of the last delta or value event, which waited (the input ended)."""
        return self._events.end()

    def ahead(self, keep: Callable[[Finding], None]) -> Listen:
        """A listener typing the delta and value events, called before a grader's short
        path takes them (:meth:`runflow.conform.sdk_events.EventTypes.ahead`)."""
        return self._events.ahead(keep)

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
        """Without the SDK's gaps, the losing variants of a smart union, the fields a
        payload invariant reports at this event, the value the grammar names malformed
        and a status the grammar reports as a ``status_mismatch``."""
        errors = unreported(errors, obj)
        taken = {row.field for row in self._rows.get(kind, ())
                 if (row.events is None or event in row.events)
                 and holds(row, state, obj) is not None}
        table = self._protocol.tables[kind]
        status = table.status_field
        if status is not None and status in obj and obj[status] != state:
            taken.add(status)  # the grammar's status_mismatch (engine/status.py)
        errors = [e for e in errors if not (e.path and e.path[0] in taken)]
        shape = table.shape
        problem = shape.problem(obj) if shape is not None else None
        if problem is None:
            return errors
        spot = problem.path  # the grammar's malformed_event names it (Violation.path)
        return [e for e in errors if not overlaps(dotted("", e.path), spot)]

    def _findings(self, event: TappedEvent, kind: str, obj: dict[str, Any],
                  errors: list[Error]) -> list[Finding]:
        prefix = self._protocol.carries.get(str(event.name)) or ""
        oid = obj.get("id")
        entity = f"{kind} {oid}" if isinstance(oid, str) else kind
        return report(self._protocol, event, kind, entity, prefix, obj, errors)


def check_types(protocol: Protocol, events: Iterable[TappedEvent],
                violations: Callable[[], Sequence[Violation]] | None = None) -> Iterator[Finding]:
    """The findings of :class:`SdkTypes` over ``events`` (``violations``: the flow's,
    see :class:`SdkTypes`)."""
    layer = SdkTypes(protocol, violations)
    for event in events:
        yield from layer.see(event)
    yield from layer.end()
