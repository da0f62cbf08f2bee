"""The protocol projection of a stream: what runflow can check, and nothing else.

Two streams with the same projection mean the same thing to runflow; the fuzzer
(:mod:`runflow.testing.fuzz`) calls a mutation *relevant* when it changes the projection.
See :mod:`runflow.testing.fuzz` for the rules the projection follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from runflow.engine.objects import dig
from runflow.protocols import FINAL_OBJECT_EVENTS, PROTOCOL, UNSEEN, Entity, EventKind

__all__ = ["BAD", "Event", "entity_of", "projection"]

Event = dict[str, Any]
_ROUTES = PROTOCOL.routes
_FINAL = FINAL_OBJECT_EVENTS


class _Bad:
    """Data that is not JSON (the reference parse's marker)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not JSON>"


BAD: Final = _Bad()


# --------------------------------------------------------------------------- #
# projection
# --------------------------------------------------------------------------- #
class _Ids:
    """Opaque ids: each distinct string becomes its order of first appearance."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            return ("not-a-string", repr(value))
        return self.seen.setdefault(value, len(self.seen))


def entity_of(name: Any) -> tuple[EventKind, str | None] | None:
    return _ROUTES.get(name) if isinstance(name, str) else None


def _verifiable(events: Sequence[Event]) -> set[str]:
    """Ids whose delta values a later event of the stream states again."""
    deltas: set[str] = set()
    out: set[str] = set()
    open_steps: set[str] = set()
    for e in events:
        name, data = e.get("event"), e.get("data")
        if not isinstance(data, dict):
            continue
        oid = data.get("id")
        if not isinstance(oid, str):
            continue
        if name in ("thread.message.delta", "thread.run.step.delta"):
            deltas.add(oid)
            if name == "thread.run.step.delta":
                open_steps.add(oid)
        elif name in _FINAL and oid in deltas:
            out.add(oid)
        elif name == "thread.run.requires_action":
            out |= open_steps
    return out


def _annotations(text: Any, values: bool) -> tuple[Any, ...]:
    anns = dig(text, "annotations") if isinstance(text, dict) else None
    if not isinstance(anns, list):
        return ()
    out: list[Any] = []
    for k, a in enumerate(anns):
        if not isinstance(a, dict):
            out.append(("bad", repr(a)))
        elif values:
            out.append((a.get("index", k), a.get("type"), a.get("start_index"),
                        a.get("end_index")))
        else:
            out.append((a.get("index", k),))
    return tuple(out)


class _Accumulator:
    """What a run of deltas builds for one entity (reference, not runflow's)."""

    def __init__(self) -> None:
        self.parts: dict[Any, list[Any]] = {}
        self.calls: dict[Any, list[Any]] = {}
        self.bad: list[Any] = []
        self.step_type: Any = None

    def add(self, name: str, delta: Any, ids: _Ids) -> None:
        if not isinstance(delta, dict):
            self.bad.append(("delta", repr(delta)))
            return
        if name == "thread.message.delta":
            content = delta.get("content")
            if content is None:
                return
            if not isinstance(content, list):
                self.bad.append(("content", repr(content)))
                return
            for item in content:
                if not isinstance(item, dict):
                    self.bad.append(("item", repr(item)))
                    continue
                key = (repr(item.get("index")), repr(item.get("type")))
                part = self.parts.setdefault(key, ["", {}, ""])
                text = item.get("text")
                if text is not None and not isinstance(text, dict):
                    self.bad.append(("text", repr(text)))
                elif isinstance(text, dict):
                    value = text.get("value")
                    if isinstance(value, str):
                        part[0] += value
                    elif value is not None:
                        self.bad.append(("value", repr(value)))
                    for k, ann in enumerate(_annotations(text, True)):
                        anns = part[1]
                        raw = dig(text, "annotations")
                        idx = ann[0] if ann[0] is not None else k
                        if isinstance(raw, list) and k < len(raw) and "index" not in raw[k]:
                            idx = len(anns)
                        anns[repr(idx)] = ann[1:]
                refusal = item.get("refusal")
                if isinstance(refusal, str):
                    part[2] += refusal
            return
        details = delta.get("step_details")
        if details is None:
            return
        if not isinstance(details, dict):
            self.bad.append(("step_details", repr(details)))
            return
        self.step_type = details.get("type")
        items = details.get("tool_calls")
        if items is None:
            return
        if not isinstance(items, list):
            self.bad.append(("tool_calls", repr(items)))
            return
        for item in items:
            if not isinstance(item, dict):
                self.bad.append(("call", repr(item)))
                continue
            type_ = item.get("type")
            key = (repr(item.get("index")), repr(type_))
            call = self.calls.setdefault(key, [None, None, "", "", set()])
            if item.get("id") is not None:
                call[0] = ids(item.get("id"))
            body = item.get(type_) if isinstance(type_, str) else None
            if body is not None and not isinstance(body, dict):
                self.bad.append(("body", repr(body)))
                continue
            if not body:
                continue
            if body.get("name") is not None:
                call[1] = body.get("name")
            for slot, fld in ((2, "arguments"), (3, "input")):
                val = body.get(fld)
                if isinstance(val, str):
                    call[slot] += val
                elif val is not None:
                    self.bad.append((fld, repr(val)))
            outputs = body.get("outputs")
            if isinstance(outputs, list):
                for k, out in enumerate(outputs):
                    if isinstance(out, dict):
                        call[4].add((repr(out.get("index", k)), repr(out.get("type"))))
                    else:
                        self.bad.append(("output", repr(out)))
            elif outputs is not None:
                self.bad.append(("outputs", repr(outputs)))

    def project(self, values: bool) -> tuple[Any, ...]:
        parts = tuple(
            (k, (v[0], tuple(sorted(v[1].items())), v[2]) if values
             else tuple(sorted(v[1])))
            for k, v in sorted(self.parts.items())
        )
        calls = tuple(
            (k, v[0], (v[1], v[2], v[3]) if values else None, tuple(sorted(v[4])))
            for k, v in sorted(self.calls.items())
        )
        return (self.step_type, parts, calls, tuple(self.bad))


def _final_values(entity: str, obj: dict[str, Any], ids: _Ids) -> tuple[Any, ...]:
    """The values of a final object that runflow compares with the deltas."""
    if entity == Entity.MESSAGE:
        content = obj.get("content")
        out: list[Any] = []
        for p in content if isinstance(content, list) else ():
            if not isinstance(p, dict):
                out.append(("bad", repr(p)))
                continue
            text = p.get("text")
            out.append((p.get("type"), dig(text, "value"), _annotations(text, True)[:],
                        p.get("refusal")))
        return tuple(out)
    items = dig(obj, "step_details", "tool_calls")
    calls: list[Any] = []
    for c in items if isinstance(items, list) else ():
        if not isinstance(c, dict):
            calls.append(("bad", repr(c)))
            continue
        type_ = c.get("type")
        body = c.get(type_) if isinstance(type_, str) else None
        calls.append((type_, ids(c.get("id")), dig(body, "name"), dig(body, "arguments"),
                      dig(body, "input")))
    return tuple(calls)


def _status(entity: str, name: str, data: Any, ids: _Ids,
            with_values: bool) -> tuple[Any, ...] | None:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        return None
    out: list[Any] = [name, ids(data["id"])]
    if entity == Entity.THREAD:
        return tuple(out)
    status = data.get("status")
    if not isinstance(status, str):
        return None
    out.append(status)
    if entity == Entity.RUN:
        out.append(ids(data.get("thread_id")))
        out.append(bool(data.get("incomplete_details")) if name == "thread.run.completed"
                   else None)
        if name == "thread.run.requires_action":
            calls = dig(data, "required_action", "submit_tool_outputs", "tool_calls")
            out.append(tuple(
                (ids(c.get("id")), dig(c, "function", "name"), dig(c, "function", "arguments"))
                if isinstance(c, dict) else ("bad", repr(c))
                for c in (calls if isinstance(calls, list) else ())
            ))
        return tuple(out)
    for key in ("run_id", "thread_id"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return None
        out.append(ids(data.get(key)))
    if entity == Entity.STEP:
        details = data.get("step_details")
        type_ = dig(details, "type")
        if type_ not in ("message_creation", "tool_calls"):
            return None
        if type_ == "tool_calls" and not isinstance(dig(details, "tool_calls"), list):
            return None
        out.append(type_)
        mid = dig(details, "message_creation", "message_id")
        out.append(ids(mid) if isinstance(mid, str) else None)
    elif not isinstance(data.get("content"), list):
        return None
    if with_values:
        out.append(_final_values(entity, data, ids))
    return tuple(out)


def projection(events: Sequence[Event]) -> tuple[Any, ...]:
    """What runflow can check of a stream (see the module docstring)."""
    ids = _Ids()
    verifiable = _verifiable(events)
    out: list[Any] = []
    states: dict[tuple[str, str], str] = {}
    last: dict[tuple[str, str], tuple[Any, ...]] = {}
    seen_deltas: set[str] = set()
    acc: dict[str, _Accumulator] = {}
    run_key: tuple[str, str] | None = None  # the open delta run: (name, id)

    def close_run() -> None:
        nonlocal run_key
        if run_key is not None:
            name, oid = run_key
            out.append(("deltas", name, ids(oid), acc[oid].project(oid in verifiable)))
            run_key = None

    for e in events:
        name, data = e.get("event"), e.get("data")
        route = entity_of(name)
        if data is BAD:
            close_run()
            out.append(("malformed", name))
            continue
        if route is None:
            close_run()
            out.append(("unknown", name))
            continue
        kind, entity = route
        if kind is EventKind.DELTA:
            if not isinstance(data, dict) or not isinstance(data.get("id"), str) \
                    or not data["id"] or not isinstance(data.get("delta"), dict):
                close_run()
                out.append(("malformed", name))
                continue
            oid = data["id"]
            if run_key != (name, oid):
                close_run()
                ids(oid)
                run_key = (str(name), oid)
            seen_deltas.add(oid)
            acc.setdefault(oid, _Accumulator()).add(str(name), data["delta"], ids)
            continue
        if entity is not None and isinstance(name, str) and kind is EventKind.STATUS:
            oid = dig(data, "id")
            with_values = name in _FINAL and isinstance(oid, str) and oid in seen_deltas
            item = _status(entity, name, data, ids, with_values)
            key = (entity, str(oid))
            dest = PROTOCOL.transitions[entity].get((states.get(key, UNSEEN), name))
            if item is not None and dest is not None and dest == states.get(key) \
                    and name not in _FINAL and dest == dig(data, "status") \
                    and last.get(key) == item[1:]:
                continue  # a repeat of the current state: changes nothing, splits nothing
            close_run()
            if item is None:
                out.append(("malformed", name))
                continue
            if dest is not None:
                states[key] = dest
            last[key] = item[1:]
            out.append(item)
            continue
        close_run()
        if kind is EventKind.DONE:
            out.append(("done",))
        elif kind is EventKind.ERROR:
            body = data.get("error") if isinstance(data, dict) else None
            out.append(("error",) if isinstance(body if isinstance(body, dict) else data, dict)
                       else ("malformed", name))
    close_run()
    return tuple(out)


