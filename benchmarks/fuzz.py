"""Mutation fuzzing over the real recordings: crashes must be 0, detection >= 99%.

    python benchmarks/fuzz.py -n 10000 [--seed S] [--strict-every K] [--show N]
    python benchmarks/fuzz.py --types -n 300000 [--protocol responses] [--seed S] [--show N]
                              [--jobs N] [--time-limit SECONDS] [--mutations all|values|keys]

Each mutation (drop / duplicate / swap adjacent events, truncate the SSE bytes,
rename a status event or change its payload status, change an id, corrupt a JSON
byte, split SSE chunks, insert an unknown event) is replayed through a fresh
RunFlow via feed_sse in random chunks. Prints mutations tried, crashes, and the
percentage of *relevant* mutations detected (see runflow.testing.fuzz for the definition),
overall and per class. Exit status 1 if any crash or detection < 99%.

``--types`` runs the type-confusion fuzzer instead (runflow.testing.typefuzz): every
JSON value at every path of every event of the .jsonl and .sse recordings replaced
by a value of another type, fed through feed_sse and feed. It reports untyped
exceptions (must be 0), the detection rate and the top escape sites (exception type
and innermost runflow frame) and flows left inconsistent (must be 0), with
progress on stderr. Exit status 1 if any untyped exception or inconsistent flow.
``--protocol responses`` fuzzes the Responses captures (``recordings/responses``) and
one seed stream per output item family with the Responses definition's target
instead of the Assistants ones. Both also read the flow's views and run the layers
of ``check``, ``conform`` and ``watch`` on mutated streams fed as SSE: the Assistants
run on every one, the Responses run on a fixed 1 in 10 (the layers cost more than the
flow on its large captures); every input goes through ``feed_sse`` or ``feed``, the
stepwise checks and the read API. The types layer of ``check --types`` and
``conform`` (runflow.testing.typefuzz_types) runs over every mutation once (its SSE
input; WebSocket: each response's frames), its findings checked for an event index
and a JSON path of that event, its work counted. Every 1,000th input is fed once more under
``tracemalloc`` (the SDK's building of its event objects is done before, and is not
counted); the largest peak is reported and one over the bound is an inconsistency.
``--jobs N`` spreads the inputs over N processes (the same inputs, the same report);
``--time-limit`` stops taking inputs after that many seconds and says so (the run
takes its inputs in an order spread over every stream); so does Ctrl-C, after the
chunks already running finish (a second Ctrl-C aborts). ``--protocol websocket``
fuzzes every field of every client and server frame of the WebSocket mode's seed
conversations through a ``ConnectionFlow`` (runflow.testing.typefuzz_ws; about 67,500
distinct inputs, so ``-n 300000`` runs them all), measuring the memory peak of every
1,000th input.

``--mutations`` (with ``--types``, every protocol): ``values`` replaces values only
(the inputs above), ``keys`` mutates keys only (runflow.testing.typefuzz_keys: keys
added at every object -- pydantic's, the SDK's and JavaScript's internal names, odd
unicode, a 1 MiB key, 10,000 keys, case and normalisation twins --, and every key
removed, renamed, twinned or named twice in the JSON text), ``all`` (the default)
both, the key inputs numbered after the value inputs. The report adds subtotals per
kind of mutation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from runflow.cli.output import Output
from runflow.testing.fuzz import KINDS, FuzzReport, run_fuzz
from runflow.testing.typefuzz import (
    ASSISTANTS_FUZZ,
    RESPONSES_FUZZ,
    Corpus,
    TypeFuzzReport,
    load_corpus,
    seed_corpus,
)
from runflow.testing.typefuzz_run import run_parallel
from runflow.testing.typefuzz_seeds import item_family_seeds
from runflow.testing.typefuzz_target import Target, with_keys
from runflow.testing.typefuzz_ws import WS_FUZZ, run_ws_typefuzz, ws_corpus

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
    parser.add_argument("-n", type=int, default=None,
                        help="mutations to try (default 10,000; with --types 300,000)")
    parser.add_argument("--types", action="store_true",
                        help="type-confusion fuzzing (every value at every JSON path)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strict-every", type=int, default=10,
                        help="also replay every K-th mutation in strict mode (0: never)")
    parser.add_argument("--kind", action="append", choices=KINDS, help="only these classes")
    parser.add_argument("--show", type=int, default=10, help="crashes/escapes to list")
    parser.add_argument("--recordings", type=Path, default=RECORDINGS)
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line (it is shown only on a terminal anyway)")
    parser.add_argument("--progress", action="store_true",
                        help="show the progress line even when stderr is not a terminal")
    parser.add_argument("--protocol", choices=("assistants", "responses", "websocket"),
                        default="assistants",
                        help="with --types: the captures and definition to fuzz "
                             "(websocket: the WebSocket mode's frames, both directions)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="with --types (assistants, responses): processes to use")
    parser.add_argument("--mutations", choices=("all", "values", "keys"), default="all",
                        help="with --types: replace values, mutate keys (add, remove, "
                             "rename, twin, duplicate: runflow.testing.typefuzz_keys), or "
                             "both (the default)")
    parser.add_argument("--time-limit", type=float, default=None, metavar="SECONDS",
                        help="with --types (assistants, responses): stop taking inputs "
                             "after this long (or at Ctrl-C) and report those run")
    args = parser.parse_args(argv)
    if args.types:
        return types(args)
    recordings = load(args.recordings)
    if not recordings:
        print(f"no recordings in {args.recordings}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    out = _progress_output(args)

    def progress(done: int, total: int, report: FuzzReport) -> None:
        rate = done / max(time.perf_counter() - start, 1e-9)
        out.progress(done, total, f"crashes {len(report.crashes)} ({rate:.0f} mutations/s)")

    report = run_fuzz(recordings, args.n or 10_000, args.seed, kinds=tuple(args.kind or KINDS),
                      strict_every=args.strict_every, progress=progress)
    out.clear_progress()
    print(f"recordings: {len(recordings)}, seed: {args.seed}, "
          f"{time.perf_counter() - start:.1f} s")
    print(report.format(args.show))
    ok = not report.crashes and report.rate >= 0.99
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def _progress_output(args: argparse.Namespace) -> Output:
    """Progress on stderr, as the command line shows it: only on a terminal (or with
    ``--progress``), never with ``-q``."""
    out = Output()
    out.progress_enabled = (out.progress_enabled or args.progress) and not args.quiet
    return out


def mutating(target: Target, mutations: str) -> Target:
    """``target`` with the key mutations (``all``), or with them only (``keys``)."""
    if mutations == "values":
        return target
    return with_keys(target, values=mutations == "all")


def types(args: argparse.Namespace) -> int:
    """The type-confusion run: untyped exceptions must be 0."""
    if args.protocol == "websocket":
        return websocket_types(args)
    responses = args.protocol == "responses"
    folder = args.recordings / "responses" if responses else args.recordings
    if not folder.is_dir():
        print(f"no recordings in {folder}", file=sys.stderr)
        return 2
    target = mutating(RESPONSES_FUZZ if responses else ASSISTANTS_FUZZ, args.mutations)
    corpus = load_corpus(folder, None, target)
    if responses:  # the item families no capture (or no short one) holds
        seeds = seed_corpus(item_family_seeds(), target)
        corpus = Corpus((*corpus.sources, *seeds.sources), corpus.skipped, corpus.target)
    if not corpus.sources:
        print(f"no recordings in {args.recordings}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    out = _progress_output(args)

    def progress(done: int, total: int, report: TypeFuzzReport) -> None:
        elapsed = time.perf_counter() - start
        rate = done / max(elapsed, 1e-9)
        eta = (total - done) / rate if rate else 0.0
        out.progress(done, total, f"untyped {report.untyped}, inconsistent "
                                  f"{len(report.inconsistent)}, detected {report.detected}"
                                  f" ({rate:.1f} inputs/s, {elapsed / 60:.1f} min, "
                                  f"ETA {eta / 60:.1f} min)")

    report = run_parallel(corpus, args.n or 300_000, args.seed, jobs=args.jobs,
                          progress=progress, stop_after=args.time_limit)
    out.clear_progress()
    took = time.perf_counter() - start
    print(f"protocol: {args.protocol}, mutations: {args.mutations}, seed: {args.seed}, "
          f"{took:.1f} s "
          f"({report.inputs / max(took, 1e-9):.1f} inputs/s, {args.jobs} jobs); "
          f"{len(corpus.skipped)} recordings skipped (twins or unreadable)")
    print(report.format(max(args.show, 20)))
    ok = report.untyped == 0 and not report.inconsistent and not report.corrupted
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def websocket_types(args: argparse.Namespace) -> int:
    """The type-confusion run over the WebSocket mode's seed conversations (they need
    no recordings): untyped exceptions and inconsistent flows must be 0."""
    corpus = ws_corpus(target=mutating(WS_FUZZ, args.mutations))
    start = time.perf_counter()
    out = _progress_output(args)

    def progress(done: int, total: int, report: TypeFuzzReport) -> None:
        rate = done / max(time.perf_counter() - start, 1e-9)
        out.progress(done, total, f"untyped {report.untyped}, inconsistent "
                                  f"{len(report.inconsistent)}, detected {report.detected}"
                                  f" ({rate:.0f} inputs/s)")

    report = run_ws_typefuzz(corpus, args.n or 300_000, args.seed, progress=progress)
    out.clear_progress()
    print(f"protocol: websocket, mutations: {args.mutations}, seed: {args.seed}, "
          f"{time.perf_counter() - start:.1f} s; "
          f"conversations: {', '.join(c.name for c in corpus.conversations)}")
    print(report.format(max(args.show, 20)))
    ok = report.untyped == 0 and not report.inconsistent and not report.corrupted
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
