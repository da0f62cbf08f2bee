"""Smoke test of the Responses WebSocket benchmark (benchmarks/websocket.py): ``--quick
--profile`` runs, and prints its table, memory line and profile (no timing checks).
The benchmark asserts that runflow finds no violation in the conversation it
times, so a change that breaks the generated conversation or the flow fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "websocket.py"
NUMBER = r"\d+\.\d\d"
COLUMNS = ("words/lane", "frames", "floor", "runflow", "layer", "inner", "sdk",
           "runflow/floor", "layer/floor", "runflow/sdk")
ROW = re.compile(r"^\s*(?P<words>\d+)\s+(?P<frames>\d+)" + "".join(
    rf"\s+(?P<{name}>{NUMBER})" for name in ("floor", "runflow", "layer", "inner", "sdk",
                                             "over", "layer_over", "vs_sdk")) + r"\s*$")
MEMORY = re.compile(
    r"^memory per open connection, 8 lanes in flight \(20 words/lane, half fed\): runflow "
    r"\d+ KiB \(of it the 8 inner flows \d+ KiB\), sdk \d+ KiB, ratio \d+\.\d\d "
    r"\(tracemalloc\); resident set per connection of 20 open: runflow (?:\d+ KiB|n/a), "
    r"sdk (?:\d+ KiB|n/a)$", re.M)
PROFILE = re.compile(
    r"^profile, 20 words/lane, share of runflow's time under cProfile: the inner flows "
    r"\d+%, the parse \d+% \(the walk for numbers that overflow on \d+% of the frames\)",
    re.M)
PROFILE_ROW = re.compile(r"^\s+\d+\.\d%\s+(?P<calls>\d+\.\d\d)\s+protocols/responses/websocket/"
                         r"\w+\.py:\d+\((?P<func>[\w<>]+)\)$", re.M)


def test_websocket_bench_quick_prints_its_table_memory_and_profile() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--profile"], cwd=ROOT,
                          env=env, capture_output=True, text=True, encoding="utf-8",
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:len(COLUMNS)] == list(COLUMNS), lines[0]

    rows = [m for m in map(ROW.match, lines) if m]
    assert len(rows) == 1, proc.stdout  # --quick: the short row only
    row = rows[0]
    assert (row["words"], row["frames"]) == ("20", "224")  # 8 lanes, 28 frames a response
    us = {name: float(row[name]) for name in ("floor", "runflow", "layer", "inner", "sdk")}
    assert all(value > 0 for value in us.values()), us
    for ratio, over, under in (("over", "runflow", "floor"), ("layer_over", "layer", "floor"),
                               ("vs_sdk", "runflow", "sdk")):
        # each ratio is its two columns' (within what printing them rounded off)
        exact = us[over] / us[under]
        slack = 0.006 + exact * (0.005 / us[over] + 0.005 / us[under])
        assert abs(float(row[ratio]) - exact) <= slack, (ratio, lines)

    assert MEMORY.search(proc.stdout), proc.stdout
    assert PROFILE.search(proc.stdout), proc.stdout
    profiled = [(m["func"], float(m["calls"])) for m in PROFILE_ROW.finditer(proc.stdout)]
    assert len(profiled) == 8, proc.stdout
    assert any(calls == 1.00 for _, calls in profiled), profiled  # e.g. one receive a frame
