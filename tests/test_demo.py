"""`runflow demo`: the README's main job, end to end against the embedded server --
a Responses API tool-calling run by default, the Assistants run with --protocol."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runflow.cli import main
from runflow.testing import Server

ANSWER = "Here is what I found. get_weather: Paris: sunny, 21 °C. get_time: Europe/Paris: 14:05."


def _demo(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str
          ) -> tuple[int, list[str]]:
    code = main(["demo", "--path-diagram", str(tmp_path / "path.mmd"), *args])
    return code, capsys.readouterr().out.splitlines()


def _states(out: list[str], kind: str) -> list[str]:
    return [line.split("→ ")[1] for line in out if line.startswith(f"  {kind} ")]


# --------------------------------------------------------------------------- #
# Responses (the default)
# --------------------------------------------------------------------------- #
def test_demo_runs_a_responses_tool_calling_run_by_default(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _demo(capsys, tmp_path)
    assert code == 0
    assert out[0].startswith("runflow demo: local Responses server at http://127.0.0.1:")
    # two responses: the one asking for the calls, the continuation answering
    assert _states(out, "response") == ["in_progress", "completed", "in_progress", "completed"]
    assert _states(out, "function_call") == ["in_progress", "arguments_done", "completed"] * 2
    assert _states(out, "message") == ["in_progress", "completed"]
    assert not any(line.startswith("  output_text ") for line in out)  # parts: not shown
    calls = [line for line in out if line.startswith("    ")]
    assert calls == ['    tool call get_weather({"city": "Paris"})',
                     '    tool call get_time({"timezone": "Europe/Paris"})',
                     "    get_weather answered: Paris: sunny, 21 °C",
                     "    get_time answered: Europe/Paris: 14:05"]
    assert ANSWER in out  # streamed by the text-delta callback, on a line of its own
    assert f"answer: {ANSWER}" in out
    assert out[-1].startswith("response resp_")
    assert "completed; 2 responses, 38 events; 0 violation(s)" in out[-1]
    text = (tmp_path / "path.mmd").read_text()
    assert text.splitlines()[1] == "stateDiagram-v2"
    assert "response_in_progress --> response_completed : #16 response.completed (×2)" in text
    assert "function_call_in_progress --> function_call_arguments_done" in text


def test_a_cut_response_is_recovered_over_rest_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _demo(capsys, tmp_path, "--cut-after", "5")
    assert code == 1  # the truncated violation is a finding, as runflow watch says
    cut = next(i for i, line in enumerate(out) if line.startswith("  ! #5 error truncated"))
    assert out[cut + 1].startswith("  response resp_")
    assert out[cut + 1].endswith(" → completed (recovered over REST)")
    # the calls the cut stream did not finish were read over REST and answered
    assert out[cut + 2:cut + 4] == ["    get_weather answered: Paris: sunny, 21 °C",
                                    "    get_time answered: Europe/Paris: 14:05"]
    assert f"answer: {ANSWER}" in out
    assert "completed; 2 responses" in out[-1]
    assert "1 change(s) recovered over REST; 1 violation(s)" in out[-1]


def test_a_cut_background_response_is_resumed(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _demo(capsys, tmp_path, "--cut-after", "5", "--background")
    assert code == 1
    assert _states(out, "response") == ["queued", "in_progress", "completed", "queued",
                                        "in_progress", "completed"]
    assert _states(out, "function_call") == ["in_progress", "arguments_done", "completed"] * 2
    assert not any("recovered over REST" in line for line in out)  # resumed, whole
    assert f"answer: {ANSWER}" in out


def test_demo_and_watch_agree_on_a_cut_stream(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 22: the same finding (a cut stream: truncated) exits alike."""
    demo, _ = _demo(capsys, tmp_path, "--cut-after", "5")
    with Server() as server:
        watch = main(["watch", "--base-url", server.base_url, "--model", "gpt-4o",
                      "--input", "hi", "--metadata", "scenario=parallel_functions",
                      "--tool-output", "get_weather=sunny", "--tool-output", "get_time=noon",
                      "--fault", "cut_after=5"])
    capsys.readouterr()
    assert demo == watch == 1


def test_background_is_for_responses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--protocol", "assistants", "--background"]) == 2
    assert capsys.readouterr().err == ("runflow: error: --background goes with --protocol "
                                       "responses\n")


# --------------------------------------------------------------------------- #
# Assistants
# --------------------------------------------------------------------------- #
def test_demo_runs_a_tool_calling_assistants_run_live(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _demo(capsys, tmp_path, "--protocol", "assistants")
    assert code == 0
    assert out[0].startswith("runflow demo: local Assistants server at http://127.0.0.1:")
    assert _states(out, "run") == ["queued", "in_progress", "requires_action", "queued",
                                   "in_progress", "completed"]
    assert '    tool call get_weather({"city": "Paris"})' in out
    assert '    tool call get_time({"timezone": "Europe/Paris"})' in out
    assert ANSWER in out  # streamed by the text-delta callback
    assert f"answer: {ANSWER}" in out
    assert "completed; 41 events; 0 violation(s)" in out[-1]
    text = (tmp_path / "path.mmd").read_text()
    assert text.splitlines()[1] == "stateDiagram-v2"
    assert "run_requires_action --> run_queued" in text


def test_demo_recovers_a_cut_assistants_run(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _demo(capsys, tmp_path, "--protocol", "assistants", "--cut-after", "5")
    assert code == 1  # as runflow watch: the cut is a truncated violation
    assert any(line.startswith("  ! #5 error truncated") for line in out)
    assert any(line.endswith(" → requires_action (recovered over REST)") for line in out)
    assert f"answer: {ANSWER}" in out
    assert "completed" in out[-1] and "recovered over REST" in out[-1]


def test_demo_as_a_command(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "runflow", "demo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "local Responses server" in done.stdout
    assert f"answer: {ANSWER}" in done.stdout
    assert "\x1b[" not in done.stdout  # no colour when stdout is not a terminal
    assert (tmp_path / "runflow-demo-path.mmd").is_file()


def test_a_response_cut_before_it_is_named_stops_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Cut after 0 events: the client never learns the response's id, and the Responses
    API lists no responses, so the loop cannot follow it up (nor send it again)."""
    code = main(["demo", "--path-diagram", str(tmp_path / "p.mmd"), "--cut-after", "0"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.splitlines()[-1].startswith("  ! #0 error truncated")
    assert err.startswith("runflow: error: the demo's run stopped: the stream ended "
                          "(truncated) before it named its response") and err.count("\n") == 1
