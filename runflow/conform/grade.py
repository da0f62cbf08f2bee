"""Grade one flow's events: grammar (the flow's violations), payloads, order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from runflow.conform.events import TappedEvent, entity_key
from runflow.conform.findings import Finding
from runflow.conform.order import check_order
from runflow.conform.payload import check_payloads
from runflow.engine.definition import Protocol
from runflow.engine.flow import Flow
from runflow.engine.violations import Violation

__all__ = ["grade_events", "judged", "violation_finding", "violation_key"]


def _key_of(protocol: Protocol, violation: Violation,
            events: dict[int, TappedEvent]) -> str | None:
    return violation_key(protocol, violation, entity_key(protocol, events.get(violation.index)))


def violation_key(protocol: Protocol, violation: Violation, event_key: str | None) -> str | None:
    """What a violation is about, for grouping: its entity, else ``event_key`` (the
    :func:`~runflow.conform.events.entity_key` of the event at its index)."""
    entity = violation.entity
    if entity is not None:
        if entity.kind == protocol.root:
            return protocol.root
        table = protocol.tables.get(entity.kind)
        if table is not None and not table.position:
            return f"{entity.kind}:{entity.id}"
    key = event_key
    if key is None and entity is not None and protocol.tables.get(entity.kind) is not None:
        digits = [p for p in entity.id.replace("=", "/").split("/") if p.isdigit()]
        if digits:
            return f"output/{digits[0]}"
    return key


def violation_finding(protocol: Protocol, violation: Violation,
                      events: dict[int, TappedEvent], *,
                      keys: dict[int, str | None] | None = None) -> Finding:
    """A violation as a ``grammar.*`` finding; the key of the event at its index from
    ``events``, or from ``keys`` (index -> the event's key, kept as it came)."""
    key = (violation_key(protocol, violation, keys.get(violation.index)) if keys is not None
           else _key_of(protocol, violation, events))
    return Finding(f"grammar.{violation.code.value}", violation.severity, violation.message,
                   violation.index, violation.event,
                   str(violation.entity) if violation.entity is not None else None, key)


def grade_events(flow: Flow, events: Sequence[TappedEvent]) -> list[Finding]:
    """Every finding of the grammar, payload and order layers for one flow."""
    protocol = flow.protocol
    by_index = {e.index: e for e in events}
    found = [violation_finding(protocol, v, by_index) for v in flow.violations]
    found += judged(flow, [*check_payloads(protocol, list(events)),
                            *check_order(protocol, list(events))])
    return sorted(found, key=lambda f: (f.index if f.index is not None else 1 << 60))


def judged(flow: Flow, findings: list[Finding]) -> list[Finding]:
    """The payload and order findings as the flow's server profile judges them: a
    rule it expects is left out, one it rates differently gets that severity (the
    grammar's violations were judged by the flow itself)."""
    profile = flow.profile
    if profile is None or not profile.rules:
        return findings
    judged = []
    for finding in findings:
        verdict = profile.rule_verdict(finding.rule)
        if verdict == "expected":
            continue
        judged.append(finding if verdict is None else replace(finding, severity=verdict))
    return judged
