"""What conform reports against each fault mode and each break switch of the emulator.

Every fault of ``runflow serve`` (:mod:`runflow.server.faults`, on the ``text``
scenario) and every break (:mod:`runflow.server.breaks`, on the scenario that
shows it) is one :class:`Switch`: the rule it must make fail, and the event where
(a fault's index is given; a break's is the first event named ``at``). :func:`run`
grades the local server once per switch; :func:`markdown` is the table
``docs/conform_table.md`` holds (``python -m runflow.conform.table --write``;
``tests/test_conform_table.py`` fails when it is stale).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from runflow.conform.runner import Report, ScenarioResult, conform

__all__ = ["FAULTS", "Outcome", "Switch", "markdown", "run", "switches"]

TABLE = Path(__file__).resolve().parents[2] / "docs" / "conform_table.md"


@dataclass(frozen=True)
class Switch:
    name: str
    kind: str
    """``fault`` (X-Runflow-Fault) or ``break`` (X-Runflow-Break)."""
    protocol: str
    scenario: str
    rule: str | None
    """The rule that must fail (None: none may)."""
    index: int | None = None
    at: str | None = None
    stream: int = 0
    why: str = ""

    @property
    def header(self) -> dict[str, str]:
        name = "X-Runflow-Fault" if self.kind == "fault" else "X-Runflow-Break"
        return {name: self.name}


def _faults(protocol: str, rows: list[tuple[str, str | None, int | None, str]]) -> list[Switch]:
    return [Switch(spec, "fault", protocol, "text", rule, index, why=why)
            for spec, rule, index, why in rows]


FAULTS: tuple[Switch, ...] = (
    *_faults("assistants", [
        ("cut_after=5", "grammar.truncated", 5, "the input ends after 5 events"),
        ("error_after=3", None, None, "an error event ends the stream: the protocol's own "
         "way to end one, so the scenario is not applicable, not failed"),
        ("corrupt=3", "grammar.malformed_event", 2, "event 3 (index 2) is not JSON"),
        ("duplicate=4", "grammar.duplicate_entity", 4, "step.created arrives twice"),
        ("drop=4", "grammar.unknown_entity", 3, "step.created never arrives"),
        ("swap=4", "grammar.unknown_entity", 3, "step.in_progress comes before step.created"),
        ("unknown=2", "grammar.unknown_event", 1, "an unknown event before event 2"),
        ("delay=0.01", None, None, "slow, not wrong"),
    ]),
    *_faults("responses", [
        ("cut_after=5", "grammar.truncated", 5, "the input ends after 5 events"),
        ("error_after=3", "order.response.failed_after_error", 3,
         "no response.failed follows the error event"),
        ("corrupt=3", "grammar.malformed_event", 2, "event 3 (index 2) is not JSON"),
        ("duplicate=4", "order.sequence.no_repeats", 4,
         "a repeated sequence_number is a replay to the flow; within one stream, a warning"),
        ("drop=4", "grammar.sequence_gap", 3, "sequence_number 3 never arrives"),
        ("swap=4", "grammar.sequence_gap", 3, "sequence_number 4 comes before 3"),
        ("unknown=2", "grammar.unknown_event", 1, "an unknown event before event 2"),
        ("delay=0.01", None, None, "slow, not wrong"),
    ]),
)


def switches() -> tuple[Switch, ...]:
    """Every fault and every break."""
    from runflow.server.breaks import BREAKS

    breaks = tuple(Switch(b.name, "break", b.protocol, b.scenario, b.rule, None, b.at,
                          b.stream, b.description) for b in BREAKS.values())
    return (*FAULTS, *breaks)


@dataclass(frozen=True)
class Outcome:
    switch: Switch
    report: Report

    @property
    def scenario(self) -> ScenarioResult:
        return self.report.scenarios[0]

    @property
    def expected_index(self) -> int | None:
        if self.switch.index is not None or self.switch.at is None:
            return self.switch.index
        flow = self.scenario.flows[0]
        for event in flow.probe.tap.events:
            if event.name == self.switch.at and event.stream == self.switch.stream:
                return event.index
        return None

    @property
    def found(self) -> list[tuple[str, int | None, int]]:
        """(rule, index, consequences) of each root cause."""
        return [(g.root.rule, g.root.index, len(g.consequences)) for g in self.scenario.groups]

    @property
    def holds(self) -> bool:
        """The expected rule is a root cause at the expected index (or nothing failed)."""
        if self.switch.rule is None:
            return not any(f.severity == "error" for f in self.scenario.findings)
        return any(rule == self.switch.rule and index == self.expected_index
                   for rule, index, _ in self.found)


def run(base_url: str) -> list[Outcome]:
    """Grade the server at ``base_url`` once per switch."""
    return [Outcome(s, conform(base_url, protocol=s.protocol, scenarios=[s.scenario],
                               headers=s.header)) for s in switches()]


def _said(outcome: Outcome) -> str:
    parts = []
    for rule, index, more in outcome.found:
        where = f" #{index}" if index is not None else ""
        tail = f" (+{more} consequence{'s' if more != 1 else ''})" if more else ""
        parts.append(f"`{rule}`{where}{tail}")
    return "; ".join(parts) or "nothing"


def markdown(outcomes: list[Outcome]) -> str:
    """The rule catalogue, then what conform reports against each switch."""
    from runflow.conform.rules import rules_markdown

    lines = [
        "<!-- generated by `python -m runflow.conform.table --write`; do not edit -->",
        "### Rules",
        "",
        rules_markdown().rstrip("\n"),
        "",
        "### What conform reports against each fault and break of `runflow serve`",
        "",
        "| switch | protocol | scenario | expected rule, at | conform reports (root causes) "
        "| scenario | what the switch does |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        s = o.switch
        how = f"`{next(iter(s.header))}: {s.name}`"
        expected = (f"`{s.rule}`" + (f" #{o.expected_index}" if o.expected_index is not None
                                     else " (REST)") if s.rule else "none")
        mark = "" if o.holds else " **(unexpected)**"
        lines.append(f"| {how} | {s.protocol} | `{s.scenario}` | {expected} | {_said(o)}{mark} "
                     f"| {o.scenario.status} | {s.why} |")
    return "\n".join(lines) + "\n"


README = TABLE.parents[1] / "README.md"
"""The README carries the same text, from its first line to the next ``## `` heading."""


def _write_readme_copy(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    start = readme.index(text.splitlines()[0])
    end = readme.index("\n## ", start) + 1
    README.write_text(readme[:start] + text + "\n\n" + readme[end:], encoding="utf-8")


def main(argv: list[str]) -> int:
    from runflow.testing import Server

    with Server() as server:
        outcomes = run(server.base_url)
    text = markdown(outcomes)
    if "--write" in argv:
        TABLE.parent.mkdir(parents=True, exist_ok=True)
        TABLE.write_text(text, encoding="utf-8")
        _write_readme_copy(text)
    else:
        sys.stdout.write(text)
    return 0 if all(o.holds for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
