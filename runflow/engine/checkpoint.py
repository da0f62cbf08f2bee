"""Checkpoints: save a flow mid-run and continue it in another process.

A checkpoint is JSON holding the flow's whole :class:`~runflow.engine.state.FlowState`,
the name of the protocol it runs and its settings, under a format version. The
record is serialised generically, field by field, from its type annotations: a
field added to ``FlowState`` is saved and checked on load without a line here,
and a field of a type no codec knows fails the checkpoint tests at once.

Loading validates everything before a flow exists: every field's type, every
state against the definition's tables, the stream state against the stream
machine, ids against their objects and their keys, the limits. It returns a
consistent flow or raises :class:`CheckpointError`, never anything else and never
later. Callbacks are code and are not saved: register them again on the restored
flow.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union
from typing import Protocol as Interface

from runflow.engine.definition import EntityTable, Protocol
from runflow.engine.entities import Tracker
from runflow.engine.jsonparse import JSONError, dump_json, parse_json
from runflow.engine.limits import Limits
from runflow.engine.profiles import Profile
from runflow.engine.sse import RawEvent, SSEDecoder
from runflow.engine.state import Children, FlowState, StateChange
from runflow.engine.violations import Violation

__all__ = ["FORMAT", "VERSION", "CheckpointError", "dump_flow", "load_flow"]

FORMAT = "runflow.checkpoint"
VERSION = 2
"""Version 2: the generic ``state`` record (version 1 listed fields by hand)."""

_MISSING: Any = object()
_HINTS = typing.get_type_hints(FlowState)


class CheckpointError(ValueError):
    """The text is not a runflow checkpoint this version can read, or it is damaged;
    the message names the field."""


class Saved(Interface):
    """What a checkpoint reads of a flow."""

    @property
    def state(self) -> FlowState: ...
    @property
    def definition(self) -> Protocol: ...
    @property
    def strict(self) -> bool: ...
    @property
    def callback_errors(self) -> Literal["raise", "collect"]: ...
    @property
    def limits(self) -> Limits: ...
    @property
    def profile(self) -> Profile | None: ...


class _Context:
    def __init__(self, protocol: Protocol, limits: Limits) -> None:
        self.protocol = protocol
        self.limits = limits
        self.parents = frozenset(t.parent_group for t in protocol.tables.values()
                                 if t.parent_group is not None)
        """The groups whose entities hold parts (their size counts their parts')."""


# --------------------------------------------------------------------------- #
# codecs for the record's own classes
# --------------------------------------------------------------------------- #
def _dump_tracker(t: Tracker) -> Any:
    return {
        "entity": t.entity, "id": t.id, "state": t.state, "raw": t.raw,
        "deltas": t.deltas, "size": t.size, "status_override": t.status_override,
        "recovered": t.recovered, "acc": t.acc.dump() if t.acc is not None else None,
        "slot": t.slot, "owner": t.owner,
    }


def _load_tracker(d: Any, path: str, ctx: _Context) -> Tracker:
    d = _obj(d, path)
    kind = _typed(d.get("entity"), str, f"{path}.entity")
    table = ctx.protocol.tables.get(kind)
    if table is None:
        raise CheckpointError(f"{path}.entity: {kind!r} is not an entity of "
                              f"{ctx.protocol.name}")
    tid = _typed(d.get("id"), str, f"{path}.id")
    t = Tracker(table, tid)
    state = _typed(d.get("state"), str, f"{path}.state")
    if state not in table.states:
        raise CheckpointError(f"{path}.state: {state!r} is not a {kind} state "
                              f"({', '.join(table.states)})")
    t.state = state
    t.raw = _obj(d.get("raw"), f"{path}.raw")
    if table.shape is not None and (t.raw or not _made_without_object(table, ctx.protocol)):
        problem: str | None = table.shape.problem(t.raw, f"{path}.raw")
        if problem is not None:
            raise CheckpointError(f"{problem} (not a {kind} object)")
    for key in ("slot", "owner"):
        value = d.get(key)
        if value is not None and type(value) is not str:
            raise CheckpointError(f"{path}.{key}: expected a string or null")
        setattr(t, key, value)
    if bool(table.position) != (t.slot is not None):
        raise CheckpointError(f"{path}.slot: a {kind} is found by "
                              f"{'position' if table.position else 'id'}")
    # (a root whose id rotates keeps its first id while its object names the last:
    # the flow followed it, with item_id_mismatch)
    if not table.position and not table.id_rotates and t.raw.get("id", tid) != tid:
        raise CheckpointError(f"{path}: tracker id {tid!r} differs from its object's id "
                              f"{t.raw.get('id')!r}")
    t.deltas = _count(d.get("deltas"), f"{path}.deltas")
    t.size = _count(d.get("size"), f"{path}.size")
    override = d.get("status_override")
    if override is not None and override not in table.states:
        raise CheckpointError(f"{path}.status_override: {override!r} is not a {kind} state")
    t.status_override = override
    t.recovered = _typed(d.get("recovered"), bool, f"{path}.recovered")
    # an object without the status field takes its state, as the flow took it
    # (status.py: only a status the object states can disagree)
    status = (t.raw.get(table.status_field, state)
              if table.status_field and table.status_from_event and t.raw else state)
    if status != state and override != state:
        raise CheckpointError(f"{path}: state {state!r} but its object says {str(status)[:40]!r}")
    acc = d.get("acc")
    if t.acc is not None:
        if acc is None:
            raise CheckpointError(f"{path}.acc: a {kind} needs what its deltas built")
        try:
            t.acc.load(_obj(acc, f"{path}.acc"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"{path}.acc: damaged ({exc})") from None
        problem = t.acc.disagrees(t.raw)
        if problem is not None:
            raise CheckpointError(f"{path}.acc: {problem}")
    _check_counters(t, path, ctx)
    return t


def _made_without_object(table: EntityTable, protocol: Protocol) -> bool:
    """Whether an entity of ``table`` can exist with an empty object: an event that
    creates it carries none (a Responses shell command)."""
    created = protocol.created.get(table.entity, frozenset())
    return any(t.carries is None for t in table.transitions if t.event in created)


def _check_counters(t: Tracker, path: str, ctx: _Context) -> None:
    """The delta counters agree with the accumulator and stay within the limits."""
    holds_parts = ctx.protocol.tables[t.entity].group in ctx.parents
    if t.acc is None:
        if t.deltas or (t.size and not holds_parts):  # its parts' deltas count in its size
            raise CheckpointError(f"{path}.deltas: a {t.entity} takes no deltas")
        return
    limit: int = getattr(ctx.limits, t.acc.limit)
    if t.size > limit:
        raise CheckpointError(f"{path}.size: {t.size} characters, past "
                              f"{t.acc.limit}={limit}")
    if t.size and not t.deltas and not holds_parts:
        raise CheckpointError(f"{path}.size: {t.size} characters, but no delta added them")
    if t.size and getattr(t.acc, "keeps_deltas", False) and not _holds_text(t.acc.dump()):
        raise CheckpointError(f"{path}.acc: {t.deltas} delta(s) added {t.size} characters, "
                              "and it holds none")


def _holds_text(value: Any) -> bool:
    """Whether a saved accumulator holds a character anywhere (keys aside)."""
    if type(value) is str:
        return bool(value)
    if type(value) is dict:
        return any(_holds_text(v) for v in value.values())
    if type(value) is list:
        return any(_holds_text(v) for v in value)
    return False


def _load_violation(d: Any, path: str, ctx: _Context) -> Violation:
    try:
        return Violation.model_validate(_obj(d, path))
    except ValueError as exc:
        raise CheckpointError(f"{path}: not a violation ({exc})") from None


def _dump_change(c: StateChange) -> Any:
    out = [c.index, c.entity, c.id, c.event, c.source, c.dest]
    return out if c.count == 1 else [*out, c.count]  # a repeated self-loop: its count


def _load_change(d: Any, path: str, ctx: _Context) -> StateChange:
    if type(d) is not list or len(d) not in (6, 7):
        raise CheckpointError(f"{path}: expected a state change of 6 fields (7 with a count)")
    index = _count(d[0], f"{path}[0]")
    count = _count(d[6], f"{path}[6]") if len(d) == 7 else 1
    if count < 1:
        raise CheckpointError(f"{path}[6]: a count is at least 1")
    kind, oid, event, source, dest = (_typed(v, str, f"{path}[{i + 1}]")
                                      for i, v in enumerate(d[1:6]))
    table = ctx.protocol.tables.get(kind)
    if table is None or source not in table.states or dest not in table.states:
        raise CheckpointError(f"{path}: {kind} {source!r} -> {dest!r} is not in the table")
    return StateChange(index, kind, oid, event, source, dest, count)


def _dump_raw(r: RawEvent) -> Any:
    return [r.event, None if r.data is None else r.data.decode("latin-1"), r.offset, r.oversize]


def _load_raw(d: Any, path: str, ctx: _Context) -> RawEvent:
    if type(d) is not list or len(d) != 4:
        raise CheckpointError(f"{path}: expected a raw event of 4 fields")
    event = None if d[0] is None else _typed(d[0], str, f"{path}[0]")
    data = None if d[1] is None else _typed(d[1], str, f"{path}[1]")
    try:
        raw = None if data is None else data.encode("latin-1")
    except UnicodeEncodeError:
        raise CheckpointError(f"{path}[1]: not latin-1 text") from None
    return RawEvent(event, raw, _count(d[2], f"{path}[2]"), _count(d[3], f"{path}[3]"))


def _dump_decoder(d: SSEDecoder) -> Any:
    return d.state()


def _load_decoder(d: Any, path: str, ctx: _Context) -> SSEDecoder:
    decoder = SSEDecoder(ctx.limits.max_event_bytes)
    obj = _obj(d, path)
    for key in ("pending", "head"):
        held = obj.get(key)
        if type(held) is str and len(held) > ctx.limits.max_event_bytes:
            raise CheckpointError(f"{path}.{key}: {len(held)} bytes buffered, past "
                                  f"max_event_bytes={ctx.limits.max_event_bytes}")
    try:
        decoder.restore(_obj(d, path))
    except (KeyError, TypeError, ValueError, UnicodeEncodeError) as exc:
        raise CheckpointError(f"{path}: damaged decoder state ({exc!r})") from None
    return decoder


_CODECS: dict[type, tuple[Callable[[Any], Any], Callable[[Any, str, _Context], Any]]] = {
    Tracker: (_dump_tracker, _load_tracker),
    Violation: (lambda v: v.model_dump(mode="json"), _load_violation),
    StateChange: (_dump_change, _load_change),
    RawEvent: (_dump_raw, _load_raw),
    SSEDecoder: (_dump_decoder, _load_decoder),
}


# --------------------------------------------------------------------------- #
# the generic walk over type annotations
# --------------------------------------------------------------------------- #
def _split(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    origin = typing.get_origin(hint)
    if origin is Union or origin is types.UnionType:
        return Union, typing.get_args(hint)
    return origin, typing.get_args(hint)


def _encode(value: Any, hint: Any) -> Any:
    origin, args = _split(hint)
    if origin is Union:
        if value is None:
            return None
        return _encode(value, next(a for a in args if a is not type(None)))
    if origin is dict:
        return {k: _encode(v, args[1]) for k, v in value.items()}
    if origin is list:
        return [_encode(v, args[0]) for v in value]
    if origin is tuple:
        return [_encode(v, a) for v, a in zip(value, args, strict=True)]
    if origin is set:
        return sorted(_encode(v, args[0]) for v in value)
    if hint in _CODECS:
        return _CODECS[hint][0](value)
    if hint in (int, str, bool) or hint is Any:
        return value
    raise TypeError(f"no checkpoint codec for {hint!r}")


def _decode(value: Any, hint: Any, path: str, ctx: _Context) -> Any:
    origin, args = _split(hint)
    if origin is Union:
        if value is None and type(None) in args:
            return None
        return _decode(value, next(a for a in args if a is not type(None)), path, ctx)
    if origin is dict:
        obj = _obj(value, path)
        return {k: _decode(v, args[1], f"{path}.{k}", ctx) for k, v in obj.items()}
    if origin in (list, set):
        if type(value) is not list:
            raise CheckpointError(f"{path}: expected an array, got {type(value).__name__}")
        items = [_decode(v, args[0], f"{path}[{i}]", ctx) for i, v in enumerate(value)]
        return set(items) if origin is set else items
    if origin is tuple:
        if type(value) is not list or len(value) != len(args):
            raise CheckpointError(f"{path}: expected an array of {len(args)}")
        return tuple(_decode(v, a, f"{path}[{i}]", ctx)
                     for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if hint in _CODECS:
        return _CODECS[hint][1](value, path, ctx)
    if hint is int:
        return _count(value, path)
    if hint in (str, bool):
        return _typed(value, hint, path)
    if hint is Any:
        return value
    raise CheckpointError(f"{path}: no codec for {hint!r}")


def _obj(value: Any, path: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise CheckpointError(f"{path}: expected an object, got {type(value).__name__}")
    return value


def _typed(value: Any, kind: type, path: str) -> Any:
    if type(value) is not kind:
        raise CheckpointError(f"{path}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _count(value: Any, path: str) -> int:
    if type(value) is not int or value < 0:
        raise CheckpointError(f"{path}: expected a count (an integer >= 0), got "
                              f"{str(value)[:40]!r}")
    return value


# --------------------------------------------------------------------------- #
# flows
# --------------------------------------------------------------------------- #
def dump_flow(flow: Saved) -> str:
    """The checkpoint of ``flow``, as JSON text."""
    state = flow.state
    record = {f.name: _encode(getattr(state, f.name), _HINTS[f.name])
              for f in dataclasses.fields(FlowState)}
    # A flow adds a kind to its children with the kind's first entity; the
    # checkpoint holds every kind of the definition, in the definition's order.
    record["children"] = {kind: record["children"].get(kind, {})
                          for kind in flow.definition.children}
    data = {
        "format": FORMAT,
        "version": VERSION,
        "protocol": flow.definition.name,
        "settings": {
            "strict": flow.strict,
            "callback_errors": flow.callback_errors,
            "limits": flow.limits.to_dict(),
            "profile": flow.profile.name if flow.profile is not None else None,
        },
        "state": record,
    }
    text, replaced = dump_json(data)
    if replaced:
        warnings.warn("the checkpoint held lone surrogates (text that is not valid "
                      "Unicode); they were replaced with U+FFFD", UnicodeWarning, stacklevel=3)
    return text


def _limits(value: Any) -> Limits:
    obj = _obj(value, "settings.limits")
    names = {f.name for f in dataclasses.fields(Limits)}
    for key in sorted(set(obj) - names):
        raise CheckpointError(f"settings.limits.{key}: not a limit")
    for key, val in obj.items():
        if type(val) is not int or val <= 0:
            raise CheckpointError(f"settings.limits.{key}: expected a positive integer, got "
                                  f"{str(val)[:40]!r}")
    return Limits(**obj)


def _check_record(state: FlowState, protocol: Protocol) -> None:
    """What the types alone cannot say: the record is one consistent flow."""
    if state.stream not in protocol.stream.states:
        raise CheckpointError(f"state.stream: {state.stream!r} is not a stream state")
    for name, tracker, kind in (("root", state.root, protocol.root),
                                ("scope", state.scope, protocol.scope)):
        if tracker is not None and tracker.entity != kind:
            raise CheckpointError(f"state.{name}: a {tracker.entity} where a {kind} belongs")
    if state.root is not None and state.root_id != state.root.id:
        raise CheckpointError("state.root_id: differs from the root's id")
    if state.scope is not None and state.scope_id != state.scope.id:
        raise CheckpointError("state.scope_id: differs from the scope's id")
    if set(state.children) != set(protocol.children):
        raise CheckpointError(f"state.children: expected the kinds {list(protocol.children)}")
    for kind, by_id in state.children.items():
        links = protocol.tables[kind].links
        for key, tracker in by_id.items():
            if tracker.entity != kind or tracker.id != key:
                raise CheckpointError(f"state.children.{kind}.{key}: holds "
                                      f"{tracker.entity} {tracker.id}")
            for fld, other in links.items():
                value = tracker.raw.get(fld)
                known = state.root_id if other == protocol.root else state.scope_id
                if isinstance(value, str) and value != known:
                    raise CheckpointError(
                        f"state.children.{kind}.{key}: names {other} {value[:60]!r} but the "
                        f"flow's {other} is {known!r}")
    for key, named in state.slots.items():
        kind, tid = (*named, "", "")[:2]
        found = state.children.get(kind, {}).get(tid)
        if found is None or found.slot != key:
            raise CheckpointError(f"state.slots.{key}: names {kind} {tid[:60]!r}, which is "
                                  "not the entity at that position")
    if state.index < len(state.backlog):
        raise CheckpointError("state.index: smaller than the backlog")


def load_flow(text: str | bytes, protocol: Protocol, profiles: Mapping[str, Profile],
              overrides: dict[str, Any]) -> tuple[dict[str, Any], FlowState]:
    """Read a checkpoint of a flow running ``protocol``: the arguments to make the
    flow with (its saved settings, ``overrides`` taking precedence) and its state.
    A saved profile is looked up in ``profiles``. Raises :class:`CheckpointError`."""
    try:
        data = parse_json(text)
    except JSONError as exc:
        raise CheckpointError(f"checkpoint is not JSON: {exc}") from None
    if type(data) is not dict or data.get("format") != FORMAT:
        raise CheckpointError(f"not a runflow checkpoint (expected format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint version {str(data.get('version'))[:20]} is not supported "
            f"(expected {VERSION})"
        )
    if data.get("protocol") != protocol.name:
        raise CheckpointError(f"checkpoint of protocol {str(data.get('protocol'))[:40]!r}, "
                              f"not {protocol.name!r}")
    settings = _obj(data.get("settings"), "settings")
    limits = overrides.pop("limits", None) or _limits(settings.get("limits"))
    strict = overrides.pop("strict", _typed(settings.get("strict"), bool, "settings.strict"))
    errors = overrides.pop("callback_errors", settings.get("callback_errors"))
    if errors not in ("raise", "collect"):
        raise CheckpointError("settings.callback_errors: expected 'raise' or 'collect'")
    profile = overrides.pop("profile", _MISSING)
    if profile is _MISSING:
        name = settings.get("profile")
        if name is not None and type(name) is not str:
            raise CheckpointError("settings.profile: expected a profile name or null")
        profile = profiles.get(name) if name is not None else None
        if name is not None and profile is None:
            raise CheckpointError(f"settings.profile: unknown profile {name!r}; known: "
                                  f"{', '.join(profiles)}")
    ctx = _Context(protocol, limits)
    record = _obj(data.get("state"), "state")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(FlowState):
        if f.name not in record:
            raise CheckpointError(f"state.{f.name}: missing")
        values[f.name] = _decode(record[f.name], _HINTS[f.name], f"state.{f.name}", ctx)
    for key in sorted(set(record) - set(values)):
        raise CheckpointError(f"state.{key}: not a field of this version's flow state")
    state = FlowState(**values)
    _check_record(state, protocol)
    # as a fresh flow holds them: only the kinds that have an entity
    state.children = Children({k: by_id for k, by_id in state.children.items() if by_id})
    arguments = {"strict": strict, "limits": limits, "callback_errors": errors,
                 "protocol": protocol, "profile": profile, **overrides}
    return arguments, state
