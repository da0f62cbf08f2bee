"""Findings grouped by root cause: a cascade is one finding with its consequences.

One lost or broken event makes a flow report many violations: a dropped
``thread.message.created`` makes every delta of that message an
``unknown_entity``; a corrupt ``thread.run.in_progress`` leaves the run queued, so
every step and message event is ``run_not_in_progress``, the run's completion an
``invalid_transition`` and ``done`` a ``done_before_final``. :data:`CASCADES` says,
as data, which findings can be the consequence of an earlier one and through which
link; :func:`group` attaches each finding to the earliest earlier finding it is
linked to (transitively, so a cascade has one root). A finding no row links is a
root cause of its own: two independent problems stay two groups.

A link is causal, never a shared entity alone: each row names the findings that
can *cause* its effects (``Cascade.causes``). An event the flow lost, refused or
applied wrongly (a ``grammar`` finding) leaves its entity behind, and what follows
about that entity is its consequence; a payload finding (``usage`` null), an order
warning or a REST answer changes nothing the flow holds, so what follows is not its
consequence. A REST 404 or a REST object that differs after an unrelated payload
finding about the same response stays a root cause of its own, and an HTTP status
is never a consequence: REST answers whatever the flow made of the stream.

Links (``Cascade.link``):

* ``same``: about the same entity (its key: ``message:msg_1``, ``output/0``, ``run``);
* ``root``: the flow's root (the run, the response) had an earlier finding;
* ``announcer``: an entity whose announcer had an earlier finding (the row's
  :class:`~runflow.protocols.cascades.Announcement`: an Assistants message and the
  ``message_creation`` step that names it);
* ``group``: any child in the row's group had an earlier finding (``output``: any
  item of the response);
* ``repeat``: the same rule about the same entity again (an id prefix on each event).

The table is data: :data:`CASCADES` holds the rows that hold for any grammar (codes of
the engine), and each protocol's registry row adds its own
(:attr:`~runflow.protocols.registry.Registered.cascades`: the rules only it has, and
the links only its grammar makes), so this module names no protocol's event, state or
rule. A flow's findings are grouped by :func:`cascades_for` its protocol; told no
protocol, by every registered protocol's rows (the shipped rows name rules only their
own protocol reports, so the groups are the same).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runflow.conform.events import TappedEvent
from runflow.conform.findings import Finding, Group
from runflow.engine.definition import Protocol
from runflow.engine.limits import Limits
from runflow.engine.violations import Code
from runflow.protocols.cascades import Announcement, Cascade
from runflow.protocols.registry import REGISTRY

__all__ = ["CASCADES", "Announcers", "Cascade", "cascades_for", "group", "root_of"]


def _grammar(*codes: Code) -> frozenset[str]:
    return frozenset(f"grammar.{code.value}" for code in codes)


CASCADES: tuple[Cascade, ...] = (
    Cascade(None, "repeat", "the same rule broken again by the same entity is one problem",
            ("",)),
    Cascade(_grammar(Code.UNKNOWN_ENTITY, Code.INVALID_TRANSITION, Code.RUN_NOT_IN_PROGRESS,
                     Code.EVENT_AFTER_TERMINAL, Code.DONE_BEFORE_FINAL,
                     Code.CHILDREN_OPEN_AT_TERMINAL, Code.SNAPSHOT_DIVERGENCE,
                     Code.SEQUENCE_GAP, Code.CONTENT_INDEX_GAP, Code.DUPLICATE_ENTITY),
            "same",
            "an entity whose event was lost, broken or refused is unknown, in the wrong "
            "state or different from REST for the rest of the flow"),
    Cascade(_grammar(Code.RUN_NOT_IN_PROGRESS, Code.EVENT_AFTER_TERMINAL,
                     Code.DONE_BEFORE_FINAL, Code.CHILDREN_OPEN_AT_TERMINAL), "root",
            "children are judged by the root's state: a root left behind by a lost event "
            "makes their events look misplaced"),
)
"""The rows that hold for any grammar; each protocol adds its own (:func:`cascades_for`)."""


def cascades_for(protocol: str | None = None) -> tuple[Cascade, ...]:
    """:data:`CASCADES`, then the rows of ``protocol``'s registry row; for None (or a
    protocol not registered), the rows of every registered protocol."""
    row = REGISTRY.get(protocol) if protocol is not None else None
    rows = [row] if row is not None else list(REGISTRY.values())
    return (*CASCADES, *(c for r in rows for c in r.cascades))


def root_of(protocol: str | Protocol | None) -> str | None:
    """The root kind of ``protocol`` (``run``, ``response``): a definition's own, a
    name's registered definition's; None for None or a name not registered."""
    if isinstance(protocol, Protocol):
        return protocol.root
    row = REGISTRY.get(protocol) if protocol is not None else None
    return row.definition.root if row is not None else None


def _announcements(cascades: Iterable[Cascade]) -> tuple[Announcement, ...]:
    return tuple(dict.fromkeys(c.announcement for c in cascades
                               if c.announcement is not None))


class Announcers:
    """Announced entity id -> the key of the entity that announces it (an Assistants
    message's ``message_creation`` step), fed one event at a time by the
    :class:`~runflow.protocols.cascades.Announcement` rows of ``protocol`` (every
    registered protocol's when None); what the ``announcer`` link reads. At most
    ``Limits.max_entities`` are kept, as the flow keeps entities."""

    __slots__ = ("_limit", "_rows", "found")

    def __init__(self, limits: Limits | None = None, protocol: str | None = None) -> None:
        self._limit = (limits or Limits()).max_entities
        self._rows = _announcements(cascades_for(protocol))
        self.found: dict[str, str] = {}

    def see(self, event: TappedEvent) -> None:
        data = event.data
        if not isinstance(data, dict):
            return
        for row in self._rows:
            marked = data.get(row.field)
            if type(marked) is not str or marked not in row.objects:
                continue
            named: Any = data
            for key in row.path:
                named = named.get(key) if isinstance(named, dict) else None
            announcer = data.get("id")
            if isinstance(named, str) and isinstance(announcer, str) and (
                    named in self.found or len(self.found) < self._limit):
                self.found[named] = f"{row.kind}:{announcer}"


def _announcers(events: Iterable[TappedEvent], protocol: str | None) -> dict[str, str]:
    layer = Announcers(protocol=protocol)
    for event in events:
        layer.see(event)
    return layer.found


def _order(f: Finding) -> tuple[int, int]:
    return (f.index if f.index is not None else 1 << 60, 0)


def group(findings: Iterable[Finding], events: Iterable[TappedEvent] = (),
          root: str | None = None, announcers: Announcers | None = None, *,
          protocol: str | Protocol | None = None) -> list[Group]:
    """Group one flow's findings (see the module docstring) by the rows of
    ``protocol`` (its name, or its definition: :func:`cascades_for` its name); roots in
    index order. The entities that announce others come from ``events``, or from
    ``announcers`` fed them as they came.

    ``root``: the key of the flow's root, which the ``root`` link looks for; None (the
    default) takes ``protocol``'s root kind (:func:`root_of`). A root given is used
    as given, even one that is not ``protocol``'s (a flow's findings grouped by
    another protocol's rows), as before the root could be left out."""
    ordered = sorted(findings, key=_order)
    name = protocol.name if isinstance(protocol, Protocol) else protocol
    cascades = cascades_for(name)
    if root is None:
        root = root_of(protocol)
    said = announcers.found if announcers is not None else _announcers(events, name)
    parent: list[int | None] = []
    for i, finding in enumerate(ordered):
        parent.append(_parent(ordered, i, finding, said, root, cascades))
    children: dict[int, list[Finding]] = {}
    roots: list[int] = []
    for i in range(len(ordered)):
        top = i
        while parent[top] is not None:
            top = parent[top]  # type: ignore[assignment]
        if top == i:
            roots.append(i)
        else:
            children.setdefault(top, []).append(ordered[i])
    return [Group(ordered[i], tuple(children.get(i, ()))) for i in roots]


def _parent(ordered: list[Finding], i: int, finding: Finding, announcers: dict[str, str],
            root: str | None, cascades: tuple[Cascade, ...]) -> int | None:
    """The earliest earlier finding this one is linked to; never a warning for an error
    (an error is a root cause of its own unless an error explains it)."""
    best: int | None = None
    for cascade in cascades:
        if cascade.rules is not None and finding.rule not in cascade.rules:
            continue
        for j in range(i):
            other = ordered[j]
            if finding.severity == "error" and other.severity != "error":
                continue
            if not other.rule.startswith(cascade.causes):
                continue
            if _linked(cascade, finding, other, announcers, root):
                best = j if best is None else min(best, j)
                break
    return best


def _linked(cascade: Cascade, finding: Finding, other: Finding, announcers: dict[str, str],
            root: str | None) -> bool:
    link = cascade.link
    if link == "repeat":
        return other.rule == finding.rule and other.key == finding.key
    if link == "same":
        return finding.key is not None and other.key == finding.key
    if link == "root":
        return root is not None and other.key == root
    if link == "announcer":
        announcer = announcers.get((finding.key or "").partition(":")[2])
        return announcer is not None and other.key == announcer
    return other.key is not None and other.key.startswith(f"{cascade.group}/")
