"""`runflow demo`: the README's main job, end to end against the embedded server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runflow.cli import main

ANSWER = "Here is what I found. get_weather: Paris: sunny, 21 °C. get_time: Europe/Paris: 14:05."


def test_demo_runs_a_tool_calling_run_live(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    diagram = tmp_path / "path.mmd"
    assert main(["demo", "--path-diagram", str(diagram)]) == 0
    out = capsys.readouterr().out.splitlines()
    runs = [line.split("→ ")[1] for line in out if line.startswith("  run ")]
    assert runs == ["queued", "in_progress", "requires_action", "queued", "in_progress",
                    "completed"]
    assert '    tool call get_weather({"city": "Paris"})' in out
    assert '    tool call get_time({"timezone": "Europe/Paris"})' in out
    assert ANSWER in out  # streamed by the text-delta callback
    assert f"answer: {ANSWER}" in out
    assert "completed; 41 events; 0 violation(s)" in out[-1]
    text = diagram.read_text()
    assert text.splitlines()[1] == "stateDiagram-v2"
    assert "run_requires_action --> run_queued" in text


def test_demo_recovers_from_a_cut_stream(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--cut-after", "5", "--path-diagram", str(tmp_path / "p.mmd")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("  ! #5 error truncated") for line in out)
    assert f"answer: {ANSWER}" in out
    assert "completed" in out[-1] and "recovered over REST" in out[-1]


def test_demo_as_a_command(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "runflow", "demo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"answer: {ANSWER}" in done.stdout
    assert "\x1b[" not in done.stdout  # no colour when stdout is not a terminal
    assert (tmp_path / "runflow-demo-path.mmd").is_file()
