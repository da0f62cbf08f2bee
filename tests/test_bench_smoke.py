"""Smoke test of the benchmark script: it runs and prints its table (no timing checks)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench.py"
RECORDINGS = Path("/work/shared/recordings")
NUMBER = r"(?:\d+\.\d+|-)"


def run_quick() -> str:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        cwd=ROOT, env=env, capture_output=True, text=True, encoding="utf-8", timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_bench_quick_prints_the_table() -> None:
    out = run_quick()
    lines = out.splitlines()

    header = next(line for line in lines if line.startswith("stream"))
    columns = header.split()
    for column in ("events", "c/a", "b/c", "d/c"):
        assert column in columns, header
    for contender in "abcd":
        assert f"{contender} µs/ev" in header, header

    # stream, events, a, b, c, d, then three ratios each followed by PASS/FAIL.
    row = re.compile(
        rf"^(?P<name>.+?)\s+(?P<events>\d+)(?:\s+{NUMBER}){{4}}"
        rf"(?:\s+(?:{NUMBER} (?:PASS|FAIL)|-)){{3}}\s*$"
    )
    rows = {m["name"]: int(m["events"]) for m in map(row.match, lines) if m}
    names = list(rows)
    assert sum(name.startswith("text ") for name in names) == 3, names
    assert sum(name.startswith("function ") for name in names) == 3, names
    assert "code interpreter" in names, names
    if sorted(RECORDINGS.glob("*.sse")):
        assert any(name.startswith("recordings (") for name in names), names
    assert all(events > 0 for events in rows.values()), rows

    # (a), (b), (c) always have numbers; (d) has numbers or says why not.
    for line in lines:
        m = row.match(line)
        if m:
            fields = line[m.end("events"):].split()
            assert all(re.fullmatch(r"\d+\.\d+", f) for f in fields[:3]), line
    if "(d) skipped: callback API not available" not in out:
        assert all(
            re.fullmatch(r"\d+\.\d+", line[m.end("events"):].split()[3])
            for m, line in ((row.match(line), line) for line in lines) if m
        ), out

    assert re.search(r"^\s+text\s+c\s+\d+\.\d+ (?:PASS|FAIL)", out, re.M), out
    assert re.search(r"^\s+function\s+c\s+\d+\.\d+ (?:PASS|FAIL)", out, re.M), out
    assert re.search(r"retained per open flow .*\d+\.\d KiB", out), out
    assert re.search(r"flows open at once .*total .*MiB, per flow .*KiB", out), out
    # the Responses memory row: KiB per open flow, and the resident set with many open
    responses = out[out.index("memory: open Responses flows"):]
    assert re.search(r"retained per open flow .*\d+\.\d KiB +(PASS|FAIL)", responses), out
    assert re.search(r"flows open at once .*total .*MiB, per flow .*KiB", responses), out
    for fact in ("cpu:", "python:", "openai", "pydantic", "transitions", "wall time:"):
        assert fact in out, fact
