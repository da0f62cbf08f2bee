"""Smoke test of the command-line benchmark: it runs and prints its row (no timing checks)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _row(protocol: str, text: str) -> re.Match[str] | None:
    """The row of ``protocol``'s 1 MB file, with check's exit code 0."""
    return re.search(rf"^{protocol}\s+1 MB\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+) "
                     r"(PASS|FAIL)\s+(\d+)\s+(\d+) (PASS|FAIL)\s+0\s+(\d+\.\d+)$", text, re.M)


def test_cli_bench_quick_prints_a_row_per_protocol() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cli.py"), "--quick",
                           "--rounds", "1"], cwd=ROOT, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _row("responses", proc.stdout) is not None, proc.stdout
    assert _row("assistants", proc.stdout) is not None, proc.stdout
    # a clean file each: the library found no violation and check exited 0
    assert "WARNING" not in proc.stdout, proc.stdout


def test_cli_bench_writes_a_clean_response_of_the_size_asked(tmp_path: Path) -> None:
    """The generated Responses file: one response, numbered, that the library and
    ``runflow check`` both find clean, of about the size asked."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from cli import write_responses
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    path = tmp_path / "r.sse"
    size = write_responses(path, 2)
    assert size == path.stat().st_size
    assert 1_800_000 < size < 2_200_000
    from runflow.adapters.recording import read_recording

    replay = read_recording(path).replay()
    assert replay.flow.protocol.name == "responses"
    assert replay.ending == "done" and replay.flow.root_state == "completed"
    assert replay.flow.violations == []
    assert [item["type"] for item in replay.flow.response.model_dump()["output"]] == [
        "message", "function_call"]
    proc = subprocess.run([sys.executable, "-m", "runflow", "check", "--json", str(path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["findings"] == []


def test_cli_bench_runs_one_protocol_when_asked() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cli.py"), "--quick",
                           "--rounds", "1", "--protocol", "responses"], cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _row("responses", proc.stdout) is not None, proc.stdout
    assert "assistants" not in proc.stdout


def test_cli_bench_refuses_sizes_that_are_not_megabytes() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cli.py"), "--sizes",
                           "10,big"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--sizes: whole numbers of MB" in proc.stderr
