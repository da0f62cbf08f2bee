"""runflow against Responses servers it did not write (issue 23).

Each server of :mod:`servers` is driven with the real openai client through its
scenarios; each raw stream is graded as ``runflow check`` grades it, and the
verdict is compared with :mod:`verdicts` in both directions: every finding must
be classified there (a new false alarm fails), and every classified server
defect must still be found (a defect runflow stops seeing fails). The false
alarms are strict xfails: they pass the day runflow is fixed.

``python tests/interop/test_interop.py --write`` rewrites docs/interop.md from
the verdicts; a test fails when that file is stale.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# run as a script (--write), the suite is found as the package interop of tests/
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from interop.differential import compare
from interop.harness import Capture, grade
from interop.servers import SERVERS
from interop.table import DOC, render
from interop.verdicts import FALSE_ALARM, VERDICTS
from runflow.adapters.recording import detect_protocol

pytestmark = pytest.mark.interop

Captures = Callable[[str], dict[str, Capture]]
CASES = sorted(VERDICTS)
FALSE_ALARMS = sorted((server, scenario, rule) for (server, scenario), v in VERDICTS.items()
                      for rule, f in v.findings.items() if f.kind == FALSE_ALARM)


def _id(case: tuple[str, ...]) -> str:
    return "-".join(case)


def test_every_scenario_has_a_verdict() -> None:
    assert sorted((s.name, sc) for s in SERVERS.values() for sc in s.scenarios) == CASES


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_stream_verdict(captures: Captures, case: tuple[str, str]) -> None:
    server, scenario = case
    verdict = VERDICTS[case]
    got = captures(server)[scenario]
    assert got.http_status == verdict.http_status, got.error_body
    if verdict.status is None:
        assert got.data == b""
        return
    graded = grade(got.data, f"{server}-{scenario}.sse")
    assert (graded.status, graded.text, graded.arguments) == (
        verdict.status, verdict.text, verdict.arguments)
    # Every finding is classified, and every classified server finding is still made
    # with its severity; a false alarm may go away (its xfail then passes).
    alarms = {rule for rule, f in verdict.findings.items() if f.kind == FALSE_ALARM}
    made = {r: s for r, s in graded.rules.items() if r not in alarms}
    assert set(made) == set(verdict.findings) - alarms
    for rule, severity in made.items():
        finding = verdict.findings[rule]
        assert severity in {finding.severity, finding.should_be}, rule
    errors = [r for r, s in graded.rules.items() if s == "error"]
    assert graded.ok == (not errors)


@pytest.mark.parametrize("case", FALSE_ALARMS, ids=_id)
@pytest.mark.xfail(strict=True, reason="a false alarm of runflow, recorded in verdicts.py "
                   "(the rule belongs to another change of issue 23)")
def test_false_alarm_is_gone(captures: Captures, case: tuple[str, str, str]) -> None:
    server, scenario, rule = case
    graded = grade(captures(server)[scenario].data)
    assert rule not in graded.rules, VERDICTS[server, scenario].findings[rule].evidence


UNDER_RATED = sorted((server, scenario, rule) for (server, scenario), v in VERDICTS.items()
                     for rule, f in v.findings.items() if f.should_be is not None)


def test_no_defect_is_under_rated() -> None:
    """Every real defect is rated as its verdict says it should be (a ``should_be``
    names a severity runflow does not give yet; issue 23 brought the last two up)."""
    assert UNDER_RATED == []


def test_auto_protocol_reads_a_lone_error_event_as_responses(captures: Captures) -> None:
    data = captures("open-responses-server")["error"].data
    assert data.startswith(b'data: {"type": "error"')
    assert detect_protocol(data) == "responses"


def test_runflow_check_exit_code_on_a_stream_that_fails(captures: Captures,
                                                        tmp_path: Path) -> None:
    """The CLI says what the library says: exit 1 on codex-rosetta's completed-but-
    incomplete stream (an error-severity out_of_order)."""
    path = tmp_path / "rosetta-length.sse"
    path.write_bytes(captures("codex-rosetta")["length"].data)
    done = subprocess.run([sys.executable, "-m", "runflow", "check", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "out_of_order" in done.stdout


def test_runflow_check_passes_a_contract_keeping_stream_with_null_usage(
        captures: Captures, tmp_path: Path) -> None:
    path = tmp_path / "azure-text.sse"
    path.write_bytes(captures("azure-ai-agentserver-responses")["text"].data)
    assert b'"usage": null' in path.read_bytes() or b'"usage"' not in path.read_bytes()
    done = subprocess.run([sys.executable, "-m", "runflow", "check", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout


# --------------------------------------------------------------------------- #
# the SDK's own accumulator on the same streams
# --------------------------------------------------------------------------- #
SDK_EXPLAINED = {
    ("codex-rosetta", "length"): {
        "status": "the stream contradicts itself: the event is response.completed, its payload "
                  "says 'incomplete'. The SDK believes the payload silently; runflow follows "
                  "the event name and reports status_mismatch and out_of_order (an error), so "
                  "check fails the stream (see verdicts).",
        "item_statuses": "output_item.done ends the message 'incomplete' (the upstream stopped "
                         "at its length limit); the terminal output says 'completed'. The SDK "
                         "takes the terminal snapshot; runflow keeps the item's own .done, "
                         "which is what the model did.",
    },
}


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_sdk_accumulator_agrees(captures: Captures, case: tuple[str, str]) -> None:
    server, scenario = case
    data = captures(server)[scenario].data
    sdk, ours, differ, raised = compare(data)
    if sdk is None:
        # The SDK completes only on response.completed; on the rest it has no final
        # response (failed, incomplete) or raises (a stream it cannot follow).
        assert VERDICTS[case].status != "completed" or raised is not None
        return
    assert sorted(differ) == sorted(SDK_EXPLAINED.get(case, {})), (sdk, ours)


# --------------------------------------------------------------------------- #
# the compatibility table
# --------------------------------------------------------------------------- #
def test_docs_interop_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/interop.md is stale: python tests/interop/test_interop.py --write")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        DOC.write_text(render(), encoding="utf-8")
        print(f"wrote {DOC}")
    else:
        print("usage: python tests/interop/test_interop.py --write")
