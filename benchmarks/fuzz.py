"""Mutation fuzzing over the real recordings: crashes must be 0, detection >= 99%.

    python benchmarks/fuzz.py -n 10000 [--seed S] [--strict-every K] [--show N]

Each mutation (drop / duplicate / swap adjacent events, truncate the SSE bytes,
rename a status event or change its payload status, change an id, corrupt a JSON
byte, split SSE chunks, insert an unknown event) is replayed through a fresh
RunFlow via feed_sse in random chunks. Prints mutations tried, crashes, and the
percentage of *relevant* mutations detected (see runflow.testing.fuzz for the definition),
overall and per class. Exit status 1 if any crash or detection < 99%.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from runflow.testing.fuzz import KINDS, run_fuzz

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = Path(os.environ.get("RUNFLOW_RECORDINGS", ROOT.parent / "shared" / "recordings"))


def load(folder: Path) -> dict[str, list[dict[str, object]]]:
    out = {}
    for path in sorted(folder.glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        out[path.name] = [json.loads(line) for line in lines if line.strip()]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="mutations to try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict-every", type=int, default=10,
                        help="also replay every K-th mutation in strict mode (0: never)")
    parser.add_argument("--kind", action="append", choices=KINDS, help="only these classes")
    parser.add_argument("--show", type=int, default=10, help="crashes/escapes to list")
    parser.add_argument("--recordings", type=Path, default=RECORDINGS)
    args = parser.parse_args(argv)
    recordings = load(args.recordings)
    if not recordings:
        print(f"no recordings in {args.recordings}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    report = run_fuzz(recordings, args.n, args.seed, kinds=tuple(args.kind or KINDS),
                      strict_every=args.strict_every)
    print(f"recordings: {len(recordings)}, seed: {args.seed}, "
          f"{time.perf_counter() - start:.1f} s")
    print(report.format(args.show))
    ok = not report.crashes and report.rate >= 0.99
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
