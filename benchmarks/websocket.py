"""runflow benchmark for the Responses WebSocket mode: µs per frame and memory per
open connection with 8 lanes, beside the openai SDK's ``ResponsesWebSocketAccumulator``
on the same frames.

    python benchmarks/websocket.py             # about two minutes on the shared box
    python benchmarks/websocket.py --quick     # a few seconds (CI smoke)
    python benchmarks/websocket.py --profile   # also cProfile runflow, layer vs inner

The conversation: 8 lanes (``stream_id``), each one text response scripted by the
local server (:mod:`runflow.server.responses_scenarios`, one word per delta), frames
interleaved round-robin across lanes, as JSON text. ``words/lane`` 20 is the
short-response row (28 frames a response, so each response's fixed cost shows),
2000 the long one.

floor    ``json.loads`` of each frame (what the SDK parses with);
runflow  ``ConnectionFlow.receive(text)`` per frame (the 8 creates sent first) and
         ``close()``: lanes, sequence per response, steering rules, and each
         response's ``ResponseFlow`` (WebSocket variant);
layer    the ConnectionFlow alone: runflow with each response's flow replaced by one
         that does nothing (parse, route by ``stream_id``, lane/steer/connection
         moves, per-response sequence and optional-setup checks, records). Its
         parse is pydantic-core's ``from_json`` with a screen for numbers that
         overflow (``runflow.engine.core.may_overflow``): about 0.9 of the floor on
         these frames, so ``layer/floor`` 0.9 would be parsing only;
inner    the responses' own flows alone: the frames' dicts (parsed beforehand, not
         timed) fed by name (``{"event": type, "data": frame}``) to one
         ``ResponseFlow(protocol=WS_RESPONSES)`` per response, created at its
         ``response.created`` and closed at its end, as the ConnectionFlow does.
         layer + inner is a little under runflow: run together they share the
         allocator and the garbage collector's passes;
sdk      what ``ResponsesWebSocketSession`` + its accumulator do per frame:
         ``construct_type_unchecked(json.loads(text), ResponsesServerEvent)``
         (``connection.parse_event``), routing by ``stream_id`` to one
         ``ResponsesWebSocketAccumulator`` per lane, ``add_event``, and
         ``get_final_response()`` at each terminal event.

Times are the fastest of N rounds in CPU time of this process
(``time.process_time``), so other jobs on a shared machine move them less than
wall time; the contenders take turns within each round.

Memory, with all 8 responses in flight (created, half their deltas fed):
``tracemalloc`` KiB held by one connection (runflow; of it, the 8 inner flows fed
the same dicts; the SDK's 8 accumulators), and the resident set per connection of
a fresh process holding ``--connections`` of them at once (RSS grown / count).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, cast

from openai._models import construct_type_unchecked
from openai.lib.responses_websocket import ResponsesWebSocketAccumulator
from openai.types.responses.responses_server_event import ResponsesServerEvent

from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.websocket import ConnectionFlow
from runflow.protocols.responses.websocket import flow as connection_module
from runflow.protocols.responses.websocket.definition import WS_RESPONSES
from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.scenarios import ScenarioOptions

LANES = 8
TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def conversation(words: int) -> tuple[list[str], list[str]]:
    """(client frames, server frames) of one 8-lane conversation."""
    text = " ".join(f"word{i}" for i in range(words))
    options = ScenarioOptions(text=text, chunk_size=0)
    creates, lanes = [], []
    for n in range(LANES):
        body = {"model": "gpt-4o", "input": "hi", "stream_id": f"lane{n}"}
        creates.append(json.dumps({"type": "response.create", **body}))
        events = script_response("text", ResponseRequest({"model": "gpt-4o", "input": "hi"},
                                                         options))
        lanes.append([json.dumps(dict(e, stream_id=f"lane{n}")) for e in events])
    frames = [lane[i] for i in range(max(map(len, lanes))) for lane in lanes if i < len(lane)]
    return creates, frames


def in_flight(frames: list[str]) -> list[str]:
    """The frames up to where all 8 responses are in flight (no terminal event)."""
    return [f for f in frames if not any(t in f for t in TERMINAL)][: len(frames) // 2]


def floor(creates: list[str], frames: list[str]) -> Any:
    return [json.loads(f) for f in frames]


def runflow(creates: list[str], frames: list[str], close: bool = True) -> Any:
    flow = ConnectionFlow()
    for c in creates:
        flow.send(c)
    for f in frames:
        flow.receive(f)
    if close:
        flow.close()
        assert not flow.violations, flow.violations[:3]
    return flow


class _NoFlow:
    """A response's flow that does nothing: what is left is the ConnectionFlow."""

    def __init__(self, **_: Any) -> None:
        self.violations: list[Any] = []

    def feed(self, event: Any, *, finite: bool = False) -> list[Any]:
        return self.violations

    def close(self) -> None:
        pass


def layer(creates: list[str], frames: list[str]) -> Any:
    """runflow with :class:`_NoFlow` in place of each response's ``ResponseFlow`` (the
    connection module's name for it is swapped for the call: a benchmark's probe)."""
    setattr(connection_module, "ResponseFlow", _NoFlow)  # noqa: B010 (not an attribute it exports)
    try:
        return runflow(creates, frames)
    finally:
        setattr(connection_module, "ResponseFlow", ResponseFlow)  # noqa: B010


def inner(events: list[dict[str, Any]], close: bool = True) -> Any:
    """The responses' own flows on already-parsed events (see the module docstring)."""
    flows: dict[Any, ResponseFlow] = {}
    for event in events:
        lane = event["stream_id"]
        flow = flows.get(lane)
        if flow is None:
            flow = flows[lane] = ResponseFlow(protocol=WS_RESPONSES)
        flow.feed({"event": event["type"], "data": event})  # as the ConnectionFlow feeds
        if close and event["type"] in TERMINAL:
            flow.close()
    return flows


def sdk(creates: list[str], frames: list[str]) -> Any:
    accumulators: dict[Any, ResponsesWebSocketAccumulator] = {}
    finals = []
    for f in frames:
        event = construct_type_unchecked(value=json.loads(f),
                                         type_=cast(Any, ResponsesServerEvent))
        lane = getattr(event, "stream_id", None)
        acc = accumulators.get(lane)
        if acc is None:
            acc = accumulators[lane] = ResponsesWebSocketAccumulator()
        acc.add_event(event)
        if event.type in TERMINAL:
            finals.append(acc.get_final_response())
    return accumulators, finals


def timing(words: int, rounds: int) -> dict[str, float]:
    creates, frames = conversation(words)
    parsed = [json.loads(f) for f in frames]
    contenders: dict[str, Callable[[], Any]] = {
        "floor": lambda: floor(creates, frames), "runflow": lambda: runflow(creates, frames),
        "layer": lambda: layer(creates, frames), "inner": lambda: inner(parsed),
        "sdk": lambda: sdk(creates, frames)}
    best = dict.fromkeys(contenders, float("inf"))
    names = list(contenders)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            gc.collect()
            start = time.process_time()
            contenders[name]()
            best[name] = min(best[name], time.process_time() - start)
    return {name: seconds * 1e6 / len(frames) for name, seconds in best.items()}


def held(name: str, creates: list[str], frames: list[str]) -> Any:
    """One open connection of contender ``name`` with the 8 lanes in flight."""
    if name == "runflow":
        return runflow(creates, frames, close=False)
    if name == "inner":
        return inner([json.loads(f) for f in frames], close=False)
    return sdk(creates, frames)


def memory(words: int) -> dict[str, float]:
    """KiB held by one connection of each contender with all 8 lanes in flight."""
    creates, frames = conversation(words)
    half = in_flight(frames)
    for name in ("runflow", "inner", "sdk"):
        held(name, creates, half)  # warm: caches built on first use are not counted
    out = {}
    for name in ("runflow", "inner", "sdk"):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        kept = held(name, creates, half)
        gc.collect()
        out[name] = (tracemalloc.get_traced_memory()[0] - before) / 1024
        tracemalloc.stop()
        del kept
    return out


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        import os

        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def rss_child(name: str, words: int, count: int) -> None:
    """(In a fresh process) print the resident set grown per open connection."""
    creates, frames = conversation(words)
    half = in_flight(frames)
    held(name, creates, half)
    gc.collect()
    before = _rss()
    kept = [held(name, creates, half) for _ in range(count)]
    gc.collect()
    print(json.dumps((_rss() - before) / count / 1024))
    del kept


def rss(words: int, count: int) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name in ("runflow", "sdk"):
        try:
            done = subprocess.run([sys.executable, __file__, "--rss-child", name, str(words),
                                   str(count)], capture_output=True, text=True, check=True)
            out[name] = float(done.stdout.strip())
        except (OSError, ValueError, subprocess.CalledProcessError):
            out[name] = None  # no /proc (not Linux): the row says so
    return out


def profile(words: int) -> None:
    """cProfile runflow on one row: the inner flows' share and the parse's, then the
    layer's own functions by internal time with their calls per frame (the counts do
    not depend on the machine's load; the shares do, a little)."""
    creates, frames = conversation(words)
    runs = max(1, 20000 // len(frames))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        runflow(creates, frames)
    profiler.disable()
    stats = pstats.Stats(profiler)
    table = cast(dict[Any, Any], stats.stats)  # type: ignore[attr-defined]
    total = max(cumulative for _, _, _, cumulative, _ in table.values())
    layer = "/responses/websocket/"

    def under_layer(match: Callable[[str, str], bool]) -> tuple[float, int]:
        """Time and calls of the functions ``match(path, name)`` picks, called from
        the layer's own functions (summed over the call edges)."""
        edges = [edge for (path, _, func), (_, _, _, _, callers) in table.items()
                 if match(path, func)
                 for (caller, _, _), edge in callers.items() if layer in caller]
        return sum(edge[3] for edge in edges), sum(edge[1] for edge in edges)

    # inner: the rest of runflow under the layer (the responses' flows: created, fed
    # and closed), but for the parse's helpers
    parse = {"from_json", "may_overflow", "has_non_finite", "parse_json"}
    inner_s, _ = under_layer(lambda path, func: "/runflow/" in path and layer not in path
                             and func not in parse)
    parse_s, _ = under_layer(lambda path, func: func in parse)
    _, walks = under_layer(lambda path, func: func == "has_non_finite")
    count = runs * len(frames)
    print(f"\nprofile, {words} words/lane, share of runflow's time under cProfile: the "
          f"inner flows {inner_s / total:.0%}, the parse {parse_s / total:.0%} (the walk "
          f"for numbers that overflow on {walks / count:.0%} of the frames); the layer's "
          "own functions by internal time, and their calls per frame:")
    rows = sorted(((tt, calls, func, path.split("runflow/")[-1], line)
                   for (path, line, func), (_, calls, tt, _, _) in table.items()
                   if layer in path), reverse=True)
    for tt, calls, func, path, line in rows[:8]:
        print(f"  {tt / total:6.1%}  {calls / count:5.2f}  {path}:{line}({func})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--connections", type=int, default=200,
                        help="open connections the resident-set figure holds at once")
    parser.add_argument("--rss-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        name, words, count = args.rss_child
        rss_child(name, int(words), int(count))
        return
    sizes, rounds = ((20,), 3) if args.quick else ((20, 200, 2000), args.rounds)
    print(f"{'words/lane':>10} {'frames':>7} {'floor':>6} {'runflow':>8} {'layer':>6} "
          f"{'inner':>6} {'sdk':>7}   {'runflow/floor':>13} {'layer/floor':>11} "
          f"{'runflow/sdk':>11}   (µs per frame)")
    for words in sizes:
        us = timing(words, rounds)
        frames = len(conversation(words)[1])
        print(f"{words:>10} {frames:>7} {us['floor']:>6.2f} {us['runflow']:>8.2f} "
              f"{us['layer']:>6.2f} {us['inner']:>6.2f} {us['sdk']:>7.2f}   "
              f"{us['runflow'] / us['floor']:>13.2f} {us['layer'] / us['floor']:>11.2f} "
              f"{us['runflow'] / us['sdk']:>11.2f}")
    words = sizes[-1] if args.quick else 200
    kib = memory(words)
    per = rss(words, 20 if args.quick else args.connections)
    shown = {k: f"{v:.0f} KiB" if v is not None else "n/a" for k, v in per.items()}
    print(f"memory per open connection, {LANES} lanes in flight ({words} words/lane, half "
          f"fed): runflow {kib['runflow']:.0f} KiB (of it the {LANES} inner flows "
          f"{kib['inner']:.0f} KiB), sdk {kib['sdk']:.0f} KiB, ratio "
          f"{kib['runflow'] / kib['sdk']:.2f} (tracemalloc); resident set per connection "
          f"of {20 if args.quick else args.connections} open: runflow {shown['runflow']}, "
          f"sdk {shown['sdk']}")
    if args.profile:
        for words in (20,) if args.quick else (20, 2000):
            profile(words)


if __name__ == "__main__":
    main()
