"""Machine-readable reports of a grade: ``--json`` and ``--junit FILE``."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from runflow.conform.rules import RULES
from runflow.conform.runner import Report, ScenarioResult

__all__ = ["junit_xml", "report_json"]


def report_json(report: Report) -> dict[str, Any]:
    """Everything the terminal report says, as data (findings grouped by root cause)."""
    return {
        "base_url": report.base_url, "protocol": report.protocol, "model": report.model,
        "exit_code": report.exit_code, "could_not_run": report.could_not_run,
        "seconds": round(report.seconds, 3),
        "scenarios": [_scenario(s) for s in report.scenarios],
        "rules": {rule: {"status": status, "findings": count}
                  for rule, (status, count) in report.rule_status().items()},
    }


def _scenario(s: ScenarioResult) -> dict[str, Any]:
    return {
        "name": s.name, "description": s.description, "status": s.status,
        "reason": s.reason, "notes": s.notes, "seconds": round(s.seconds, 3),
        "flows": [{"label": f.label, "events": f.probe.flow.event_count,
                   "ending": f.probe.flow.ending, "state": f.probe.flow.root_state,
                   "streams": f.probe.tap.stream + 1} for f in s.flows],
        "findings": [g.to_json() for g in s.groups],
        "exchanges": [{"label": e.label, "method": e.method, "path": e.path,
                       "status": e.status, "content_type": e.content_type,
                       "events": e.events} for e in s.exchanges],
    }


def _clean(text: str) -> str:
    """XML 1.0 cannot hold most control characters (servers send anything)."""
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else "\ufffd" for c in text)


def junit_xml(report: Report) -> bytes:
    """One testsuite per scenario, one testcase per rule it exercised: a rule with an
    error finding fails, warnings go to system-out; a scenario the server cannot do
    adds a skipped testcase ``scenario``. A server's CI gates on it like on any test
    report."""
    suites = ET.Element("testsuites", name=f"runflow conform {report.protocol}")
    total = failures = skipped = 0
    for s in report.scenarios:
        suite = ET.SubElement(suites, "testsuite", name=f"{report.protocol}.{s.name}")
        cases = fails = skips = 0
        by_rule: dict[str, list[str]] = {}
        warned: dict[str, list[str]] = {}
        for g in s.groups:
            for f in g.members:
                target = by_rule if f.severity == "error" else warned
                target.setdefault(f.rule, []).append(f"[{f.flow}] {f.where()} {f.message}")
        rules = sorted(s.checked | by_rule.keys() | warned.keys())
        if s.status in ("not_applicable", "error"):
            case = ET.SubElement(suite, "testcase", classname=f"{report.protocol}.{s.name}",
                                 name="scenario")
            ET.SubElement(case, "skipped", message=_clean(s.reason or s.status))
            cases, skips = 1, 1
        for rule_id in rules:
            case = ET.SubElement(suite, "testcase", classname=f"{report.protocol}.{s.name}",
                                 name=rule_id)
            cases += 1
            if rule_id in by_rule:
                fails += 1
                failure = ET.SubElement(case, "failure", message=_clean(by_rule[rule_id][0]),
                                        type=RULES[rule_id].layer if rule_id in RULES else "")
                failure.text = _clean("\n".join(by_rule[rule_id]))
            if rule_id in warned:
                ET.SubElement(case, "system-out").text = _clean(
                    "warning:\n" + "\n".join(warned[rule_id]))
        suite.set("tests", str(cases))
        suite.set("failures", str(fails))
        suite.set("errors", "0")
        suite.set("skipped", str(skips))
        suite.set("time", f"{s.seconds:.3f}")
        total, failures, skipped = total + cases, failures + fails, skipped + skips
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("skipped", str(skipped))
    suites.set("time", f"{report.seconds:.3f}")
    body: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
