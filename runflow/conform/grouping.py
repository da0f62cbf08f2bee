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
* ``announcer``: a message whose ``message_creation`` step had an earlier finding;
* ``items``: any item of the response had an earlier finding;
* ``repeat``: the same rule about the same entity again (an id prefix on each event).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from runflow.conform.events import TappedEvent
from runflow.conform.findings import Finding, Group
from runflow.engine.limits import Limits

__all__ = ["CASCADES", "Announcers", "Cascade", "group"]

Link = Literal["same", "root", "announcer", "items", "repeat"]

_EFFECTS = frozenset({
    "grammar.unknown_entity", "grammar.invalid_transition", "grammar.run_not_in_progress",
    "grammar.event_after_terminal", "grammar.done_before_final",
    "grammar.children_open_at_terminal", "grammar.snapshot_divergence",
    "grammar.sequence_gap", "grammar.content_index_gap", "grammar.output_mismatch",
    "grammar.tool_calls_mismatch", "grammar.duplicate_entity", "grammar.orphan_message",
    "consistency.run", "consistency.steps", "consistency.messages",
    "consistency.response", "order.run.queued_before_in_progress",
    "order.step.in_progress_after_created", "order.message.in_progress_after_created",
    "order.response.in_progress_after_created", "order.response.queued_after_created",
    "order.response.in_progress_after_queued",
})
_LOST = ("grammar.",)
"""The causes of a cascade: findings about an event the flow lost, refused or applied
wrongly (the grammar's violations), which leave an entity behind."""


@dataclass(frozen=True)
class Cascade:
    """Findings of ``rules`` are consequences of an earlier finding linked by ``link``."""

    rules: frozenset[str] | None
    """None: any rule."""
    link: Link
    why: str
    causes: tuple[str, ...] = _LOST
    """Prefixes of the rules an earlier finding must have to cause these (an empty
    string: any rule)."""


CASCADES: tuple[Cascade, ...] = (
    Cascade(None, "repeat", "the same rule broken again by the same entity is one problem",
            ("",)),
    Cascade(_EFFECTS, "same",
            "an entity whose event was lost, broken or refused is unknown, in the wrong "
            "state or different from REST for the rest of the flow"),
    Cascade(frozenset({"grammar.run_not_in_progress", "grammar.event_after_terminal",
                       "grammar.done_before_final", "grammar.tool_calls_mismatch",
                       "grammar.children_open_at_terminal", "grammar.output_mismatch",
                       "consistency.run", "consistency.response"}), "root",
            "children are judged by the root's state: a root left behind by a lost event "
            "makes their events look misplaced"),
    Cascade(frozenset({"grammar.orphan_message"}), "announcer",
            "a message is announced by its message_creation step: a step the flow lost "
            "announces nothing"),
    Cascade(frozenset({"grammar.output_mismatch", "grammar.items_interleaved"}), "items",
            "the terminal output lists the items: one the flow lost is missing from it"),
)


class Announcers:
    """Message id -> the key of the step that names it (``step_details.
    message_creation.message_id``), fed one event at a time; what the ``announcer``
    link reads. At most ``Limits.max_entities`` are kept, as the flow keeps steps."""

    __slots__ = ("_limit", "found")

    def __init__(self, limits: Limits | None = None) -> None:
        self._limit = (limits or Limits()).max_entities
        self.found: dict[str, str] = {}

    def see(self, event: TappedEvent) -> None:
        data = event.data
        if not isinstance(data, dict) or data.get("object") not in (
                "thread.run.step", "thread.run.step.delta"):
            return
        details = data.get("step_details") or {}
        creation = details.get("message_creation") if isinstance(details, dict) else None
        message = creation.get("message_id") if isinstance(creation, dict) else None
        if isinstance(message, str) and isinstance(data.get("id"), str):
            if message in self.found or len(self.found) < self._limit:
                self.found[message] = f"step:{data['id']}"


def _announcers(events: Iterable[TappedEvent]) -> dict[str, str]:
    layer = Announcers()
    for event in events:
        layer.see(event)
    return layer.found


def _order(f: Finding) -> tuple[int, int]:
    return (f.index if f.index is not None else 1 << 60, 0)


def group(findings: Iterable[Finding], events: Iterable[TappedEvent] = (),
          root: str | None = None, announcers: Announcers | None = None) -> list[Group]:
    """Group one flow's findings (see the module docstring); roots in index order.
    The steps that announce messages come from ``events``, or from ``announcers``
    fed them as they came."""
    ordered = sorted(findings, key=_order)
    said = announcers.found if announcers is not None else _announcers(events)
    parent: list[int | None] = []
    for i, finding in enumerate(ordered):
        parent.append(_parent(ordered, i, finding, said, root))
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
            root: str | None) -> int | None:
    """The earliest earlier finding this one is linked to; never a warning for an error
    (an error is a root cause of its own unless an error explains it)."""
    best: int | None = None
    for cascade in CASCADES:
        if cascade.rules is not None and finding.rule not in cascade.rules:
            continue
        for j in range(i):
            other = ordered[j]
            if finding.severity == "error" and other.severity != "error":
                continue
            if not other.rule.startswith(cascade.causes):
                continue
            if _linked(cascade.link, finding, other, announcers, root):
                best = j if best is None else min(best, j)
                break
    return best


def _linked(link: Link, finding: Finding, other: Finding, announcers: dict[str, str],
            root: str | None) -> bool:
    if link == "repeat":
        return other.rule == finding.rule and other.key == finding.key
    if link == "same":
        return finding.key is not None and other.key == finding.key
    if link == "root":
        return root is not None and other.key == root
    if link == "announcer":
        message = (finding.key or "").partition(":")[2]
        step = announcers.get(message)
        return step is not None and other.key == step
    return other.key is not None and other.key.startswith("output/")
