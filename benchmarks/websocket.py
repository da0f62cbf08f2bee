"""runflow benchmark for the Responses WebSocket mode: µs per frame and memory per
open connection with 8 lanes, beside the openai SDK's ``ResponsesWebSocketAccumulator``
on the same frames.

    python benchmarks/websocket.py           # about ten seconds
    python benchmarks/websocket.py --quick   # a second (CI smoke)

The conversation: 8 lanes (``stream_id``), each one text response scripted by the
local server (:mod:`runflow.server.responses_scenarios`, ``chunk_size`` words per
delta), frames interleaved round-robin across lanes, as JSON text.

floor    ``json.loads`` of each frame;
runflow  ``ConnectionFlow.receive(text)`` per frame (the 8 creates sent first) and
         ``close()``: lanes, sequence per response, steering rules, and each
         response's ``ResponseFlow`` (WebSocket variant);
sdk      what ``ResponsesWebSocketSession`` + its accumulator do per frame:
         ``construct_type_unchecked(json.loads(text), ResponsesServerEvent)``
         (``connection.parse_event``), routing by ``stream_id`` to one
         ``ResponsesWebSocketAccumulator`` per lane, ``add_event``, and
         ``get_final_response()`` at each terminal event.

Memory: ``tracemalloc`` peak-free size after feeding the frames up to the point
where all 8 responses are in flight (created, half their deltas), per contender.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, cast

from openai._models import construct_type_unchecked
from openai.lib.responses_websocket import ResponsesWebSocketAccumulator
from openai.types.responses.responses_server_event import ResponsesServerEvent

from runflow.protocols.responses.websocket import ConnectionFlow
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


def floor(creates: list[str], frames: list[str]) -> Any:
    return [json.loads(f) for f in frames]


def runflow(creates: list[str], frames: list[str]) -> Any:
    flow = ConnectionFlow()
    for c in creates:
        flow.send(c)
    for f in frames:
        flow.receive(f)
    flow.close()
    assert not flow.violations, flow.violations[:3]
    return flow


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


CONTENDERS: dict[str, Callable[[list[str], list[str]], Any]] = {
    "floor": floor, "runflow": runflow, "sdk": sdk}


def timing(words: int, rounds: int) -> dict[str, float]:
    creates, frames = conversation(words)
    best = dict.fromkeys(CONTENDERS, float("inf"))
    for r in range(rounds):
        names = list(CONTENDERS)
        for name in names[r % 3:] + names[:r % 3]:
            gc.collect()
            start = time.perf_counter()
            CONTENDERS[name](creates, frames)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: seconds * 1e6 / len(frames) for name, seconds in best.items()}


def memory(words: int) -> dict[str, float]:
    """KiB held by each contender with all 8 lanes in flight."""
    creates, frames = conversation(words)
    half = [f for f in frames if not any(t in f for t in TERMINAL)][: len(frames) // 2]
    out = {}
    for name in ("runflow", "sdk"):
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        if name == "runflow":
            flow = ConnectionFlow()
            for c in creates:
                flow.send(c)
            for f in half:
                flow.receive(f)
            held: Any = flow
        else:
            held = sdk(creates, half)
        gc.collect()
        out[name] = (tracemalloc.get_traced_memory()[0] - before) / 1024
        tracemalloc.stop()
        del held
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes, rounds = ((20,), 3) if args.quick else ((20, 200, 2000), 7)
    print(f"{'words/lane':>10} {'frames':>7} {'floor µs':>9} {'runflow µs':>11} "
          f"{'sdk µs':>8} {'runflow/floor':>14} {'runflow/sdk':>12}")
    for words in sizes:
        us = timing(words, rounds)
        frames = len(conversation(words)[1])
        print(f"{words:>10} {frames:>7} {us['floor']:>9.2f} {us['runflow']:>11.2f} "
              f"{us['sdk']:>8.2f} {us['runflow'] / us['floor']:>14.2f} "
              f"{us['runflow'] / us['sdk']:>12.2f}")
    kib = memory(sizes[-1] if args.quick else 200)
    print(f"memory with {LANES} lanes in flight: runflow {kib['runflow']:.0f} KiB, "
          f"sdk {kib['sdk']:.0f} KiB, ratio {kib['runflow'] / kib['sdk']:.2f}")


if __name__ == "__main__":
    main()
