"""Smoke test of the Responses benchmark: it runs and prints its rows (no timing checks)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import RECORDINGS

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "responses.py"
NUMBER = r"\d+\.\d+"
VERDICT = rf"{NUMBER} (?:PASS|FAIL)"

# name, events, three µs/event columns, runflow/floor with its verdict, then
# sdk/runflow with its verdict or "SDK failed" (and how many streams, on a row of many)
ROW = re.compile(
    rf"^(?P<name>\S.*?)\s+(?P<events>\d+)\s+(?P<floor>{NUMBER})\s+(?P<runflow>{NUMBER})"
    rf"\s+(?P<sdk>{NUMBER})\s+(?P<over>{VERDICT})\s+"
    rf"(?P<speedup>{VERDICT}|SDK failed(?: \(\d+/\d+\))?)\s*$")


def run_quick() -> str:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], cwd=ROOT, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_responses_bench_quick_prints_every_row() -> None:
    out = run_quick()
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("stream"))
    for column in ("events", "floor µs/ev", "runflow", "sdk", "runflow/floor", "sdk/runflow"):
        assert column in header, header

    rows = {m["name"]: m for m in map(ROW.match, lines) if m}
    names = list(rows)
    assert [n.split()[0] for n in names[:3]] == ["text", "function", "reasoning"], names
    assert all(int(m["events"]) > 0 for m in rows.values()), rows
    captures = sorted(p.name.removesuffix(".sse")
                      for p in (RECORDINGS / "responses").glob("*.sse"))
    if captures:
        for capture in captures:  # every real capture has its own row
            # (names are cut to the column's width)
            assert any(capture.startswith(n) and len(n) >= min(len(capture), 30)
                       for n in names), capture
        assert f"all recordings ({len(captures)} files)" in names, names

    # A row whose sdk failed says so; the notes say why, per row.
    failed = [n for n, m in rows.items() if m["speedup"].startswith("SDK failed")]
    for name in failed:
        if not name.startswith("all recordings"):
            assert re.search(rf"^note: {re.escape(name)}: SDK failed .*: \w+", out, re.M), name

    for target in ("runflow/floor ≤ 3", "sdk/runflow ≥ 5"):
        assert re.search(rf"^target {re.escape(target)}: (?:PASS|FAIL) \(\d+ of \d+ rows",
                         out, re.M), target
    assert re.search(r"^note: sdk contender checked against the SDK's real Stream", out,
                     re.M), out
    assert "WARNING" not in out, out  # generated streams are valid; the SDK check agrees
    assert re.search(r"^note: open Responses flows \(20-event text response, not closed\): "
                     r"\d+\.\d KiB retained per flow .*(PASS|FAIL).* open at once \(fresh "
                     r"process\): resident set \+[\d.,]+ MiB", out, re.M), out
    for fact in ("cpu:", "python:", "openai", "pydantic", "wall time:"):
        assert fact in out, fact
