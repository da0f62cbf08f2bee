"""``runflow conform --base-url`` against the same third-party servers.

Conform drives its own scenarios (less ``structured``, see conftest) and also reads
each response back over REST. Every rule it reports on a server is classified in
:data:`verdicts.CONFORM` (a defect of the server with its evidence, a deviation,
or a false alarm of runflow, a strict xfail), in both directions as in
test_interop.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from interop.servers import SERVERS
from interop.verdicts import CONFORM, FALSE_ALARM

pytestmark = pytest.mark.interop

Reports = Callable[[str], dict[str, Any]]


def rules_of(report: dict[str, Any]) -> dict[str, str]:
    """Each rule conform reported (root causes and consequences), with the worst
    severity it had."""
    out: dict[str, str] = {}
    for scenario in report.get("scenarios", []):
        for root in scenario.get("findings", []):
            for found in (root, *root.get("consequences", [])):
                rule, severity = found["rule"], found["severity"]
                out[rule] = "error" if "error" in (severity, out.get(rule)) else severity
    return out


def test_every_server_has_a_conform_verdict() -> None:
    assert sorted(CONFORM) == sorted(SERVERS)


@pytest.mark.parametrize("server", sorted(CONFORM))
def test_conform_verdict(conform_reports: Reports, server: str) -> None:
    report = conform_reports(server)
    assert report["could_not_run"] is None
    got = rules_of(report)
    alarms = {r for r, f in CONFORM[server].items() if f.kind == FALSE_ALARM}
    expected = {r: f.severity for r, f in CONFORM[server].items() if f.kind != FALSE_ALARM}
    assert {r: s for r, s in got.items() if r not in alarms} == expected
    assert report["returncode"] == (1 if "error" in got.values() else 0)


CONFORM_ALARMS = sorted((server, rule) for server, rules in CONFORM.items()
                        for rule, f in rules.items() if f.kind == FALSE_ALARM)


@pytest.mark.parametrize("case", CONFORM_ALARMS, ids="-".join)
@pytest.mark.xfail(strict=True, reason="a false alarm of runflow, recorded in verdicts.CONFORM "
                   "(the rule belongs to another change of issue 23)")
def test_conform_false_alarm_is_gone(conform_reports: Reports, case: tuple[str, str]) -> None:
    server, rule = case
    assert rule not in rules_of(conform_reports(server)), CONFORM[server][rule].evidence
