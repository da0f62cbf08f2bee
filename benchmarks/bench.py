"""runflow benchmark: µs per event against the parse floor and the openai SDK.

    python benchmarks/bench.py            # default sizes, about a minute and a half
    python benchmarks/bench.py --quick    # tiny sizes, a few seconds (CI smoke)
    python benchmarks/bench.py --profile  # also: cProfile of runflow on two streams

Contenders, all fed the same bytes in 2 KiB chunks, in one process:

(a) parse floor: an incremental splitter on b"\\n\\n" + ``json.loads`` of each data line;
(b) the openai SDK: ``SSEDecoder`` + event construction exactly as ``Stream`` does
    for Assistants events + ``AssistantEventHandler._emit_sse_event`` (what
    ``client.beta.threads.runs.stream(...)`` runs per event, minus the network);
(c) runflow: ``RunFlow().feed_sse(chunk)`` per chunk + ``close()`` + final snapshots;
(d) (c) with a text-delta callback and one "completed" callback per entity kind.

Rounds alternate between contenders (round-robin, rotated order); the fastest round
of each (stream, contender) is divided by the stream's event count. Short rows (up to
5,000 events, a few milliseconds a round) run five times the rounds. Before each timed
call, what is alive is frozen out of the garbage collector (``gc.freeze``), so a call
pays for collecting what it allocates itself, not for what earlier calls left alive.
``--cpu-time`` reads the process's CPU time instead of the wall clock (steadier on a
machine loaded by other jobs). Targets print PASS/FAIL but never change the exit
code. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import platform
import pstats
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openai._models import construct_type
from openai._streaming import SSEDecoder
from openai._utils import is_mapping
from openai.lib.streaming import AssistantEventHandler
from openai.types.beta import AssistantStreamEvent
from streams import (
    RECORDINGS,
    Stream,
    code_interpreter,
    function_call,
    open_flow_prefix,
    recordings,
    text_answer,
)

from runflow import RunFlow

if TYPE_CHECKING:  # the callback API of (d); at run time guarded by has_callbacks()
    from openai.types.beta.threads import Message, Run
    from openai.types.beta.threads.runs import RunStep

    from runflow.protocols.assistants.parts import TextDelta, TextSnapshot

CHUNK = 2048

# Targets (printed PASS/FAIL; never fail the process on timing).
MAX_C_OVER_A = 3.0
MAX_C_OVER_A_DELTAS = 1.4
"""The stricter target of the generated text and function rows, where deltas are
almost all the traffic (issue 11: 1.5; issue 25: 1.4)."""
MAX_C_OVER_A_RECORDINGS = 2.0
"""The recordings row: short real flows, one event in seven a full object (issue 25)."""
MIN_B_OVER_C = 10.0
MAX_D_OVER_C = 1.5
MAX_FLATNESS = 1.15
MAX_RETAINED = 32 * 1024

Chunks = list[list[bytes]]  # one list of chunks per independent stream (flow)

CLOCK = time.perf_counter
"""What the timed rounds read: wall time, or with ``--cpu-time`` this process's CPU
time (``time.process_time``), which leaves out the time spent waiting while other
processes of a loaded machine run."""


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...]
    """Deltas per stream of the text and function families."""
    ci_input: int
    """Code interpreter: input deltas (then logs + image, then a message)."""
    ci_text: int
    """Code interpreter: text deltas of the message."""
    rounds: int
    """Timed rounds of (a), (c), (d)."""
    short_events: int
    """Rows of up to this many events run :data:`SHORT_ROUNDS` times the rounds of
    (a), (c), (d): a round of one takes milliseconds, so the fastest of 5 still
    moves with the load of a shared machine (the recordings row's d/c by ±0.05)."""
    sdk_rounds: int
    """Timed rounds of (b) on rows up to ``sdk_big_events`` events; 1 beyond."""
    sdk_big_events: int
    flows: int
    """Open flows for the tracemalloc measurement."""
    many_flows: int
    """Open flows at once, measured in a fresh process."""
    quick: bool


DEFAULT = Config(sizes=(2000, 8000, 32000), ci_input=2000, ci_text=500, rounds=5,
                 short_events=5_000, sdk_rounds=2, sdk_big_events=10_000, flows=500,
                 many_flows=10_000, quick=False)
QUICK = Config(sizes=(50, 100, 200), ci_input=100, ci_text=50, rounds=1, short_events=0,
               sdk_rounds=1, sdk_big_events=10_000, flows=100, many_flows=100, quick=True)
SHORT_ROUNDS = 5
"""How many times the rounds a short row runs (see :attr:`Config.short_events`)."""


def chunked(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def label(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


# --------------------------------------------------------------------------- #
# (a) the parse floor
# --------------------------------------------------------------------------- #
def parse_floor(parts: Chunks) -> None:
    loads = json.loads
    for chunks in parts:
        rest = b""
        for chunk in chunks:
            blocks = (rest + chunk).split(b"\n\n") if rest else chunk.split(b"\n\n")
            rest = blocks.pop()
            for block in blocks:
                _, sep, data = block.partition(b"data: ")
                if sep and data != b"[DONE]":
                    loads(data)
        if rest.strip():
            _, sep, data = rest.partition(b"data: ")
            if sep and data.strip() != b"[DONE]":
                loads(data)


# --------------------------------------------------------------------------- #
# (b) the openai SDK
# --------------------------------------------------------------------------- #
class SDKStreamError(Exception):
    """What ``Stream`` raises (as ``openai.APIError``) for an ``error`` event."""


def sdk_events(chunks: list[bytes]) -> Iterator[Any]:
    """The body of ``openai._streaming.Stream.__stream__`` for the Assistants
    stream (``stream_mode="legacy"``, no ``synthesize_event_and_data``), with
    ``client._process_response_data`` inlined: ``AssistantStreamEvent`` is a union,
    not a class, and strict response validation is off by default, so it is
    ``construct_type(type_=AssistantStreamEvent, value=...)``."""
    for sse in SSEDecoder().iter_bytes(iter(chunks)):
        if sse.data.startswith("[DONE]"):
            break
        if sse.event and sse.event.startswith("thread."):
            data = sse.json()
            yield construct_type(type_=AssistantStreamEvent,
                                 value={"data": data, "event": sse.event})
        else:
            data = sse.json()
            if is_mapping(data) and data.get("error"):
                error = data.get("error")
                message = error.get("message") if is_mapping(error) else None
                raise SDKStreamError(message or "An error occurred during streaming")
            yield construct_type(type_=AssistantStreamEvent, value=data)


@dataclass
class SDKRun:
    handlers: list[AssistantEventHandler]
    errors: list[str]
    """One line per stream the SDK raised on (it stops there, as a real client)."""
    events: int
    """Events handed to the handlers (the SDK stops at ``[DONE]`` and drops a last
    block that lacks its closing blank line)."""


def sdk_pipeline(parts: Chunks) -> SDKRun:
    """Each stream through its own handler, as ``AssistantEventHandler.__stream__``
    does it (``_emit_sse_event`` per event, ``on_exception`` / ``on_end``)."""
    handlers = []
    errors: list[str] = []
    events = 0
    for chunks in parts:
        handler = AssistantEventHandler()
        try:
            for event in sdk_events(chunks):
                handler._emit_sse_event(event)
                events += 1
        except Exception as exc:
            handler.on_exception(exc)
            errors.append(f"{type(exc).__name__}: {str(exc)[:90]}")
        finally:
            handler.on_end()
        handlers.append(handler)
    return SDKRun(handlers, errors, events)


def sdk_real_stream(chunks: list[bytes]) -> AssistantEventHandler:
    """The real thing, for the equivalence check: ``Stream`` over an ``httpx2``
    response + ``AssistantStreamManager``, as ``client.beta.threads.runs.stream``."""
    import httpx2
    from openai import OpenAI
    from openai._streaming import Stream as SDKStream
    from openai.lib.streaming import AssistantStreamManager

    client = OpenAI(api_key="bench", base_url="http://bench.invalid/v1")
    request = httpx2.Request("POST", "http://bench.invalid/v1/threads/t/runs")
    response = httpx2.Response(200, content=iter(chunks), request=request)
    stream: SDKStream[Any] = SDKStream(cast_to=cast(Any, AssistantStreamEvent),
                                       response=response, client=client)
    manager = AssistantStreamManager(lambda: stream, event_handler=AssistantEventHandler())
    with manager as handler:
        handler.until_done()
    return handler


def _final(handler: AssistantEventHandler) -> list[Any]:
    """What ``get_final_run`` / ``_run_steps`` / ``_messages`` return, read without
    consuming the handler's own iterator (ours has no ``Stream`` to consume)."""
    run = handler.current_run
    steps = handler._AssistantEventHandler__run_step_snapshots  # type: ignore[attr-defined]
    messages = handler._AssistantEventHandler__message_snapshots  # type: ignore[attr-defined]
    return [
        run.model_dump() if run else None,
        [s.model_dump() for s in steps.values()],
        [m.model_dump() for m in messages.values()],
    ]


def check_sdk_equivalence(chunks: list[bytes]) -> str:
    """Compare contender (b) with the SDK's real Stream on one stream."""
    try:
        same = _final(sdk_real_stream(chunks)) == _final(sdk_pipeline([chunks]).handlers[0])
    except Exception as exc:  # the SDK's internals moved: say so, go on
        return f"could not run the SDK's own Stream for comparison ({type(exc).__name__}: {exc})"
    if same:
        return ("(b) checked against the SDK's real Stream + AssistantStreamManager: "
                "same final run, steps and messages")
    return "WARNING: (b) and the SDK's real Stream produced different final snapshots"


# --------------------------------------------------------------------------- #
# (c) runflow, (d) runflow with callbacks
# --------------------------------------------------------------------------- #
def run_runflow(parts: Chunks) -> list[RunFlow]:
    flows = []
    for chunks in parts:
        flow = RunFlow()
        feed = flow.feed_sse
        for chunk in chunks:
            feed(chunk)
        flow.close()
        # Snapshots are kept as plain accumulators; the SDK's pydantic objects are
        # built on first access (see typed_snapshot_note), not per event.
        flows.append(flow)
    return flows


@dataclass
class Counts:
    text_deltas: int = 0
    runs: int = 0
    steps: int = 0
    messages: int = 0


def has_callbacks() -> bool:
    flow = RunFlow()
    return all(hasattr(flow, n) for n in ("on_text", "on_run", "on_step", "on_message"))


@dataclass
class CallbackRun:
    flows: list[RunFlow]
    counts: Counts


def run_runflow_callbacks(parts: Chunks) -> CallbackRun:
    """(c) plus ``@flow.on_text("delta")`` and ``@flow.on_run/on_step/on_message(
    "completed")`` callbacks that count what they receive."""
    seen = Counts()
    flows = []
    for chunks in parts:
        flow = RunFlow()

        @flow.on_text("delta")
        def on_text_delta(delta: TextDelta, snapshot: TextSnapshot) -> None:
            seen.text_deltas += 1

        @flow.on_run("completed")
        def on_run_completed(run: Run) -> None:
            seen.runs += 1

        @flow.on_step("completed")
        def on_step_completed(step: RunStep) -> None:
            seen.steps += 1

        @flow.on_message("completed")
        def on_message_completed(message: Message) -> None:
            seen.messages += 1

        feed = flow.feed_sse
        for chunk in chunks:
            feed(chunk)
        flow.close()
        flows.append(flow)
    return CallbackRun(flows, seen)


# --------------------------------------------------------------------------- #
# timing
# --------------------------------------------------------------------------- #
@dataclass
class Row:
    stream: Stream
    chunks: Chunks
    times: dict[str, list[float]] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    """The last result of each contender (flows, handlers), for the notes."""

    def us(self, key: str) -> float | None:
        samples = self.times.get(key)
        if not samples:
            return None
        # The minimum over rounds: on a shared machine, other load only ever adds
        # time, so the fastest round is the best estimate of the code's own cost.
        return min(samples) / self.stream.events * 1e6


def measure(rows: list[Row], contenders: dict[str, Callable[[Chunks], object]],
            cfg: Config) -> None:
    """Round-robin: every round runs every row with every contender, the order of
    the contenders rotated per round and row. The SDK (b) is 10-40x slower than the
    rest, so on rows past ``cfg.sdk_big_events`` it runs in the first round only.
    Rows of up to ``cfg.short_events`` events go on for :data:`SHORT_ROUNDS` times
    the rounds (not the SDK)."""
    keys = list(contenders)
    for r in range(cfg.rounds * SHORT_ROUNDS):
        for i, row in enumerate(rows):
            if r >= cfg.rounds and row.stream.events > cfg.short_events:
                continue
            shift = (r + i) % len(keys)
            for key in keys[shift:] + keys[:shift]:
                if key == "b" and r >= (1 if row.stream.events > cfg.sdk_big_events
                                        else cfg.sdk_rounds):
                    continue
                row.last.pop(key, None)
                # What earlier calls left alive (every row's flows and handlers, kept
                # for the notes) is frozen: the collections during this call scan only
                # what it allocates, whatever ran before it. Unfrozen after, so that a
                # result dropped later is still collected if it holds a cycle.
                gc.collect()
                gc.freeze()
                start = CLOCK()
                result = contenders[key](row.chunks)
                row.times.setdefault(key, []).append(CLOCK() - start)
                gc.unfreeze()
                row.last[key] = result


# --------------------------------------------------------------------------- #
# memory
# --------------------------------------------------------------------------- #
def feed_open(chunks: list[bytes], n: int) -> list[RunFlow]:
    flows = []
    for _ in range(n):
        flow = RunFlow()
        for chunk in chunks:
            flow.feed_sse(chunk)
        flows.append(flow)
    return flows


def traced_open_flows(chunks: list[bytes], n: int) -> int:
    """Bytes (tracemalloc) retained by ``n`` open flows: fed, not closed, kept alive."""
    feed_open(chunks, 1)  # warm module-level caches outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        flows = feed_open(chunks, n)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert flows[-1].run_status == "in_progress"
    return after - before


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def child_open_flows(n: int) -> None:
    """Run in a fresh process (``--child-flows N``): open ``n`` flows at once and
    print the growth of the resident set and the time, as JSON. A fresh process,
    because freed memory of the timing rounds would hide the growth; no tracemalloc,
    which makes feeding 4-5x slower."""
    chunks = chunked(open_flow_prefix())
    feed_open(chunks, 1)
    gc.collect()
    before = rss()
    start = time.perf_counter()
    flows = feed_open(chunks, n)
    elapsed = time.perf_counter() - start
    gc.collect()
    grown = rss() - before
    assert len(flows) == n and flows[-1].run_status == "in_progress"
    print(json.dumps({"flows": n, "rss_bytes": grown, "seconds": elapsed}))


def many_open_flows(n: int, script: str = __file__) -> dict[str, Any]:
    """``script --child-flows n`` in a fresh process: its JSON line."""
    import subprocess

    out = subprocess.run([sys.executable, script, "--child-flows", str(n)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


MAX_RETAINED_RESPONSES = 16 * 1024
"""Per open Responses flow fed a 20-event text response (issue 25)."""


def print_responses_memory(n: int) -> None:
    """The Responses memory row, measured by ``responses.py`` in a fresh process."""
    m = many_open_flows(n, str(Path(__file__).with_name("responses.py")))
    kib, grown = m["kib"] * 1024, m["rss_bytes"]
    print(f"memory: open Responses flows, each fed a {m['events']}-event text response "
          "(response.created ... response.completed), not closed:")
    print(f"  retained per open flow (tracemalloc, {max(1, n // 10):,} flows): "
          f"{m['kib']:6.1f} KiB   {verdict(kib <= MAX_RETAINED_RESPONSES)} "
          f"(target ≤ {MAX_RETAINED_RESPONSES // 1024} KiB; {m['kib_read']:.1f} KiB with "
          "flow.response read and cached)")
    if grown is not None:
        print(f"  {n:,} flows open at once (fresh process, resident set): total "
              f"{grown / 2**20:.1f} MiB, per flow {grown / n / 1024:.1f} KiB   "
              f"{verdict(grown / n <= MAX_RETAINED_RESPONSES)}; {m['rss_total'] / 2**20:.0f} "
              f"MiB in all; fed in {m['seconds']:.1f} s "
              f"({m['seconds'] / n / m['events'] * 1e6:.1f} µs/event)")


# --------------------------------------------------------------------------- #
# report
# --------------------------------------------------------------------------- #
def source_revision() -> str:
    """The git commit of the runflow being measured, and whether it has local edits."""
    import subprocess

    import runflow

    root = Path(runflow.__file__).resolve().parent.parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                             capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "runflow"], cwd=root,
                               text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return str(root)
    return f"git {sha}" + (" + uncommitted changes in runflow/" if dirty else "")


def machine() -> list[str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = f"{os.cpu_count()} logical cores" + (f", {usable} usable" if usable else "")
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    versions = []
    for pkg in ("openai", "pydantic", "pydantic-core", "transitions"):
        try:
            versions.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{pkg} (not installed)")
    return [
        f"cpu: {cpu} ({cores}{load})",
        f"python: {platform.python_implementation()} {platform.python_version()} "
        f"on {platform.system()} {platform.machine()}",
        "packages: " + ", ".join(versions),
        f"runflow: {metadata.version('runflow-sse')}, {source_revision()}",
    ]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def fmt(value: float | None, width: int, digits: int = 2) -> str:
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def marked(value: float | None, ok: Callable[[float], bool], width: int = 6) -> str:
    if value is None:
        return f"{'-':>{width}}     "
    return f"{value:>{width}.2f} {verdict(ok(value))}"


def at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


def at_least(limit: float) -> Callable[[float], bool]:
    return lambda value: value >= limit


def print_table(rows: list[Row]) -> None:
    head = (f"{'stream':<22}{'events':>8}{'a µs/ev':>10}{'b µs/ev':>10}{'c µs/ev':>10}"
            f"{'d µs/ev':>10}   {'c/a':>6}{'':5}  {'b/c':>6}{'':5}  {'d/c':>6}")
    print(head)
    print("-" * len(head))
    for row in rows:
        a, b, c, d = (row.us(k) for k in "abcd")
        print(
            f"{row.stream.name:<22}{row.stream.events:>8}{fmt(a, 10)}{fmt(b, 10)}"
            f"{fmt(c, 10)}{fmt(d, 10)}   "
            f"{marked(ratio(c, a), at_most(c_over_a_target(row)))}  "
            f"{marked(ratio(b, c), at_least(MIN_B_OVER_C))}  "
            f"{marked(ratio(d, c), at_most(MAX_D_OVER_C))}"
        )


def c_over_a_target(row: Row) -> float:
    """c/a target of a row: 1.4 for the text and function rows, 2 for the recordings,
    3 elsewhere."""
    if row.stream.family in ("text", "function"):
        return MAX_C_OVER_A_DELTAS
    if row.stream.family == "recordings":
        return MAX_C_OVER_A_RECORDINGS
    return MAX_C_OVER_A


def print_flatness(rows: list[Row], cfg: Config) -> None:
    print(f"flatness: µs/event at {label(cfg.sizes[-1])} deltas ÷ µs/event at "
          f"{label(cfg.sizes[0])} (target c ≤ {MAX_FLATNESS:.2f}):")
    for family in ("text", "function"):
        fam = [r for r in rows if r.stream.family == family]
        small, large = fam[0], fam[-1]

        def flat(key: str, small: Row = small, large: Row = large) -> float | None:
            return ratio(large.us(key), small.us(key))

        print(f"  {family:<9} c {marked(flat('c'), lambda v: v <= MAX_FLATNESS, 5)}   "
              f"(d {fmt(flat('d'), 5)}; sdk b {fmt(flat('b'), 5)}; floor a {fmt(flat('a'), 5)})")


def print_memory(cfg: Config) -> None:
    prefix = open_flow_prefix()
    events = sum(1 for b in prefix.split(b"\n\n") if b)
    print(f"memory: open flows, each fed {events} events (run created/queued/in_progress, "
          "a message_creation step, a message with 1 KiB of text), not closed:")
    per = traced_open_flows(chunked(prefix), cfg.flows) / cfg.flows
    print(f"  retained per open flow (tracemalloc, {cfg.flows:,} flows): "
          f"{per / 1024:6.1f} KiB   {verdict(per <= MAX_RETAINED)} "
          f"(target ≤ {MAX_RETAINED // 1024} KiB)")
    many = many_open_flows(cfg.many_flows)
    n, grown = many["flows"], many["rss_bytes"]
    print(f"  {n:,} flows open at once (fresh process, resident set): "
          f"total {grown / 2**20:.1f} MiB, per flow {grown / n / 1024:.1f} KiB   "
          f"{verdict(grown / n <= MAX_RETAINED)}; fed in {many['seconds']:.1f} s "
          f"({many['seconds'] / n / events * 1e6:.1f} µs/event)")


MAX_STATUS_OVER_DELTA = 5.0
"""A repeated status event (a self-loop, counted on the last history entry) next to
a text delta (issue 25)."""


STATUS_EVENTS = ("thread.message.in_progress", "thread.run.step.in_progress")
"""The repeated status events of the status note: each a self-loop of an entity
already in progress."""


def _flood_blocks() -> tuple[list[bytes], dict[str, bytes]]:
    """The opening (run, step, message created and in progress) and one block of each
    event the note repeats: the two status events and a text delta."""
    blocks = [b + b"\n\n" for b in text_answer(4).split(b"\n\n") if b]
    opening = blocks[:7]
    named = {b.split(b"\n", 1)[0].removeprefix(b"event: ").decode(): b for b in blocks[:9]}
    repeated = {name: named[name] for name in STATUS_EVENTS}
    repeated["thread.message.delta"] = blocks[8]
    assert opening[-1].startswith(b"event: thread.message.in_progress\n")
    assert blocks[8].startswith(b"event: thread.message.delta\n")
    return opening, repeated


def _flood(opening: list[bytes], block: bytes, n: int) -> tuple[RunFlow, float]:
    """A flow fed ``opening`` then ``block`` ``n`` times: the flow and the CPU
    seconds per repeated event."""
    flow = RunFlow()
    for b in opening:
        flow.feed_sse(b)
    gc.collect()
    gc.freeze()
    start = time.process_time()
    for _ in range(n):
        flow.feed_sse(block)
    seconds = time.process_time() - start
    gc.unfreeze()
    return flow, seconds / n


def history_bytes(flow: RunFlow) -> int:
    """What ``flow.history`` holds: the list and its entries (their strings are the
    event's own names and ids, shared with the rest of the flow)."""
    history = flow.history
    return sys.getsizeof(history) + sum(sys.getsizeof(change) for change in history)


def print_status_flood(n: int, big: int, rounds: int) -> None:
    """What a repeated status event costs next to a text delta: ``n`` of each (the
    two status events of STATUS_EVENTS, and deltas), each into a flow fed the same
    opening, alternating, fastest of ``rounds``, in CPU time (an interval longer than
    a time slice of a loaded machine otherwise includes waiting for other processes).
    Then one flood of ``big`` repeated ``thread.message.in_progress``: its history
    (a self-loop is counted on the last entry, so O(1)) and the growth of the
    resident set."""
    opening, repeated = _flood_blocks()
    best = dict.fromkeys(repeated, math.inf)
    names = list(repeated)
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            flow, seconds = _flood(opening, repeated[name], n)
            assert not flow.violations, flow.violations[:3]
            best[name] = min(best[name], seconds)
    delta = best["thread.message.delta"]
    print(f"status events: {n:,} of one event repeated into a flow after the same opening, "
          f"fastest of {rounds}, CPU time (target a status event ≤ "
          f"{MAX_STATUS_OVER_DELTA:g}× a delta):")
    print(f"  {'thread.message.delta':<28} {delta * 1e6:6.2f} µs/event")
    for name in STATUS_EVENTS:
        over = best[name] / delta
        print(f"  {name:<28} {best[name] * 1e6:6.2f} µs/event  {over:5.2f}× a delta   "
              f"{verdict(over <= MAX_STATUS_OVER_DELTA)}")
    gc.collect()
    before = rss()
    flow, seconds = _flood(opening, repeated[STATUS_EVENTS[0]], big)
    grown = rss() - before
    assert not flow.violations, flow.violations[:3]
    last = flow.history[-1]
    print(f"  flood of {big:,} {STATUS_EVENTS[0]}: {seconds * 1e6:.2f} µs/event; history "
          f"{len(flow.history)} entries, {history_bytes(flow):,} bytes (the last counts "
          f"{last.count:,}); resident set grew {grown / 1024:,.0f} KiB")


def profile_runflow(streams: list[Stream]) -> None:
    for stream in streams:
        parts = [chunked(p) for p in stream.parts]
        profiler = cProfile.Profile()
        profiler.enable()
        run_runflow(parts)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(14)
        print(f"\nprofile of (c) on {stream.name} ({stream.events} events), by own time:")
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        for line in lines[start:]:
            if line.strip():
                print("  " + line.replace(str(Path.cwd()) + "/", ""))


def build_streams(cfg: Config) -> tuple[list[Stream], list[str]]:
    notes: list[str] = []
    out = [Stream(f"text {label(n)}", (text_answer(n),), "text", n) for n in cfg.sizes]
    out += [Stream(f"function {label(n)}", (function_call(n),), "function", n)
            for n in cfg.sizes]
    out.append(Stream("code interpreter", (code_interpreter(cfg.ci_input, cfg.ci_text),),
                      "code"))
    recs = recordings()
    if recs:
        out.append(Stream(f"recordings ({len(recs)} files)", tuple(data for _, data in recs),
                          "recordings"))
    else:
        notes.append(f"recordings: row skipped, no *.sse in {RECORDINGS}")
    return out, notes


def typed_snapshot_note(name: str, flows: list[RunFlow], events: int) -> str:
    """What (c) leaves out: building the SDK's pydantic objects (Run, RunStep,
    Message) for every entity once, as a caller reading all final snapshots would."""
    start = time.perf_counter()
    for flow in flows:
        _ = flow.run, flow.steps, flow.messages
    spent = time.perf_counter() - start
    return (f"{name}: reading every final snapshot as SDK types once costs "
            f"{spent / len(flows) * 1e6:.0f} µs per flow ({spent / events * 1e6:.2f} µs/event "
            "if added to c); it is paid on access, not per event")


def row_notes(rows: list[Row]) -> list[str]:
    notes = []
    for row in rows:
        name = row.stream.name
        sdk: SDKRun | None = row.last.get("b")
        if sdk is not None and sdk.errors:
            notes.append(f"{name}: the SDK pipeline raised on {len(sdk.errors)} of "
                         f"{len(row.chunks)} stream(s) and stopped there, as a real client "
                         f"would; (b) counts the time until then. First: {sdk.errors[0]}")
        dones = sum(p.count(b"event: done\n") for p in row.stream.parts)
        if sdk is not None and sdk.events + dones < row.stream.events:
            notes.append(f"{name}: the SDK pipeline handled {sdk.events} of "
                         f"{row.stream.events - dones} non-done events (its decoder drops a "
                         "last block without the closing blank line); µs/event divides by "
                         "all events for every contender")
        flows: list[RunFlow] | None = row.last.get("c")
        if flows is not None:
            found = [v for f in flows for v in f.violations]
            if row.stream.family not in (None, "recordings") and found:
                notes.append(f"WARNING: {name}: runflow reported {len(found)} violation(s) "
                             f"in a synthetic stream, first: {found[0].code}: "
                             f"{found[0].message[:80]}")
            elif found:
                errors = sum(1 for v in found if v.severity == "error")
                notes.append(f"{name}: runflow reported {len(found)} violation(s) "
                             f"({errors} errors), the known quirks of real servers")
            notes.append(typed_snapshot_note(name, flows, row.stream.events))
        cb: CallbackRun | None = row.last.get("d")
        if cb is not None and row.stream.family == "text":
            c = cb.counts
            if c.text_deltas < row.stream.size or not (c.runs and c.steps and c.messages):
                notes.append(f"WARNING: {name}: callbacks fired less than expected: {c}")
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round (CI smoke)")
    parser.add_argument("--rounds", type=int, help="timed rounds (default 5; --quick 1)")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of runflow (c) on text and function streams")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the rounds in this process's CPU time, not wall time "
                             "(steadier on a machine loaded by other jobs)")
    parser.add_argument("--child-flows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
    if args.child_flows:
        child_open_flows(args.child_flows)
        return 0
    cfg = QUICK if args.quick else DEFAULT
    if args.rounds:
        cfg = replace(cfg, rounds=args.rounds, sdk_rounds=min(cfg.sdk_rounds, args.rounds))
    wall = time.perf_counter()

    print("runflow benchmark" + (" --quick (tiny sizes: timings are not meaningful)"
                                 if cfg.quick else ""))
    for line in machine():
        print("  " + line)
    print(f"  clock: {'CPU time of this process' if CLOCK is time.process_time else 'wall'}")
    print(f"  input: {CHUNK}-byte chunks; {cfg.rounds} round(s) round-robin, "
          f"{cfg.rounds * SHORT_ROUNDS} on rows of up to {cfg.short_events:,} events (sdk: "
          f"{cfg.sdk_rounds}, 1 on rows over {cfg.sdk_big_events:,} events); "
          "fastest round, µs per SSE event")

    streams, notes = build_streams(cfg)
    rows = [Row(s, [chunked(p) for p in s.parts]) for s in streams]
    contenders: dict[str, Callable[[Chunks], object]] = {
        "a": parse_floor, "b": sdk_pipeline, "c": run_runflow,
    }
    if has_callbacks():
        contenders["d"] = run_runflow_callbacks
    else:
        notes.append("(d) skipped: callback API not available")

    # Warm up every contender (imports, pydantic schemas, caches) off the clock.
    warm = [chunked(code_interpreter(20, 20)), chunked(function_call(20))]
    for fn in contenders.values():
        fn(warm)
    notes.append(check_sdk_equivalence(rows[0].chunks[0]))

    measure(rows, contenders, cfg)
    print()
    print_table(rows)
    notes += row_notes(rows)
    for row in rows:
        row.last.clear()
    print()
    print_flatness(rows, cfg)
    print()
    print_status_flood(200 if cfg.quick else 20_000, 2_000 if cfg.quick else 200_000,
                       cfg.rounds)
    print()
    print_memory(cfg)
    print_responses_memory(cfg.many_flows)
    if args.profile:
        middle = label(cfg.sizes[len(cfg.sizes) // 2])
        profile_runflow([r.stream for r in rows
                         if r.stream.name in (f"text {middle}", f"function {middle}")])
    print()
    print(f"targets: c/a ≤ {MAX_C_OVER_A:g} (runflow vs parse floor; ≤ "
          f"{MAX_C_OVER_A_DELTAS:g} on the text and function rows, ≤ "
          f"{MAX_C_OVER_A_RECORDINGS:g} on the recordings), b/c ≥ {MIN_B_OVER_C:g} "
          f"(sdk vs runflow), d/c ≤ {MAX_D_OVER_C:g} (callbacks), flatness ≤ {MAX_FLATNESS:g}, "
          f"≤ {MAX_RETAINED // 1024} KiB per open flow; timings never fail the run")
    for note in notes:
        print("note: " + note)
    print(f"wall time: {time.perf_counter() - wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
