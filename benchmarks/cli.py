"""runflow benchmark of the command line: ``runflow check`` against the library's own
``feed_sse`` loop on the same large recording, time and peak resident set.

    python benchmarks/cli.py            # 10 MB and 100 MB
    python benchmarks/cli.py --huge     # also 1 GB (minutes, and 1 GB of disk)
    python benchmarks/cli.py --quick    # 1 MB only (CI smoke)

Each file is one clean Assistants run (``streams.text_answer``: a message of text
deltas, the wire shape of the real captures), written on the fly to a temporary
directory and deleted at the end; nothing is committed. Each contender runs in a
fresh child process, alternating, ``--rounds`` times; the fastest time and the
largest peak RSS (``wait4``'s ``ru_maxrss``) of each are printed:

library  ``RunFlow().feed_sse(chunk)`` over the file read in 64 KiB chunks, then
         ``close()`` -- what an application streaming the same bytes pays;
check    ``python -m runflow check -q FILE``: the same validation plus the payload,
         order and consistency layers of the command line.

Targets of issue 25 print PASS/FAIL and never change the exit code: check within
1.3x the library's time, and a peak RSS of at most 150 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import machine, verdict
from streams import text_answer

MAX_CHECK_OVER_LIBRARY = 1.3
MAX_PEAK_MB = 150
DELTA_BYTES = 160  # about what one text delta takes on the wire here

LIBRARY = """
import sys
from runflow.protocols.assistants.flow import RunFlow
flow = RunFlow()
with open(sys.argv[1], "rb") as f:
    while chunk := f.read(65536):
        flow.feed_sse(chunk)
flow.close()
print(len(flow.violations))
"""


def write_recording(path: Path, megabytes: int) -> int:
    """One clean run of about ``megabytes`` MB; returns its size in bytes."""
    data = text_answer(max(10, megabytes * 1_000_000 // DELTA_BYTES))
    path.write_bytes(data)
    return len(data)


def run_child(argv: list[str]) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit code, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    text = (out + err).decode(errors="replace").strip()
    return seconds, usage.ru_maxrss / 1024, proc.returncode, text


def contenders(path: Path) -> dict[str, list[str]]:
    return {
        "library": [sys.executable, "-c", LIBRARY, str(path)],
        "check": [sys.executable, "-m", "runflow", "check", "-q", str(path)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 1 MB file only (CI smoke)")
    parser.add_argument("--huge", action="store_true", help="also a 1 GB file")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each (default 2)")
    args = parser.parse_args(argv)
    sizes = [1] if args.quick else [10, 100] + ([1000] if args.huge else [])
    print("runflow command-line benchmark" + (" --quick" if args.quick else ""))
    for line in machine():
        print("  " + line)
    print(f"  fresh child per run, {args.rounds} round(s) alternating; fastest time, "
          "largest peak RSS")
    print()
    head = (f"{'file':<12}{'library s':>10}{'check s':>10}{'check/library':>15}{'':5}"
            f"{'library MB':>12}{'check MB':>10}{'':5}  exit")
    print(head)
    print("-" * len(head))
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="runflow-cli-bench-") as tmp:
        for mb in sizes:
            path = Path(tmp) / f"run_{mb}mb.sse"
            size = write_recording(path, mb)
            best: dict[str, float] = {}
            peak: dict[str, float] = {}
            codes: dict[str, int] = {}
            for r in range(args.rounds):
                order = list(contenders(path).items())
                for key, cmd in order if r % 2 == 0 else order[::-1]:
                    seconds, mbytes, code, text = run_child(cmd)
                    best[key] = min(best.get(key, seconds), seconds)
                    peak[key] = max(peak.get(key, 0.0), mbytes)
                    codes[key] = code
                    if key == "library" and text != "0":
                        notes.append(f"WARNING: {size / 1e6:.0f} MB: the library reported "
                                     f"{text} violation(s) on a clean recording")
                    if key == "check" and code != 0:
                        notes.append(f"WARNING: {size / 1e6:.0f} MB: check exited {code}: "
                                     f"{text[:200]}")
            over = best["check"] / best["library"]
            print(f"{size / 1e6:>7.0f} MB  {best['library']:>10.2f}{best['check']:>10.2f}"
                  f"{over:>11.2f} {verdict(over <= MAX_CHECK_OVER_LIBRARY)}"
                  f"{peak['library']:>12.0f}{peak['check']:>10.0f} "
                  f"{verdict(peak['check'] <= MAX_PEAK_MB)}  {codes['check']}")
            path.unlink()
    print()
    print(f"targets: check/library ≤ {MAX_CHECK_OVER_LIBRARY:g}, check peak RSS ≤ "
          f"{MAX_PEAK_MB} MB (timings never fail the run)")
    for note in notes:
        print("note: " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
