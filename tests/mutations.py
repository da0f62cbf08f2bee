"""Small, pure mutations of recorded event lists, for rule tests and fuzzing.

Every helper takes a list of events (``{"event": name, "data": ...}`` dicts, as
:func:`conftest.load_events` returns them) and returns a NEW list; the input is
never modified. Events a helper changes are deep-copied first; events it only
moves or keeps are shared with the input (treat events as read-only).

Indices are positions in the list given to the helper. Negative indices count
from the end, as in Python.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "Event",
    "cut",
    "drop",
    "duplicate",
    "find",
    "find_all",
    "insert",
    "move",
    "rename_event",
    "replace_id",
    "set_field",
    "set_status",
    "swap",
    "update",
]

Event = dict[str, Any]
Events = Sequence[Event]


def _norm(events: Events, index: int) -> int:
    n = len(events)
    if not -n <= index < n:
        raise IndexError(f"event index {index} out of range for {n} events")
    return index % n


def find_all(events: Events, event: str | None = None, id: str | None = None) -> list[int]:
    """Indices of the events named ``event`` (if given) whose ``data.id`` is ``id``
    (if given)."""
    out = []
    for i, e in enumerate(events):
        data = e.get("data")
        if event is not None and e.get("event") != event:
            continue
        if id is not None and not (isinstance(data, dict) and data.get("id") == id):
            continue
        out.append(i)
    return out


def find(events: Events, event: str | None = None, id: str | None = None, nth: int = 0) -> int:
    """Index of the ``nth`` match of :func:`find_all` (``nth=-1``: the last one)."""
    matches = find_all(events, event, id)
    if not matches:
        raise LookupError(f"no event {event!r} with id {id!r}")
    return matches[nth]


def drop(events: Events, *indices: int) -> list[Event]:
    """Remove the events at ``indices``."""
    gone = {_norm(events, i) for i in indices}
    return [e for i, e in enumerate(events) if i not in gone]


def duplicate(events: Events, index: int, to: int | None = None) -> list[Event]:
    """Insert a deep copy of event ``index`` right after it, or before position
    ``to`` of the input (``to=len(events)``: at the end)."""
    index = _norm(events, index)
    where = index + 1 if to is None else to
    return insert(events, where, events[index])


def insert(events: Events, position: int, event: Event) -> list[Event]:
    """Insert a deep copy of ``event`` before position ``position``."""
    out = list(events)
    out.insert(position, copy.deepcopy(event))
    return out


def swap(events: Events, i: int, j: int) -> list[Event]:
    """Exchange the events at ``i`` and ``j``."""
    i, j = _norm(events, i), _norm(events, j)
    out = list(events)
    out[i], out[j] = out[j], out[i]
    return out


def move(events: Events, index: int, before: int) -> list[Event]:
    """Move event ``index`` so that it comes right before the event that was at
    position ``before`` of the input (``before=len(events)``: to the end)."""
    index = _norm(events, index)
    if not 0 <= before <= len(events):
        raise IndexError(f"position {before} out of range for {len(events)} events")
    event = events[index]
    out = [e for i, e in enumerate(events) if i != index]
    out.insert(before - (1 if before > index else 0), event)
    return out


def cut(events: Events, end: int) -> list[Event]:
    """Keep only the events before ``end`` (a stream cut off there)."""
    return list(events[:end])


def update(events: Events, index: int, change: Callable[[Event], None]) -> list[Event]:
    """Apply ``change`` to a deep copy of event ``index``."""
    index = _norm(events, index)
    out = list(events)
    changed = copy.deepcopy(events[index])
    change(changed)
    out[index] = changed
    return out


def set_field(
    events: Events, index: int, path: str | Sequence[str | int], value: Any
) -> list[Event]:
    """Set ``data.<path>`` of event ``index`` (path: ``"a.b.0.c"`` or a sequence;
    integer parts index lists). A missing last key is created."""
    keys: list[str | int] = (
        [int(k) if k.isdigit() else k for k in path.split(".")]
        if isinstance(path, str)
        else list(path)
    )

    def change(event: Event) -> None:
        node = event["data"]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return update(events, index, change)


def set_status(events: Events, index: int, status: str) -> list[Event]:
    """Change the payload ``status`` of event ``index`` (not its event name)."""
    return set_field(events, index, "status", status)


def rename_event(events: Events, index: int, name: str, status: str | None = None) -> list[Event]:
    """Change the event name of event ``index`` (and, if given, its payload status)."""

    def change(event: Event) -> None:
        event["event"] = name
        if status is not None:
            event["data"]["status"] = status

    return update(events, index, change)


def replace_id(
    events: Events, old: str, new: str, indices: Iterable[int] | None = None
) -> list[Event]:
    """Replace every string value equal to ``old`` (ids and references to it, e.g.
    ``run_id`` or ``message_creation.message_id``) by ``new`` in the data of the
    events at ``indices`` (default: all events)."""
    chosen = range(len(events)) if indices is None else [_norm(events, i) for i in indices]
    out = list(events)
    for i in chosen:
        out[i] = {**events[i], "data": _replace(events[i].get("data"), old, new)}
    return out


def _replace(node: Any, old: str, new: str) -> Any:
    if isinstance(node, str):
        return new if node == old else node
    if isinstance(node, dict):
        return {k: _replace(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, old, new) for v in node]
    return copy.deepcopy(node)
