"""The types layer's delta and value events: each event's data against the SDK's class.

:mod:`runflow.conform.sdk_types` types the objects status events carry. The other
events a definition routes, the deltas (``response.output_text.delta``,
``thread.message.delta``) and the value events that end a value
(``response.output_text.done``, ``response.function_call_arguments.done``), carry no
object; their data is the SDK's own event class for the name (the registry row's
``sdk_events`` union: a Responses event's data is the class, an Assistants event's
data is its ``data`` field's class, ``MessageDeltaEvent``). :class:`EventTypes`
validates it with the bounded validator (:mod:`runflow.conform.sdk_schema`) and
reports each error as the same ``types.<group or kind>`` finding as the event's
entity's objects (``types.content`` for an output_text delta, ``types.output`` for
a function call's arguments, ``types.message`` for a message delta), naming the
event's index and the JSON path in its data. An event name the SDK does not know is
not typed (``response.apply_patch_call_operation_diff.delta`` in openai 3.63).

The events a definition routes as ignored (``response.audio.delta``,
``response.audio.transcript.delta`` and their ``done``) are typed the same way: the
flow applies nothing of them, so nothing else looks inside, and a malformed one would
go unreported. They name no entity (no position, no item id); each belongs to the
stream's root and takes its rule (``types.response``), naming no id. A heartbeat the
SDK has no class of (``keepalive``, ``response.keep_alive``) is not typed.

Not reported twice:

* the fields that place and number the event (the type, sequence number,
  positions, ``item_id`` and a delta's ``id``) are the grammar's, which reads them and
  decides (it reports a wrong one; a stream without sequence numbers is one it
  accepts);
* a value a grammar finding at the same event names (its
  :attr:`~runflow.engine.violations.Violation.path`, set where the grammar says which
  field is malformed: ``delta``, ``text``, ``delta.content[0].text.value``), or one
  holding it or held by it; and a ``type`` no SDK variant takes where the grammar says
  the type changed (``type_change``). Both are matched by data (path, code), never by
  a message's wording. The grammar's findings of an
  event come as the flow processes it, after the layers saw it, so an event with
  errors waits: its findings are given when the next event comes (or at
  :meth:`EventTypes.end`), measured against the violations the flow added for it
  (``violations``).

Cost: ``runflow check --types`` types every delta. The validator costs about what
check spends on the whole event, so each event is first asked of
:func:`~runflow.conform.sdk_fast.sure` (a few type tests a field), and only an event
it is not sure of is validated. check's grader sends deltas down a short path past
the layers (:mod:`runflow.conform.short_paths`): :meth:`EventTypes.ahead` is this
layer's listener called in front of it, and then types every delta and value event
there, not in :meth:`EventTypes.see`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel

from runflow.conform.events import TappedEvent, observed
from runflow.conform.findings import Finding
from runflow.conform.sdk_fast import Sure, sure
from runflow.conform.sdk_report import dotted, literals, models, overlaps, report, unreported
from runflow.conform.sdk_schema import Error, validator
from runflow.conform.short_paths import Listen
from runflow.engine.definition import EventKind, Protocol
from runflow.engine.lazy import resolve
from runflow.engine.violations import Code, Violation
from runflow.protocols.registry import row_of

__all__ = ["EventTypes", "event_classes"]

_TAGS = frozenset({"union_tag_invalid", "union_tag_not_found"})
"""pydantic's errors of a ``type`` tag no variant takes: the grammar's where it reports
the type changed (``type_change``: a tool call's type in a step delta)."""


@cache
def event_classes(ref: str, type_field: str | None) -> dict[str, type[BaseModel]]:
    """Event name -> the SDK class of its data, from the SDK's event union ``ref``: the
    class itself where the data holds the name (``type_field``), else the class of
    the one other field (``data``) beside the field naming the event (``event``)."""
    out: dict[str, type[BaseModel]] = {}
    for event in models(resolve(ref)):
        fields = event.model_fields
        for field in fields:
            if type_field is not None and field != type_field:
                continue
            names = literals(event, field)
            if type_field is None:
                others = [m for f, info in fields.items() if f != field
                          for m in models(info.annotation)]
                if len(fields) != 2 or len(others) != 1:
                    continue
                data = others[0]
            else:
                data = event
            for name in names:
                out.setdefault(name, data)
    return out


class EventTypes:
    """The delta and value events of one flow, typed (see the module docstring)."""

    __slots__ = ("_ahead", "_classes", "_cursor", "_envelope", "_kinds", "_named", "_pending",
                 "_protocol", "_sure", "_violations")

    def __init__(self, protocol: Protocol,
                 violations: Callable[[], Sequence[Violation]] | None = None) -> None:
        self._protocol = protocol
        self._violations = violations
        self._classes: dict[str, type[BaseModel]] = {}
        self._sure: dict[str, Sure] = {}
        self._kinds: dict[str, str] = {}
        self._envelope: dict[str, frozenset[str]] = {}
        self._named: dict[str, str | None] = {}
        """Event name -> the field naming its entity's id (None: an ignored event's)."""
        ref = row_of(protocol).sdk_events
        known = event_classes(ref, protocol.type_field) if ref is not None else {}
        named: str | None
        placing: tuple[str | None, ...]
        for name, (what, kind) in protocol.routes.items():
            model = known.get(name)
            value = what is EventKind.STATUS and protocol.carries.get(name, "") is None
            if what is EventKind.IGNORED:  # the flow applies none: typed here alone
                kind, named, placing = protocol.root, None, ()
            elif kind is None or not (what is EventKind.DELTA or value):
                continue
            else:
                table = protocol.tables[kind]
                named = table.named_by or table.delta_id
                placing = ((*table.position, table.named_by) if table.position
                           else (table.delta_id,))
            if model is None:
                continue
            self._classes[name] = model
            self._sure[name] = sure(model)
            self._kinds[name] = kind
            self._named[name] = named
            self._envelope[name] = frozenset(
                f for f in (protocol.type_field, protocol.sequence_field, *placing) if f)
        self._pending: tuple[TappedEvent, list[Error]] | None = None
        self._cursor = 0
        self._ahead = False

    def see(self, event: TappedEvent) -> list[Finding]:
        """The findings of the event that waited (if any), then ``event`` typed; nothing
        where :meth:`ahead` types the events."""
        if self._ahead:
            return []
        out = self._settle() if self._pending is not None else []
        self._check(event)
        return out

    def end(self) -> list[Finding]:
        """The findings of the event that waited, the input having ended."""
        return self._settle() if self._pending is not None else []

    def ahead(self, keep: Callable[[Finding], None]) -> Listen:
        """A listener typing each delta and value event, called ahead of a grader's short
        path (which takes those events past the layers); ``keep`` takes the findings.
        Once it has seen an event, :meth:`see` types none."""
        protocol = self._protocol
        type_field, sure_of, settle = protocol.type_field, self._sure, self._settle

        def sse_event(index: int, name: str | None, raw: bytes | None, parsed: Any) -> None:
            self._ahead = True
            if self._pending is not None:
                for finding in settle():
                    keep(finding)
            if type(parsed) is dict:
                named = parsed.get(type_field) if type_field is not None else name
                if type(named) is not str:
                    named = name
                test = sure_of.get(named) if named is not None else None
                if test is not None and not test(parsed):
                    self._check(observed(protocol, index, 0, name, raw, parsed))

        return sse_event

    def _check(self, event: TappedEvent) -> None:
        name, data = event.name, event.data
        if name is None or type(data) is not dict:
            return
        test = self._sure.get(name)
        if test is None or test(data):
            return
        errors = validator(self._classes[name]).errors(data)
        if not errors:
            return
        envelope = self._envelope[name]
        errors = [e for e in unreported(errors, data) if not (e.path and e.path[0] in envelope)]
        if errors:
            self._pending = (event, errors)

    def _settle(self) -> list[Finding]:
        pending, self._pending = self._pending, None
        if pending is None:
            return []
        event, errors = pending
        said = self._grammar(event.index)
        spots = [v.path for v in said if v.path is not None]
        changed = any(v.code is Code.TYPE_CHANGE for v in said)
        errors = [e for e in errors
                  if not any(overlaps(dotted("", e.path), s) for s in spots)
                  and not (changed and e.kind in _TAGS)]
        if not errors:
            return []
        name, data = str(event.name), event.data
        kind = self._kinds[name]
        named = self._named[name]
        oid = data.get(named) if named is not None else None
        entity = f"{kind} {oid}" if isinstance(oid, str) else kind
        return report(self._protocol, event, kind, entity, "", data, errors)

    def _grammar(self, index: int) -> list[Violation]:
        """The grammar's findings at event ``index`` (violations are added in the order
        of their events: those before it are passed for good)."""
        if self._violations is None:
            return []
        found = self._violations()
        at = self._cursor if self._cursor <= len(found) else 0
        out = []
        while at < len(found) and found[at].index <= index:
            if found[at].index == index:
                out.append(found[at])
            at += 1
        self._cursor = at
        return out
