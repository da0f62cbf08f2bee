"""runflow benchmark of the command line: ``runflow check`` against the library's own
``feed_sse`` loop on the same large recording, time and peak resident set.

    python benchmarks/cli.py                     # 10 MB and 100 MB
    python benchmarks/cli.py --sizes 10,100,1000 # also 1 GB (minutes, and 1 GB of disk)
    python benchmarks/cli.py --quick             # 1 MB only (CI smoke)

Each file is one clean Assistants run in the wire shape of the real captures (as
``streams.text_answer``): run created, queued, in_progress, then message_creation
steps each with a message of 2,000 text deltas (about 160 bytes each), as many as
the size asks (at most 4,900: steps plus messages stay within ``Limits.max_entities``),
then the run completed and ``done``. It is written on the fly, piece by piece, to a
temporary directory and deleted at the end; nothing is committed.

library  ``RunFlow().feed_sse(chunk)`` over the file read in 64 KiB chunks, then
         ``close()`` -- what an application streaming the same bytes pays;
check    ``runflow check -q FILE`` (``runflow.cli.main``): the same validation plus
         the payload, order and grouping layers of the command line, reading the file
         in chunks.

Time: both run in one fresh child process, alternating, ``--rounds`` times; the
fastest of each is printed, and their ratio: CPU seconds (``process_time``: on a
shared machine, wall time also counts the waits for a core), and the wall-clock
ratio beside it. Peak RSS: each runs once more in a
fresh child of its own, which reports its own high-water mark (``VmHWM``: a child's
``ru_maxrss`` would count the parent it was forked from).

Targets of issue 25 print PASS/FAIL and never change the exit code: check within
1.3x the library's time, and a peak RSS of at most 150 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import machine, verdict
from streams import text_answer

from runflow.cli.output import Output

MAX_CHECK_OVER_LIBRARY = 1.3
MAX_PEAK_MB = 150
DELTAS_PER_MESSAGE = 2000
MAX_MESSAGES = 4900

HIGH_WATER = """
def high_water_mb():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

LIBRARY = """
def library(path):
    from runflow.protocols.assistants.flow import RunFlow
    flow = RunFlow()
    with open(path, "rb") as f:
        while chunk := f.read(65536):
            flow.feed_sse(chunk)
    flow.close()
    return len(flow.violations)
"""

CHECK = """
def check(path):
    import contextlib, io
    from runflow.cli import main
    with contextlib.redirect_stdout(io.StringIO()) as said:
        code = main(["check", "-q", path])
    return code, said.getvalue()[:300]
"""

TIMED = HIGH_WATER + LIBRARY + CHECK + """
import json, sys, time
import runflow.cli.check, runflow.conform.recorded  # imported before any timing
from runflow.protocols.assistants.flow import RunFlow
path, rounds = sys.argv[1], int(sys.argv[2])
best = {}
for r in range(rounds):
    for key in (("library", "check") if r % 2 == 0 else ("check", "library")):
        start, cpu = time.perf_counter(), time.process_time()
        result = library(path) if key == "library" else check(path)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        best[key] = min(best.get(key, cpu), cpu)
        best[key + " wall"] = min(best.get(key + " wall", seconds), seconds)
        if key == "library":
            best["violations"] = result
        else:
            best["code"], best["said"] = result
print(json.dumps(best))
"""

ALONE = HIGH_WATER + LIBRARY + CHECK + """
import json, sys
result = library(sys.argv[2]) if sys.argv[1] == "library" else check(sys.argv[2])
print(json.dumps({"mb": high_water_mb(), "result": result}))
"""


def write_recording(path: Path, megabytes: int) -> int:
    """One clean run of about ``megabytes`` MB, written piece by piece; returns its
    size in bytes."""
    template = text_answer(DELTAS_PER_MESSAGE).split(b"\n\n")[:-1]
    blocks = [b + b"\n\n" for b in template]
    head, message, tail = blocks[:3], b"".join(blocks[3:-2]), blocks[-2:]
    step_id = json.loads(blocks[3].split(b"data: ", 1)[1])["id"].encode()
    msg_id = json.loads(blocks[5].split(b"data: ", 1)[1])["id"].encode()
    count = min(MAX_MESSAGES, max(1, round(megabytes * 1_000_000 / len(message))))
    size = 0
    with path.open("wb") as out:
        for block in head:
            size += out.write(block)
        for i in range(count):
            mark = b"%05d" % i
            size += out.write(message.replace(step_id, step_id[:-5] + mark)
                              .replace(msg_id, msg_id[:-5] + mark))
        for block in tail:
            size += out.write(block)
    return size


def child(code: str, *args: str) -> dict[str, object]:
    """The JSON a fresh child process running ``code`` prints last."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                          text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"benchmark child failed ({done.returncode}): "
                         f"{(done.stderr or done.stdout)[-2000:]}")
    return dict(json.loads(lines[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="10,100",
                        help="file sizes in MB, comma-separated (default 10,100; 1 GB: 1000)")
    parser.add_argument("--quick", action="store_true", help="a 1 MB file only (CI smoke)")
    parser.add_argument("--rounds", type=int, default=2, help="timed runs of each (default 2)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line (it is shown only on a terminal anyway)")
    parser.add_argument("--progress", action="store_true",
                        help="show the progress line even when stderr is not a terminal")
    args = parser.parse_args(argv)
    try:
        sizes = [1] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: whole numbers of MB, comma-separated (got {args.sizes!r})")
    if not sizes or min(sizes) < 1:
        parser.error("--sizes: at least one size, each 1 MB or more")
    out = Output()
    out.progress_enabled = (out.progress_enabled or args.progress) and not args.quiet
    print("runflow command-line benchmark" + (" --quick" if args.quick else ""))
    for line in machine():
        print("  " + line)
    print(f"  time: CPU seconds in one fresh child, {args.rounds} round(s) alternating, "
          "fastest of each; peak RSS: a fresh child each (VmHWM)")
    print()
    head = (f"{'file':<12}{'library s':>10}{'check s':>10}{'check/library':>15}{'':5}"
            f"{'library MB':>12}{'check MB':>10}{'':5}  exit{'wall ratio':>12}")
    print(head)
    print("-" * len(head))
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="runflow-cli-bench-") as tmp:
        for number, mb in enumerate(sizes, start=1):
            path = Path(tmp) / f"run_{mb}mb.sse"
            step = f"[{number}/{len(sizes)}] {mb} MB"
            out.status(f"{step}: writing the recording")
            size = write_recording(path, mb)
            out.status(f"{step}: timing library and check, {args.rounds} round(s)")
            timed = child(TIMED, str(path), str(args.rounds))
            out.status(f"{step}: peak RSS of the library loop")
            library = child(ALONE, "library", str(path))
            out.status(f"{step}: peak RSS of runflow check")
            check = child(ALONE, "check", str(path))
            out.clear_progress()
            if timed["violations"] != 0:
                notes.append(f"WARNING: {size / 1e6:.0f} MB: the library reported "
                             f"{timed['violations']} violation(s) on a clean recording")
            if timed["code"] != 0:
                notes.append(f"WARNING: {size / 1e6:.0f} MB: check exited {timed['code']}: "
                             f"{timed['said']}")
            lib_s, check_s = float(str(timed["library"])), float(str(timed["check"]))
            lib_mb, check_mb = float(str(library["mb"])), float(str(check["mb"]))
            over = check_s / lib_s
            print(f"{size / 1e6:>7.0f} MB  {lib_s:>10.2f}{check_s:>10.2f}"
                  f"{over:>11.2f} {verdict(over <= MAX_CHECK_OVER_LIBRARY)}"
                  f"{lib_mb:>12.0f}{check_mb:>10.0f} "
                  f"{verdict(check_mb <= MAX_PEAK_MB)}  {timed['code']:>4}"
                  f"{float(str(timed['check wall'])) / float(str(timed['library wall'])):>12.2f}",
                  flush=True)
            path.unlink()
    print()
    print(f"targets: check/library ≤ {MAX_CHECK_OVER_LIBRARY:g}, check peak RSS ≤ "
          f"{MAX_PEAK_MB} MB (timings never fail the run)")
    for note in notes:
        print("note: " + note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
