"""Smoke test of the command-line benchmark: it runs and prints its row (no timing checks)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_bench_quick_prints_its_row() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cli.py"), "--quick",
                           "--rounds", "1"], cwd=ROOT, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = re.search(r"^\s+1 MB\s+(\d+\.\d+)\s+(\d+\.\d+)\s+(\d+\.\d+) (PASS|FAIL)\s+(\d+)\s+"
                    r"(\d+) (PASS|FAIL)\s+0\s+(\d+\.\d+)$", proc.stdout, re.M)
    assert row is not None, proc.stdout
    assert "WARNING" not in proc.stdout, proc.stdout


def test_cli_bench_refuses_sizes_that_are_not_megabytes() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cli.py"), "--sizes",
                           "10,big"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--sizes: whole numbers of MB" in proc.stderr
