"""``runflow conform`` and ``runflow check`` from the command line: exit codes, the
report files, the grouped summary, the payload invariants on recordings."""

from __future__ import annotations

import io
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from conftest import jsonl_files, recordings_dir, sse_files

from runflow.adapters.recording import DEMO_STREAM
from runflow.cli import main
from runflow.testing import Server


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server() as srv:
        yield srv


def test_conformant_server_exits_0_and_writes_every_report(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit, page = tmp_path / "r.xml", tmp_path / "r.html"
    code = main(["conform", "--base-url", server.base_url, "--scenario", "text",
                 "--scenario", "parallel_functions", "--junit", str(junit),
                 "--html", str(page)])
    out = capsys.readouterr().out
    assert code == 0
    assert "conformant" in out and "parallel_functions" in out
    suites = ET.parse(junit).getroot()
    assert suites.get("failures") == "0" and int(suites.get("tests") or 0) > 50
    assert {s.get("name") for s in suites} == {"assistants.text",
                                               "assistants.parallel_functions"}
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")


def test_findings_exit_1_with_the_rule_in_every_report(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit = tmp_path / "r.xml"
    code = main(["conform", "--base-url", server.base_url, "--protocol", "responses",
                 "--scenario", "text", "--header", "X-Runflow-Break: response.object",
                 "--json", "--junit", str(junit)])
    # (response.object, an error by the API reference; usage null is a warning since
    # issue 23, the spec making usage nullable)
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    (scenario,) = data["scenarios"]
    (finding,) = scenario["findings"]
    assert (finding["rule"], finding["index"], finding["event"]) == (
        "payload.response.object", 0, "response.created")
    assert data["rules"]["payload.response.object"]["status"] == "fail"
    failures = [case for case in ET.parse(junit).getroot().iter("testcase")
                if case.find("failure") is not None]
    assert [case.get("name") for case in failures] == ["payload.response.object"]


def test_warnings_pass_unless_strict(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["conform", "--base-url", server.base_url, "--scenario", "text",
            "--header", "X-Runflow-Break: order.run.queued"]
    assert main(argv) == 0
    assert "order.run.queued_before_in_progress" in capsys.readouterr().out
    assert main([*argv, "--strict"]) == 1


def test_could_not_run_exits_2_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    """An unreachable server: one line naming where and why, and no empty table."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["conform", "--base-url", f"http://127.0.0.1:{port}/v1", "--timeout", "5"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == (f"runflow: error: could not run: cannot reach "
                            f"http://127.0.0.1:{port}/v1/assistants (Connection refused)\n")


def test_a_server_that_never_answers_is_one_line_naming_the_timeout(
        capsys: pytest.CaptureFixture[str]) -> None:
    """A port that accepts and never answers ends at the read timeout, not later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        code = main(["conform", "--base-url", f"http://127.0.0.1:{port}/v1", "--timeout", "1"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err == (f"runflow: error: could not run: no answer from "
                            f"http://127.0.0.1:{port}/v1/assistants within 1 s (read timeout; "
                            "--timeout)\n")


def test_a_root_without_v1_gets_a_hint(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    root = server.base_url.removesuffix("/v1")
    assert main(["conform", "--base-url", root, "--scenario", "text"]) == 2
    err = capsys.readouterr().err
    assert f"hint: every request was answered 404 at {root}; the API is usually under /v1 " \
           f"(--base-url {root}/v1)" in err


@pytest.mark.parametrize("url, reason", [
    ("http://[::1", "'http://[::1' is not a URL (Invalid IPv6 URL)"),
    ("http://127.0.0.1:99999/v1", "is not a URL (Port out of range 0-65535)"),
    ("127.0.0.1:8000/v1", "expected an http:// or https:// URL with a host"),
])
def test_a_base_url_that_is_not_one_is_a_usage_error(
        url: str, reason: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--base-url", url]) == 2
    err = capsys.readouterr().err
    assert reason in err and "bug in runflow" not in err


@pytest.mark.parametrize("argv, reason", [
    (["--scenario", "nope"], "unknown scenario(s) nope"),
    (["--header", "no colon"], "expected 'Name: value'"),
    (["--timeout", "-1"], "expected 0 < seconds"),
])
def test_bad_arguments_exit_2(server: Server, argv: list[str], reason: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conform", "--base-url", server.base_url, *argv]) == 2
    assert reason in capsys.readouterr().err


def test_an_unwritable_report_is_one_line(server: Server, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["conform", "--base-url", server.base_url, "--scenario", "errors",
                 "--html", str(tmp_path / "missing" / "r.html")])
    assert code == 2
    assert "cannot write the report" in capsys.readouterr().err


# --------------------------------------------------------------------------- #
# runflow check: the same layers and the same grouping on recordings
# --------------------------------------------------------------------------- #
def _demo() -> list[dict[str, object]]:
    return [json.loads(line) for line in DEMO_STREAM.read_text(encoding="utf-8").splitlines()]


def _write(path: Path, events: list[dict[str, object]]) -> str:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return str(path)


def test_check_reports_a_payload_invariant(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    events = _demo()
    last = max(i for i, e in enumerate(events) if e["event"] == "thread.run.completed")
    data = dict(events[last]["data"])  # type: ignore[call-overload]
    data["usage"] = None
    events[last] = {"event": "thread.run.completed", "data": data}
    path = _write(tmp_path / "usage.jsonl", events)
    assert main(["check", "--json", path]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["violations"] == []  # the grammar is fine
    assert [(f["rule"], f["index"], f["line"]) for f in report["findings"]] == [
        ("payload.run.usage", last, last + 1)]


def test_check_groups_a_cascade_under_its_root(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    events = _demo()
    created = next(i for i, e in enumerate(events) if e["event"] == "thread.message.created")
    path = _write(tmp_path / "lost.jsonl", events[:created] + events[created + 1:])
    assert main(["check", path]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "1 root cause(s)" in lines[0]
    assert lines[1].startswith(f"  #{created} line {created + 1} error unknown_entity message ")
    assert lines[2].startswith(f"      ↳ #{created + 1}–#") and "unknown_entity" in lines[2]
    assert len(lines) == 3


@pytest.mark.parametrize("name", [*jsonl_files(), *sse_files()])
def test_every_real_capture_keeps_every_error_invariant(name: str) -> None:
    """The invariants and order rows are facts of every capture (warnings aside: the
    id prefixes of other servers)."""
    from runflow.adapters.recording import replay_file
    from runflow.conform.recorded import grade_replay

    replay = replay_file(recordings_dir() / name)
    found = [f for g in grade_replay(replay) for f in (g.root, *g.consequences)
             if f.layer != "grammar"]
    assert [f for f in found if f.severity == "error" or f.layer == "order"] == []


def test_every_real_responses_capture_keeps_every_error_invariant() -> None:
    from runflow.adapters.recording import replay_file
    from runflow.conform.recorded import grade_replay

    folder = recordings_dir() / "responses"
    names = sorted(folder.glob("*.sse"))
    assert names
    for path in names:
        found = [f for g in grade_replay(replay_file(path)) for f in (g.root, *g.consequences)
                 if f.layer != "grammar"]
        assert [f.rule for f in found if f.severity == "error" or f.layer == "order"] == [], \
            path.name
        warned = {f.rule for f in found}
        assert warned <= {"payload.response.id", "payload.reasoning.id",
                          "payload.function_call.id"}, path.name


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_names_each_scenario_on_a_terminal_only(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["conform", "--base-url", server.base_url, "--scenario", "text",
            "--scenario", "cancel", "--json"]
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert main(argv) == 0
    shown = err.getvalue()
    assert "\r\x1b[2K[1/2] assistants text" in shown
    assert "\r\x1b[2K[2/2] assistants cancel" in shown and shown.endswith("\r\x1b[2K")
    err.seek(0)
    err.truncate()
    assert main([*argv, "-q"]) == 0
    assert err.getvalue() == ""
    piped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", piped)
    assert main(argv) == 0
    assert piped.getvalue() == ""
