"""Run the catalogue against a server and grade it: :func:`conform` -> :class:`Report`.

Per scenario: run it (:mod:`.assistants`, :mod:`.responses`); each of its flows is
graded as its events arrive (:class:`~.grade.FlowGrade`: the flow's violations
(grammar), the payload invariants, the order expectations) and, at the end, with
what the scenario found over HTTP and REST, its findings are grouped by root cause
(:mod:`.grouping`). What is kept of a flow's events is bounded
(:class:`~.events.Window`), whatever the stream's length. A scenario is ``passed``, ``warnings``
(only warning findings), ``failed`` (an error finding), ``not_applicable`` (the
server cannot be made to do it) or ``error`` (conform could not finish it).

Exit codes (:attr:`Report.exit_code`): 0 conformant (no error finding), 1 findings,
2 could not run (the server unreachable, or no scenario could run at all).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import TYPE_CHECKING, Any, Literal, cast

import openai

from runflow.conform.catalogue import Context, Scenario
from runflow.conform.findings import Finding, Group
from runflow.conform.grouping import group
from runflow.conform.order import Follows, Next, Repeats, expectations_for
from runflow.conform.rules import RULES, WEBSOCKET, rules_for
from runflow.conform.session import (
    Bounds,
    CouldNotRun,
    Exchange,
    NotApplicable,
    Probe,
    Refused,
    Session,
    bounded_client,
)
from runflow.protocols.registry import REGISTRY, registered

if TYPE_CHECKING:
    from runflow.conform.websocket_grade import ConnectionProbe

__all__ = ["Report", "ScenarioResult", "conform", "conform_protocols", "scenario_names",
           "scenarios_for"]

Status = Literal["passed", "warnings", "failed", "not_applicable", "error"]


def scenarios_for(protocol: str) -> tuple[Scenario, ...]:
    """The conform scenarios of the registered protocol ``protocol``: its row names
    them as ``"module:NAME"``, imported here, when conform runs (``ValueError`` for
    a protocol that is not registered or has none)."""
    entry = registered(protocol)
    if entry.scenarios is None:
        raise ValueError(f"the {protocol} protocol has no conform scenarios")
    module, _, name = entry.scenarios.partition(":")
    found: tuple[Scenario, ...] = getattr(import_module(module), name)
    return found


def conform_protocols() -> tuple[str, ...]:
    """The registered protocols that have conform scenarios (beside them, conform
    grades ``responses-ws``, WebSocket mode: :mod:`.websocket_scenarios`)."""
    return tuple(name for name, entry in REGISTRY.items() if entry.scenarios is not None)


def scenario_names(protocol: str) -> tuple[str, ...]:
    """The names of ``protocol``'s scenarios, in catalogue order."""
    if protocol == WEBSOCKET:
        from runflow.conform.websocket_scenarios import WEBSOCKET_SCENARIOS

        return tuple(s.name for s in WEBSOCKET_SCENARIOS)
    return tuple(s.name for s in scenarios_for(protocol))


@dataclass
class FlowResult:
    """One graded flow of a scenario."""

    label: str
    probe: Probe | ConnectionProbe
    """An SSE flow's probe, or a WebSocket connection's (both read alike)."""
    groups: list[Group]


@dataclass
class ScenarioResult:
    name: str
    description: str
    status: Status
    reason: str = ""
    flows: list[FlowResult] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def groups(self) -> list[Group]:
        return [g for f in self.flows for g in f.groups]

    @property
    def findings(self) -> list[Finding]:
        return [f for g in self.groups for f in g.members]


@dataclass
class Report:
    base_url: str
    protocol: str
    model: str
    scenarios: list[ScenarioResult]
    seconds: float
    could_not_run: str | None = None

    @property
    def findings(self) -> list[Finding]:
        return [f for s in self.scenarios for f in s.findings]

    @property
    def groups(self) -> list[Group]:
        return [g for s in self.scenarios for g in s.groups]

    @property
    def exit_code(self) -> int:
        if self.could_not_run is not None:
            return 2
        if any(f.severity == "error" for f in self.findings):
            return 1
        ran = [s for s in self.scenarios if s.status not in ("not_applicable", "error")]
        return 0 if ran else 2

    def rule_status(self) -> dict[str, tuple[str, int]]:
        """Rule id -> (``pass`` | ``fail`` | ``warn`` | ``n/a``, findings)."""
        checked = {r for s in self.scenarios for r in s.checked}
        counts: dict[str, int] = {}
        worst: dict[str, str] = {}
        for f in self.findings:
            counts[f.rule] = counts.get(f.rule, 0) + 1
            if f.severity == "error" or worst.get(f.rule) != "fail":
                worst[f.rule] = "fail" if f.severity == "error" else "warn"
        out = {}
        for r in rules_for(self.protocol):
            status = worst.get(r.id) or ("pass" if r.id in checked else "n/a")
            out[r.id] = (status, counts.get(r.id, 0))
        return out


def _checked(probe: Probe) -> set[str]:
    """The rules a flow's events exercised."""
    protocol = probe.flow.protocol
    found = set(probe.checked)
    if not probe.tap.count:
        return found
    found |= {r.id for r in rules_for(protocol.name) if r.layer == "grammar"}
    found |= probe.grade.applied
    names = probe.grade.names
    for row in expectations_for(protocol):
        if (isinstance(row, (Follows, Next)) and row.event in names) or isinstance(row, Repeats):
            found.add(row.id)
    return found


def _grade(probe: Probe, scenario: str) -> FlowResult:
    """The findings of a flow graded as its events came, with what the scenario found
    over HTTP and REST, grouped by root cause."""
    flow = probe.flow
    findings = [f for f in probe.grade.findings()
                if not (f.rule == "grammar.truncated" and f.index in probe.left_at)]
    findings += probe.findings
    placed = [f.placed(scenario, probe.label) for f in findings]
    groups = group(placed, (), announcers=probe.grade.announcers,
                   protocol=flow.protocol)
    return FlowResult(probe.label, probe, groups)


def _status(result: ScenarioResult) -> Status:
    severities = {f.severity for f in result.findings}
    if "error" in severities:
        return "failed"
    if result.status in ("not_applicable", "error"):
        return result.status
    for flow in result.flows:
        ended = flow.probe.flow
        if ended.ending == "error" and ended.protocol.root_table.stream_end(
                ended.root_state) is None:
            error: Any = getattr(ended, "error", None)
            said = getattr(error, "message", None) or "no message"
            result.reason = (f"the stream ended with an error event ({said}) while the "
                             f"{ended.root_kind} was {ended.root_state}")
            return "not_applicable"
    return "warnings" if severities else "passed"


def _run_one(session: Session, scenario: Scenario, model: str) -> ScenarioResult:
    ctx = Context(session, model, scenario.protocol, scenario.name)
    result = ScenarioResult(scenario.name, scenario.description, "passed")
    first = len(session.exchanges)
    start = time.monotonic()
    try:
        scenario.run(ctx)
    except NotApplicable as exc:
        result.status, result.reason = "not_applicable", str(exc)
    except Refused as exc:
        result.status = "not_applicable" if exc.status < 500 else "failed"
        result.reason = f"the server refused a request the scenario needs ({exc})"
    except CouldNotRun:
        raise
    except (openai.APIError, KeyError, TypeError, ValueError, AttributeError) as exc:
        result.status, result.reason = "error", f"{type(exc).__name__}: {exc}"[:300]
    result.seconds = time.monotonic() - start
    result.exchanges = session.exchanges[first:]
    result.notes = ctx.notes
    for probe in ctx.probes:
        result.flows.append(_grade(probe, scenario.name))
        result.checked |= _checked(probe)
        if probe.grade.suppressed:
            result.notes.append(f"{probe.label}: {probe.grade.suppressed} finding(s) past "
                                f"{probe.flow.limits.max_repeated_violations} of one rule "
                                "were counted, not kept")
    result.status = _status(result)
    return result


def conform(base_url: str, *, protocol: str = "assistants", api_key: str = "runflow",
            model: str = "gpt-4o-mini", scenarios: Sequence[str] | None = None,
            headers: Mapping[str, str] | None = None, timeout: float = 60.0,
            client: openai.OpenAI | None = None, bounds: Bounds | None = None) -> Report:
    """Grade the server at ``base_url`` (what ``openai.OpenAI(base_url=...)`` takes),
    every answer held to ``bounds`` (default: :class:`Bounds` with ``timeout``): the
    client made when none is given is :func:`~runflow.conform.session.bounded_client`
    (as ``runflow conform`` makes it), each scenario's deadline starting with it; a
    ``client`` given is used as it is. ``protocol="responses-ws"`` grades the
    WebSocket mode at ``/responses`` under it, held to the same bounds."""
    if protocol not in (*conform_protocols(), WEBSOCKET):
        raise ValueError(f"unknown protocol {protocol!r}; known: "
                         f"{', '.join((*conform_protocols(), WEBSOCKET))}")
    bounds = bounds or Bounds(timeout=timeout)
    if protocol == WEBSOCKET:
        return _conform_websocket(base_url, api_key, model, scenarios, headers, bounds)
    catalogue = scenarios_for(protocol)
    names = {s.name for s in catalogue}
    unknown = [n for n in scenarios or () if n not in names]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: "
                         f"{', '.join(s.name for s in catalogue)}")
    chosen = [s for s in catalogue if not scenarios or s.name in scenarios]
    transport = None
    if client is None:
        client, transport = bounded_client(base_url, api_key=api_key,
                                           headers=dict(headers or {}), bounds=bounds)
    session = Session(client)
    start = time.monotonic()
    results: list[ScenarioResult] = []
    could_not_run = None
    try:
        for scenario in chosen:
            if transport is not None:
                transport.restart()
            results.append(_run_one(session, scenario, model))
    except CouldNotRun as exc:
        could_not_run = str(exc)
    return Report(base_url, protocol, model, results, time.monotonic() - start, could_not_run)


def _conform_websocket(base_url: str, api_key: str, model: str,
                       scenarios: Sequence[str] | None, headers: Mapping[str, str] | None,
                       bounds: Bounds) -> Report:
    """:func:`conform` for WebSocket mode: one connection (or more) per scenario."""
    from runflow.conform.websocket_run import run_websocket
    from runflow.conform.websocket_scenarios import WEBSOCKET_SCENARIOS
    from runflow.conform.websocket_session import WsSession

    names = scenario_names(WEBSOCKET)
    unknown = [n for n in scenarios or () if n not in names]
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: "
                         f"{', '.join(names)}")
    session = WsSession(base_url, api_key, dict(headers or {}), bounds)
    start = time.monotonic()
    results: list[ScenarioResult] = []
    could_not_run = None
    try:
        for scenario in WEBSOCKET_SCENARIOS:
            if scenarios and scenario.name not in scenarios:
                continue
            run = run_websocket(session, scenario, model)
            result = ScenarioResult(
                scenario.name, scenario.description, cast("Status", run.status), run.reason,
                [FlowResult(p.label, p, groups) for p, groups in run.graded], run.checked,
                run.notes, run.exchanges, run.seconds)
            result.status = _status(result)
            results.append(result)
    except CouldNotRun as exc:
        could_not_run = str(exc)
    return Report(base_url, WEBSOCKET, model, results, time.monotonic() - start, could_not_run)


def rule_ids(findings: Iterable[Finding]) -> list[str]:
    return sorted({f.rule for f in findings})


def describe_rule(rule_id: str) -> Any:
    return RULES[rule_id]
