"""What a grader reports: one :class:`Finding` per broken rule, grouped by root cause."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

__all__ = ["Finding", "Group", "Severity", "others_ok"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One broken rule: which, where (the event's index in its flow) and why."""

    rule: str
    """The rule's stable id (``grammar.unknown_entity``, ``payload.run.usage``...)."""
    severity: Severity
    message: str
    index: int | None = None
    """The event's index in its flow, as the flow numbers events (None: no event)."""
    event: str | None = None
    entity: str | None = None
    """What it is about, as a person reads it (``run run_abc``)."""
    key: str | None = None
    """What it is about, for grouping (``message:msg_abc``, ``output/0``, ``run``)."""
    flow: str = ""
    """Which flow of the scenario (``run``, ``response``, ``follow-up``...)."""
    scenario: str = ""

    @property
    def layer(self) -> str:
        return self.rule.split(".", 1)[0]

    def placed(self, scenario: str, flow: str) -> Finding:
        return replace(self, scenario=scenario, flow=flow)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "layer": self.layer, "severity": self.severity,
                "scenario": self.scenario, "flow": self.flow, "index": self.index,
                "event": self.event, "entity": self.entity, "message": self.message}

    def where(self) -> str:
        return f"#{self.index}" if self.index is not None else "-"


@dataclass(frozen=True)
class Group:
    """A root cause and the findings it explains (a cascade is one group)."""

    root: Finding
    consequences: tuple[Finding, ...] = field(default=())

    @property
    def members(self) -> tuple[Finding, ...]:
        """The root, then its consequences."""
        return (self.root, *self.consequences)

    @property
    def severity(self) -> Severity:
        return "error" if any(f.severity == "error" for f in self.members) else "warning"

    def to_json(self) -> dict[str, Any]:
        return {**self.root.to_json(), "group_severity": self.severity,
                "consequences": [f.to_json() for f in self.consequences]}


def others_ok(groups: Iterable[Group], *, strict: bool) -> bool:
    """No error finding beyond the grammar's (whose violations the flow's own verdict
    judges); with ``strict``, no such finding at all: what ``runflow check`` adds to
    the flow's verdict, for a recording and for each response of a transcript."""
    every = [f for g in groups for f in g.members if f.layer != "grammar"]
    return not every if strict else all(f.severity != "error" for f in every)
