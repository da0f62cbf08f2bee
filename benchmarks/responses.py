"""runflow benchmark for the Responses API stream: µs per event against the parse
floor and the openai SDK's own accumulator, on the same bytes.

    python benchmarks/responses.py            # default sizes, about a minute
    python benchmarks/responses.py --quick    # tiny sizes, a few seconds (CI smoke)
    python benchmarks/responses.py --profile  # also: cProfile of runflow on three rows
    python benchmarks/responses.py --short-only --cpu-time  # the short rows and the
                                              # status/delta note: under a minute
    python benchmarks/responses.py --cpu-time --only codex_backend  # the rows whose
                                              # name holds that text (repeatable)

Contenders, all fed the same bytes in 2 KiB chunks, in one process (the method of
``bench.py``, the Assistants benchmark):

floor    the parse floor of ``bench.py`` itself (``bench.parse_floor``): an
         incremental splitter on b"\\n\\n" + ``json.loads`` of each data line;
runflow  ``ResponseFlow().feed_sse(chunk)`` per chunk + ``close()`` + reading
         ``flow.response`` (the rebuilt SDK ``Response``) once at the end (a row of
         short streams also says streams per second per core, in a note);
sdk      what ``client.responses.stream(...)`` runs per event, minus the network:
         ``SSEDecoder`` over the chunks; per event ``Stream.__stream__`` for the
         Responses stream (``stream_mode="legacy"``, no
         ``synthesize_event_and_data``): stop at ``[DONE]``, ``sse.json()``, raise
         ``APIError`` on a truthy top-level ``error``, then
         ``client._process_response_data`` with strict validation off, i.e.
         ``construct_type(type_=ResponseStreamEvent, value=data)``; then
         ``ResponseStreamState.handle_event(event)`` and the events it returns
         iterated, as ``ResponseStream.__stream__`` does.

Rounds alternate between contenders (round-robin, rotated order); the fastest round
of each (row, contender) is divided by the row's event count. Before each timed
call, what is alive is frozen out of the garbage collector (``gc.freeze``), so a
call pays for collecting what it allocates itself, not for the results every
earlier call left for the notes. ``--cpu-time`` reads the process's CPU time
instead of the wall clock (steadier on a machine loaded by other jobs). A row made of small
streams feeds them several times per round (``reps``) so that a round lasts long
enough to time. Targets print PASS/FAIL but never change the exit code.

What each contender keeps of a stream while its call runs (``--keep``): by default
what a process that validates many streams keeps, the outcome -- runflow the final
``Response`` and the violations, the SDK the final response (or the error it
raised) -- and drops the machinery that built it, so neither pays for the garbage
collector walking a thousand finished flows or stream states. ``--keep state``
keeps each whole flow and each ``ResponseStreamState`` until the call returns (the
method before issue 25; a runflow flow holds far more objects than the SDK's state,
so its column pays more for those collections).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import os
import pstats
import random
import string
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import chunked, fmt, label, machine, parse_floor, ratio, verdict
from openai._models import construct_type
from openai._streaming import SSEDecoder
from openai._types import omit
from openai._utils import is_mapping
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent
from streams import RECORDINGS, count_events

from runflow.protocols.responses.flow import ResponseFlow

RESPONSES = RECORDINGS / "responses"
CHUNK = 2048

# Targets of the issue (printed PASS/FAIL; never fail the process on timing).
MAX_RUNFLOW_OVER_FLOOR = 3.0
MIN_SDK_OVER_RUNFLOW = 5.0
MIN_SHORT_STREAMS_PER_S = 5000
"""A 20-event text response, fully validated, ``flow.response`` read: per core."""
MAX_KIB_PER_OPEN_FLOW = 16
MAX_STATUS_OVER_DELTA = 5.0
"""A status event (shape check, machine move, journal) next to a text delta."""

KEEP = "result"
"""What the contenders keep of each stream until their call returns (``--keep``):
``result`` (the final response and the violations or error) or ``state`` (the
whole flow, the whole ``ResponseStreamState``)."""

CLOCK = time.perf_counter
"""What the timed rounds read: wall time, or with ``--cpu-time`` this process's CPU
time (``time.process_time``), which leaves out the time spent waiting while other
processes of a loaded machine run."""

JSON = dict[str, Any]
Chunks = list[list[bytes]]  # one list of chunks per independent stream


@dataclass(frozen=True)
class Config:
    text: int
    """Text deltas of the long text row."""
    calls: int
    call_deltas: int
    """Function calls, and argument deltas per call, of the function row."""
    summaries: int
    summary_deltas: int
    answer_deltas: int
    """Reasoning row: summary parts x deltas each, then a message of text deltas."""
    rounds: int
    sdk_rounds: int
    """Timed rounds of the SDK (it is several times slower than the rest)."""
    min_events: int
    """A row of small streams repeats them until a round feeds this many events."""
    short: int
    """Streams of each short-stream row."""
    open_flows: int
    """Responses flows held open at once by the memory row."""
    quick: bool


DEFAULT = Config(text=2000, calls=50, call_deltas=40, summaries=4, summary_deltas=400,
                 answer_deltas=400, rounds=5, sdk_rounds=2, min_events=2000, short=1000,
                 open_flows=10_000, quick=False)
QUICK = Config(text=100, calls=5, call_deltas=10, summaries=2, summary_deltas=20,
               answer_deltas=20, rounds=1, sdk_rounds=1, min_events=1, short=20, open_flows=200,
               quick=True)


# --------------------------------------------------------------------------- #
# generated streams, in the wire shape of the OpenAI captures
# --------------------------------------------------------------------------- #
_T0 = 1774963893
_ALNUM = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"
_WORDS = (
    " the", " stream", " of", " events", " response", ",", " and", " a", " message",
    " delta", " is", " state", " machine", ".", " tool", " call", " item", " to",
    " server", " client", " in", " with", " that", " each", " output", " text", "\n\n",
    " answer", " which", " we", " it", " arrives", " order", " sequence", " number",
)


class _Writer:
    """One stream: events numbered by ``sequence_number``, as ``event:`` + ``data:``
    frames of compact JSON (``sequence_number`` the 2nd key, as 2025 OpenAI sends)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seq = 0
        self.out: list[bytes] = []
        self.response_id = self.id("resp")

    def id(self, prefix: str) -> str:
        return f"{prefix}_" + "".join(self.rng.choice(_HEX) for _ in range(50))

    def obfuscation(self) -> str:
        return "".join(self.rng.choice(_ALNUM) for _ in range(self.rng.randint(3, 15)))

    def emit(self, kind: str, **fields: Any) -> None:
        data = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self.out.append(f"event: {kind}\ndata: {body}\n\n".encode())

    def response(self, status: str, output: list[JSON], tools: list[JSON],
                 reasoning: JSON | None = None, usage: JSON | None = None) -> JSON:
        return {
            "id": self.response_id, "object": "response", "created_at": _T0,
            "status": status, "background": False, "error": None,
            "incomplete_details": None, "instructions": None, "max_output_tokens": None,
            "max_tool_calls": None, "model": "gpt-4o-mini-2024-07-18", "output": output,
            "parallel_tool_calls": True, "previous_response_id": None,
            "prompt_cache_key": None,
            "reasoning": reasoning or {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default" if status == "completed" else "auto",
            "store": True, "temperature": 1.0,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto", "tools": tools, "top_logprobs": 0, "top_p": 1.0,
            "truncation": "disabled", "usage": usage, "user": None, "metadata": {},
        }

    def begin(self, tools: list[JSON], reasoning: JSON | None = None) -> None:
        for kind in ("response.created", "response.in_progress"):
            self.emit(kind, response=self.response("in_progress", [], tools, reasoning))

    def end(self, output: list[JSON], tools: list[JSON], reasoning: JSON | None = None,
            out_tokens: int = 0) -> bytes:
        usage = {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": out_tokens,
                 "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": 36 + out_tokens}
        self.emit("response.completed",
                  response=self.response("completed", output, tools, reasoning, usage))
        return b"".join(self.out)

    def message(self, index: int, deltas: int) -> JSON:
        """A message item with one output_text part grown by ``deltas`` deltas."""
        mid = self.id("msg")
        item = {"id": mid, "type": "message", "status": "in_progress", "content": [],
                "role": "assistant"}
        self.emit("response.output_item.added", output_index=index, item=item)
        empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        where = {"item_id": mid, "output_index": index, "content_index": 0}
        self.emit("response.content_part.added", **where, part=empty)
        words = [self.rng.choice(_WORDS) for _ in range(deltas)]
        for word in words:
            self.emit("response.output_text.delta", **where, delta=word, logprobs=[],
                      obfuscation=self.obfuscation())
        text = "".join(words)
        self.emit("response.output_text.done", **where, text=text, logprobs=[])
        part = {**empty, "text": text}
        self.emit("response.content_part.done", **where, part=part)
        done = {**item, "status": "completed", "content": [part]}
        self.emit("response.output_item.done", output_index=index, item=done)
        return done

    def function_call(self, index: int, deltas: int) -> JSON:
        fid, call_id = self.id("fc"), "call_" + self.id("x")[2:26]
        item = {"id": fid, "type": "function_call", "status": "in_progress",
                "arguments": "", "call_id": call_id, "name": "get_weather"}
        self.emit("response.output_item.added", output_index=index, item=item)
        words = "".join(self.rng.choice(_WORDS) for _ in range(deltas))
        arguments = json.dumps({"city": "Paris", "unit": "celsius", "notes": words},
                               separators=(",", ":"))
        step = -(-len(arguments) // deltas)  # ceiling: exactly ``deltas`` pieces or fewer
        pieces = [arguments[i : i + step] for i in range(0, len(arguments), step)]
        for piece in pieces:
            self.emit("response.function_call_arguments.delta", item_id=fid,
                      output_index=index, delta=piece, obfuscation=self.obfuscation())
        # ``name`` is absent from .done in every capture (RESPONSES.md section 3)
        self.emit("response.function_call_arguments.done", item_id=fid, output_index=index,
                  arguments=arguments)
        done = {**item, "status": "completed", "arguments": arguments}
        self.emit("response.output_item.done", output_index=index, item=done)
        return done

    def reasoning(self, index: int, summaries: int, deltas: int) -> JSON:
        rid = self.id("rs")
        secret = "gAAAAAB" + "".join(self.rng.choice(_ALNUM) for _ in range(600))
        item = {"id": rid, "type": "reasoning", "encrypted_content": secret, "summary": []}
        self.emit("response.output_item.added", output_index=index, item=item)
        parts = []
        for s in range(summaries):
            where = {"item_id": rid, "output_index": index, "summary_index": s}
            self.emit("response.reasoning_summary_part.added", **where,
                      part={"type": "summary_text", "text": ""})
            words = ["**Thinking**\n\n"] + [self.rng.choice(_WORDS) for _ in range(deltas - 1)]
            for word in words:
                self.emit("response.reasoning_summary_text.delta", **where, delta=word,
                          obfuscation=self.obfuscation())
            text = "".join(words)
            self.emit("response.reasoning_summary_text.done", **where, text=text)
            part = {"type": "summary_text", "text": text}
            self.emit("response.reasoning_summary_part.done", **where, part=part)
            parts.append(part)
        done = {**item, "summary": parts,
                "encrypted_content": secret[::-1]}  # it differs at done (RESPONSES.md 10)
        self.emit("response.output_item.done", output_index=index, item=done)
        return done


_FUNCTION_TOOL = {"type": "function", "name": "get_weather", "description": "The weather.",
                  "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"], "additionalProperties": False},
                  "strict": False}


def text_response(deltas: int, seed: int = 1) -> bytes:
    """One message streamed in ``deltas`` output_text deltas."""
    w = _Writer(seed)
    w.begin([])
    done = w.message(0, deltas)
    return w.end([done], [], out_tokens=deltas)


def function_calls(calls: int, deltas: int, seed: int = 2) -> bytes:
    """``calls`` consecutive function_call items (parallel tool calls), each with
    its JSON arguments in ``deltas`` deltas."""
    w = _Writer(seed)
    w.begin([_FUNCTION_TOOL])
    output = [w.function_call(i, deltas) for i in range(calls)]
    return w.end(output, [_FUNCTION_TOOL], out_tokens=calls * deltas)


def reasoning_response(summaries: int, deltas: int, answer: int, seed: int = 3) -> bytes:
    """A reasoning item with ``summaries`` summary parts of ``deltas`` deltas each
    (o3-mini, ``summary: "detailed"``), then a message of ``answer`` text deltas."""
    w = _Writer(seed)
    effort = {"effort": "high", "summary": "detailed"}
    w.begin([], effort)
    output = [w.reasoning(0, summaries, deltas), w.message(1, answer)]
    return w.end(output, [], effort, out_tokens=summaries * deltas + answer)


def short_streams(count: int, seed: int = 10) -> tuple[bytes, ...]:
    """``count`` short responses of 12 to 40 events in the shapes of the real
    captures: a text answer, a function call, a reasoning item and an answer."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        w = _Writer(seed * 100_000 + n)
        shape = rng.choice(("text", "text", "call", "reasoning"))
        if shape == "text":  # 8 events + deltas
            w.begin([])
            deltas = rng.randint(4, 32)
            out.append(w.end([w.message(0, deltas)], [], out_tokens=deltas))
        elif shape == "call":  # 6 events + deltas
            w.begin([_FUNCTION_TOOL])
            deltas = rng.randint(6, 34)
            out.append(w.end([w.function_call(0, deltas)], [_FUNCTION_TOOL],
                             out_tokens=deltas))
        else:  # 3 + (2 + 4 + d1) + (6 + d2) events
            effort = {"effort": "low", "summary": "auto"}
            w.begin([], effort)
            d1, d2 = rng.randint(2, 12), rng.randint(2, 12)
            output = [w.reasoning(0, 1, d1), w.message(1, d2)]
            out.append(w.end(output, [], effort, out_tokens=d1 + d2))
    return tuple(out)


def recordings() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(RESPONSES.glob("*.sse"))]


# --------------------------------------------------------------------------- #
# the contenders
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Outcome:
    """What a process validating many streams keeps of one (``--keep result``): the
    rebuilt response and the violations (the names a flow reads them by)."""

    response: Any
    violations: list[Any]


Kept = ResponseFlow | Outcome


def run_runflow(parts: Chunks) -> list[Kept]:
    kept: list[Kept] = []
    whole = KEEP == "state"
    for chunks in parts:
        flow = ResponseFlow()
        feed = flow.feed_sse
        for chunk in chunks:
            feed(chunk)
        flow.close()
        response = flow.response  # the rebuilt SDK Response, read once
        kept.append(flow if whole else Outcome(response, flow.violations))
    return kept


class SDKStreamError(Exception):
    """What ``Stream`` raises (as ``openai.APIError``) for a truthy ``error``."""


def sdk_events(chunks: list[bytes]) -> Iterator[Any]:
    """The body of ``openai._streaming.Stream.__stream__`` for the Responses stream
    (``stream_mode="legacy"``, no ``synthesize_event_and_data``), with
    ``client._process_response_data`` inlined: ``ResponseStreamEvent`` is a union,
    not a class, and strict response validation is off by default."""
    for sse in SSEDecoder().iter_bytes(iter(chunks)):
        if sse.data.startswith("[DONE]"):
            break
        data = sse.json()
        if is_mapping(data) and data.get("error"):
            error = data.get("error")
            message = error.get("message") if is_mapping(error) else None
            if not message or not isinstance(message, str):
                message = "An error occurred during streaming"
            raise SDKStreamError(message)
        yield construct_type(type_=ResponseStreamEvent, value=data)


@dataclass
class SDKRun:
    finals: list[Any]
    """The final response of each stream (None where there is none)."""
    states: list[ResponseStreamState[Any]]
    """Each stream's whole state (``--keep state`` only)."""
    errors: list[tuple[int, str]]
    """(stream number, exception) per stream the SDK raised on; it stops there, as a
    real client would."""
    events: int
    """Events handed to the accumulator."""


def sdk_pipeline(parts: Chunks) -> SDKRun:
    """Each stream through its own ``ResponseStreamState``, as ``ResponseStream``
    with ``text_format`` and ``tools`` omitted (``client.responses.stream(...)``)."""
    finals: list[Any] = []
    states = []
    errors = []
    events = 0
    whole = KEEP == "state"
    for n, chunks in enumerate(parts):
        state: ResponseStreamState[Any] = ResponseStreamState(input_tools=omit,
                                                              text_format=omit)
        try:
            for event in sdk_events(chunks):
                for _fired in state.handle_event(event):
                    pass
                events += 1
        except Exception as exc:  # the SDK's own failure is a result here
            errors.append((n, f"{type(exc).__name__}: {str(exc)[:100]}"))
        finals.append(state._completed_response)
        if whole:
            states.append(state)
    return SDKRun(finals, states, errors, events)


def sdk_real_stream(chunks: list[bytes]) -> Any:
    """The real thing, for the equivalence check: ``Stream`` over an ``httpx2``
    response + ``ResponseStreamManager``, as ``client.responses.stream`` builds it."""
    import httpx2
    from openai import OpenAI
    from openai._streaming import Stream as SDKStream
    from openai.lib.streaming.responses import ResponseStreamManager

    client = OpenAI(api_key="bench", base_url="http://bench.invalid/v1")
    request = httpx2.Request("POST", "http://bench.invalid/v1/responses")
    response = httpx2.Response(200, content=iter(chunks), request=request)
    stream: SDKStream[Any] = SDKStream(cast_to=cast(Any, ResponseStreamEvent),
                                       response=response, client=client)
    manager: Any = ResponseStreamManager(lambda: stream, text_format=omit, input_tools=omit,
                                         starting_after=None)
    with manager as events:
        return events.get_final_response()


def check_sdk_equivalence(streams: list[list[bytes]]) -> str:
    """Compare the sdk contender with the SDK's real stream, stream by stream: the
    same final response, or neither has one (the real one raises)."""
    same = 0
    for chunks in streams:
        try:
            real: Any = sdk_real_stream(chunks).model_dump()
        except Exception:  # APIError, or no response.completed: no final response
            real = None
        try:
            run = sdk_pipeline([chunks])
        except Exception as exc:  # the SDK's internals moved: say so, go on
            return f"could not run the sdk contender ({type(exc).__name__}: {exc})"
        final = run.finals[0]
        ours = final.model_dump() if final is not None and not run.errors else None
        same += ours == real
    if same == len(streams):
        return (f"sdk contender checked against the SDK's real Stream + "
                f"ResponseStreamManager on {len(streams)} streams: same final response "
                "(or none) on each")
    return (f"WARNING: the sdk contender and the SDK's real stream differ on "
            f"{len(streams) - same} of {len(streams)} streams")


def agreement(flows: list[Kept], sdk: SDKRun,
              names: tuple[str, ...]) -> tuple[int, int, list[str]]:
    """On streams the SDK completed: does runflow's rebuilt response say the same
    (id, status, output item ids, output_text)? (agree, compared, first differences)"""
    agree = compared = 0
    diffs = []
    for n, (flow, theirs) in enumerate(zip(flows, sdk.finals, strict=True)):
        ours = flow.response
        if theirs is None or ours is None:
            continue
        compared += 1
        mine = (ours.id, ours.status, [getattr(i, "id", None) for i in ours.output],
                ours.output_text)
        other = (theirs.id, theirs.status, [getattr(i, "id", None) for i in theirs.output],
                 theirs.output_text)
        if mine == other:
            agree += 1
        else:
            what = [f"{k} {a!r:.60} vs {b!r:.60}" for k, a, b in
                    zip(("id", "status", "output ids", "output_text"), mine, other, strict=True)
                    if a != b]
            diffs.append(f"{names[n]}: runflow vs sdk: {'; '.join(what)}")
    return agree, compared, diffs


# --------------------------------------------------------------------------- #
# rows and timing
# --------------------------------------------------------------------------- #
@dataclass
class Row:
    name: str
    parts: tuple[bytes, ...]
    generated: bool
    names: tuple[str, ...] = ()
    """The recording of each part (recording rows)."""
    reps: int = 1
    """Times each round feeds the row's streams (small rows: enough to time)."""
    times: dict[str, list[float]] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    chunks: Chunks = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chunks = [chunked(p, CHUNK) for p in self.parts]

    @property
    def events(self) -> int:
        return sum(count_events(p) for p in self.parts)

    def us(self, key: str) -> float | None:
        samples = self.times.get(key)
        if not samples:
            return None
        # the fastest round: other load on a shared machine only ever adds time
        return min(samples) / (self.events * self.reps) * 1e6


CONTENDERS: dict[str, Callable[[Chunks], object]] = {
    "floor": parse_floor, "runflow": run_runflow, "sdk": sdk_pipeline,
}


def measure(rows: list[Row], cfg: Config) -> None:
    """Round-robin: every round runs every row with every contender, the order of
    the contenders rotated per round and row; the SDK in its first rounds only."""
    keys = list(CONTENDERS)
    for r in range(cfg.rounds):
        for i, row in enumerate(rows):
            shift = (r + i) % len(keys)
            for key in keys[shift:] + keys[:shift]:
                if key == "sdk" and r >= cfg.sdk_rounds:
                    continue
                fn = CONTENDERS[key]
                row.last.pop(key, None)
                # What earlier calls left alive (every row's results, kept for the
                # notes) is frozen: the collections during this call scan only what
                # it allocates, whatever ran before it (nothing here is cyclic, so
                # nothing frozen is lost when a result is dropped).
                gc.collect()
                gc.freeze()
                start = CLOCK()
                for _ in range(row.reps):
                    result = fn(row.chunks)
                row.times.setdefault(key, []).append(CLOCK() - start)
                row.last[key] = result


def build_rows(cfg: Config, short_only: bool = False) -> tuple[list[Row], list[str]]:
    """The rows; ``short_only``: the two rows of many short streams alone."""
    notes: list[str] = []
    rows = [] if short_only else [
        Row(f"text {label(cfg.text)} deltas", (text_response(cfg.text),), True),
        Row(f"function calls {cfg.calls}x{cfg.call_deltas}",
            (function_calls(cfg.calls, cfg.call_deltas),), True),
        Row(f"reasoning {cfg.summaries}x{cfg.summary_deltas}+{cfg.answer_deltas}",
            (reasoning_response(cfg.summaries, cfg.summary_deltas, cfg.answer_deltas),), True),
    ]
    # many short streams: what a process validating real traffic mostly sees
    rows.append(Row(f"short text {label(cfg.short)}x20 events",
                    tuple(text_response(12, seed=100 + n) for n in range(cfg.short)), True))
    rows.append(Row(f"short mixed {label(cfg.short)}x12-40 events",
                    short_streams(cfg.short), True))
    recs = [] if short_only else recordings()
    if not recs and not short_only:
        notes.append(f"recordings: rows skipped, no *.sse in {RESPONSES}")
    for name, data in recs:
        rows.append(Row(name.removesuffix(".sse"), (data,), False, (name,)))
    if recs and not short_only:
        rows.append(Row(f"all recordings ({len(recs)} files)", tuple(d for _, d in recs),
                        False, tuple(n for n, _ in recs)))
    for row in rows:
        row.reps = max(1, math.ceil(cfg.min_events / row.events))
    return rows, notes


# --------------------------------------------------------------------------- #
# report
# --------------------------------------------------------------------------- #
NAME = 44


def marked(value: float | None, ok: Callable[[float], bool]) -> str:
    if value is None:
        return f"{'-':>7}     "
    return f"{value:>7.2f} {verdict(ok(value))}"


def print_table(rows: list[Row]) -> dict[str, list[bool]]:
    """The table; returns the PASS/FAIL of each target over the rows."""
    head = (f"{'stream':<{NAME}}{'events':>7}{'floor µs/ev':>13}{'runflow':>9}{'sdk':>9}"
            f"   {'runflow/floor':>13}{'':5}  {'sdk/runflow':>11}")
    print(head)
    print("-" * (len(head) + 5))
    results: dict[str, list[bool]] = {"floor": [], "sdk": []}
    for row in rows:
        floor, ours, sdk = row.us("floor"), row.us("runflow"), row.us("sdk")
        over = ratio(ours, floor)
        if over is not None:
            results["floor"].append(over <= MAX_RUNFLOW_OVER_FLOOR)
        run: SDKRun | None = row.last.get("sdk")
        if run is not None and run.errors:
            failed = len(run.errors)
            sdk_cell = f"{'SDK failed':>11}" + (f" ({failed}/{len(row.parts)})"
                                                if len(row.parts) > 1 else "")
        else:
            speedup = ratio(sdk, ours)
            if speedup is not None:
                results["sdk"].append(speedup >= MIN_SDK_OVER_RUNFLOW)
            sdk_cell = marked(speedup, lambda v: v >= MIN_SDK_OVER_RUNFLOW)
        print(f"{row.name[:NAME - 1]:<{NAME}}{row.events:>7}{fmt(floor, 13)}{fmt(ours, 9)}"
              f"{fmt(sdk, 9)}   {marked(over, lambda v: v <= MAX_RUNFLOW_OVER_FLOOR):>18}"
              f"  {sdk_cell}")
    return results


def row_notes(rows: list[Row]) -> list[str]:
    notes = []
    for row in rows:
        flows: list[Kept] | None = row.last.get("runflow")
        run: SDKRun | None = row.last.get("sdk")
        if flows is not None:
            found = [v for f in flows for v in f.violations]
            errors = [v for v in found if v.severity == "error"]
            if row.generated and found:
                notes.append(f"WARNING: {row.name}: runflow reported {len(found)} "
                             f"violation(s) on a generated stream, first: {found[0]}")
            elif errors and not row.name.startswith("all recordings"):
                notes.append(f"WARNING: {row.name}: {len(errors)} error(s), first: {errors[0]}")
        if run is not None and run.errors and not row.name.startswith("all recordings"):
            notes.append(f"{row.name}: SDK failed (it stops there, as a real client would; "
                         f"its time so far is in the sdk column): {run.errors[0][1]}")
        if run is not None and flows is not None:
            missing = sum(1 for final in run.finals if final is None)
            if row.name.startswith("all recordings"):
                agree, compared, diffs = agreement(flows, run, row.names)
                notes.append(
                    f"{row.name}: the SDK failed on {len(run.errors)} stream(s) and ended "
                    f"{missing} without a final response (get_final_response() raises); "
                    f"runflow's rebuilt response agrees with the SDK's (id, status, item ids, "
                    f"output_text) on {agree} of the {compared} it completed")
                notes += [f"  differs: {d}" for d in diffs[:5]]
    return notes


def response_read_note(row: Row) -> str:
    """What the runflow column pays once per stream to build ``flow.response`` (the
    rebuilt SDK ``Response``), measured apart on the row's streams."""
    flows = []
    for chunks in row.chunks:
        flow = ResponseFlow()
        for chunk in chunks:
            flow.feed_sse(chunk)
        flow.close()
        flows.append(flow)
    best = math.inf
    for _ in range(3):
        for flow in flows:
            flow._cache = flow._items_cache = None  # the view caches what it built
        start = CLOCK()
        for flow in flows:
            _ = flow.response
        best = min(best, CLOCK() - start)
    return (f"{row.name}: reading flow.response once costs {best / len(flows) * 1e6:.0f} µs "
            f"per stream on average ({best / row.events * 1e6:.2f} µs/event of the row), "
            "included in the runflow column")


def streams_note(row: Row) -> str:
    """Streams per second of the runflow column on a row of many short streams: one
    process, one thread, so per core."""
    best = min(row.times["runflow"]) / row.reps
    rate = len(row.parts) / best
    target = (f" (target ≥ {MIN_SHORT_STREAMS_PER_S:,}: "
              f"{verdict(rate >= MIN_SHORT_STREAMS_PER_S)})" if "short text" in row.name else "")
    return (f"{row.name}: runflow {rate:,.0f} streams/s per core, "
            f"{best / len(row.parts) * 1e6:.0f} µs per stream{target}")


def _rss() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


OPEN_FLOW_EVENTS = 20
"""The memory row's response: the 20-event text response of the short-text row."""


def _opened(data: list[bytes], n: int, read: bool) -> list[ResponseFlow]:
    flows = []
    for _ in range(n):
        flow = ResponseFlow()
        for chunk in data:
            flow.feed_sse(chunk)
        if read:
            _ = flow.response
        flows.append(flow)
    return flows


def child_open_flows(n: int) -> None:
    """Run in a fresh process (``--child-flows N``): hold ``n`` Responses flows open,
    each fed the 20-event text response and not closed, and print as JSON the growth
    of the resident set, the time to feed them, and the KiB that tracemalloc sees
    retained per flow (on a tenth of them, with and without ``flow.response`` read).
    A fresh process, because freed memory of the timing rounds would hide the
    growth; tracemalloc after the resident set, since it slows feeding 4-5x."""
    data = chunked(text_response(12, seed=7), CHUNK)
    assert count_events(b"".join(data)) == OPEN_FLOW_EVENTS
    _opened(data, 1, True)  # imports, schemas, caches
    gc.collect()
    before = _rss()
    start = time.perf_counter()
    kept = _opened(data, n, False)
    seconds = time.perf_counter() - start
    gc.collect()
    after = _rss()
    assert len(kept) == n and kept[-1].status == "completed" and not kept[-1].violations

    def kib(read: bool) -> float:
        sample = max(1, n // 10)
        gc.collect()
        tracemalloc.start()
        try:
            first = tracemalloc.get_traced_memory()[0]
            flows = _opened(data, sample, read)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - first
        finally:
            tracemalloc.stop()
        del flows
        return grown / sample / 1024

    print(json.dumps({
        "flows": n, "events": OPEN_FLOW_EVENTS, "seconds": seconds,
        "rss_bytes": (after - before) if before is not None and after is not None else None,
        "rss_total": after, "kib": kib(False), "kib_read": kib(True),
    }))


def open_responses_flows(n: int) -> dict[str, Any]:
    """:func:`child_open_flows` in a fresh process (``bench.py`` reports it too)."""
    import subprocess

    out = subprocess.run([sys.executable, __file__, "--child-flows", str(n)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def open_flows_line(n: int) -> str:
    """The memory row: KiB retained per open Responses flow, RSS with ``n`` open."""
    m = open_responses_flows(n)
    rss = m["rss_bytes"]
    held = (f"; {m['flows']:,} open at once (fresh process): resident set "
            f"+{rss / 2**20:,.1f} MiB ({rss / m['flows'] / 1024:.1f} KiB per flow), "
            f"{m['rss_total'] / 2**20:,.0f} MiB in all, fed in {m['seconds']:.1f} s"
            if rss is not None else "")
    return (f"open Responses flows ({m['events']}-event text response, not closed): "
            f"{m['kib']:.1f} KiB retained per flow (tracemalloc; target ≤ "
            f"{MAX_KIB_PER_OPEN_FLOW}: {verdict(m['kib'] <= MAX_KIB_PER_OPEN_FLOW)}), "
            f"{m['kib_read']:.1f} KiB with flow.response read and cached{held}")


def status_vs_delta_note(n: int, rounds: int) -> str:
    """What a status event costs next to a text delta: ``n`` flows fed the 20-event
    text response one event at a time, each event timed across the flows (fastest
    of ``rounds``); the mean over the 8 status events and over the 12 deltas. In CPU
    time: an interval longer than a time slice of a loaded machine otherwise
    includes waiting for other processes, and a status event's interval is longer."""
    blocks = [b + b"\n\n" for b in text_response(12, seed=7).split(b"\n\n") if b]
    deltas = [b.split(b"\n", 1)[0].endswith(b".delta") for b in blocks]
    best = [math.inf] * len(blocks)
    for _ in range(rounds):
        flows = [ResponseFlow() for _ in range(n)]
        gc.collect()
        for i, block in enumerate(blocks):
            start = time.process_time()
            for flow in flows:
                flow.feed_sse(block)
            best[i] = min(best[i], (time.process_time() - start) / n)
        assert not flows[-1].violations, flows[-1].violations
    status = [t for t, d in zip(best, deltas, strict=True) if not d]
    delta = [t for t, d in zip(best, deltas, strict=True) if d]
    s_us, d_us = sum(status) / len(status) * 1e6, sum(delta) / len(delta) * 1e6
    return (f"status events vs text deltas (the 20-event text response, one event per "
            f"feed_sse, {n} flows, CPU time): a status event {s_us:.1f} µs, a delta {d_us:.1f} µs: "
            f"{s_us / d_us:.1f}x (target ≤ {MAX_STATUS_OVER_DELTA:g}: "
            f"{verdict(s_us / d_us <= MAX_STATUS_OVER_DELTA)})")


def subset_row(rows: list[Row]) -> Row | None:
    """The recordings the SDK consumes without raising, as one row: all three
    contenders on exactly the same bytes (the all-recordings row counts the SDK's
    time only until it raised)."""
    every = next((r for r in rows if r.name.startswith("all recordings")), None)
    run: SDKRun | None = every.last.get("sdk") if every is not None else None
    if every is None or run is None or not run.errors:
        return None
    failed = {n for n, _ in run.errors}
    kept = [n for n in range(len(every.parts)) if n not in failed]
    return Row(f"recordings the SDK completes ({len(kept)} files)",
               tuple(every.parts[n] for n in kept), False, tuple(every.names[n] for n in kept))


def profile_runflow(rows: list[Row], events: int = 20_000) -> None:
    """cProfile of the runflow contender, each row fed until about ``events``."""
    for row in rows:
        times = max(1, math.ceil(events / row.events))
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(times):
            run_runflow(row.chunks)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(16)
        print(f"\nprofile of runflow on {row.name} ({row.events} events x {times}), "
              "by own time:")
        lines = out.getvalue().splitlines()
        start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
        for line in lines[start:]:
            if line.strip():
                print("  " + line.replace(str(Path.cwd()) + "/", ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 round (CI smoke)")
    parser.add_argument("--rounds", type=int, help="timed rounds (default 5; --quick 1)")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of runflow on the generated rows and "
                             "the all-recordings row")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the rounds in this process's CPU time, not wall time "
                             "(steadier on a machine loaded by other jobs)")
    parser.add_argument("--short-only", action="store_true",
                        help="only the rows of many short streams and the status/delta "
                             "note (no long rows, recordings or memory row): under a minute")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="only the rows whose name contains TEXT (repeatable; e.g. "
                             "--only codex_backend --only image_generation), without the "
                             "memory row: a few rows' ratios in a minute")
    parser.add_argument("--keep", choices=("result", "state"), default="result",
                        help="what each contender keeps of every stream until its call "
                             "returns: the final response and the violations (default), "
                             "or the whole flow / ResponseStreamState")
    parser.add_argument("--child-flows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global CLOCK, KEEP
    KEEP = args.keep
    if args.cpu_time:
        CLOCK = time.process_time
    if args.child_flows:
        child_open_flows(args.child_flows)
        return 0
    cfg = QUICK if args.quick else DEFAULT
    if args.rounds:
        cfg = replace(cfg, rounds=args.rounds, sdk_rounds=min(cfg.sdk_rounds, args.rounds))
    wall = time.perf_counter()
    print("runflow Responses benchmark" + (" --quick (tiny sizes: timings are not meaningful)"
                                           if cfg.quick else ""))
    for line in machine():
        print("  " + line)
    print(f"  clock: {'CPU time of this process' if CLOCK is time.process_time else 'wall'}")
    print(f"  input: {CHUNK}-byte chunks; {cfg.rounds} round(s) round-robin (sdk: "
          f"{cfg.sdk_rounds}); fastest round, µs per SSE event; small rows fed repeatedly "
          f"(about {cfg.min_events:,} events per round)")
    kept = ("the whole flow / ResponseStreamState" if KEEP == "state" else
            "the final response and the violations (or the error)")
    print(f"  kept of each stream until a call returns (--keep {KEEP}): {kept}")

    rows, notes = build_rows(cfg, args.short_only)
    if args.only:
        rows = [r for r in rows if any(text in r.name for text in args.only)]
    recorded = [r.chunks[0] for r in rows if not r.generated and len(r.parts) == 1]
    warm = [chunked(text_response(30)), chunked(function_calls(3, 5)),
            chunked(reasoning_response(2, 5, 5))] + recorded + [
            chunked(p) for p in short_streams(8, seed=99)]
    for fn in CONTENDERS.values():  # imports, pydantic schemas, caches: off the clock
        fn(warm)
    single = [c for r in rows if len(r.parts) == 1 for c in r.chunks]
    notes.append(check_sdk_equivalence(single or [c for r in rows for c in r.chunks[:20]]))
    # Modules, schemas and the rows' bytes stay alive for the whole run: freezing
    # them makes the gc.collect() before each timed call scan only what is new
    # (0.2 s a call otherwise, with the openai types loaded).
    gc.collect()
    gc.freeze()

    measure(rows, cfg)
    extra = subset_row(rows)
    if extra is not None:
        extra.reps = max(1, math.ceil(cfg.min_events / extra.events))
        measure([extra], cfg)
        rows.append(extra)
    print()
    results = print_table(rows)
    notes += row_notes(rows)
    notes += [response_read_note(r) for r in rows
              if r.generated or r.name.startswith("all recordings")]
    notes += [streams_note(r) for r in rows if r.name.startswith("short")]
    notes.append(status_vs_delta_note(50 if cfg.quick else 500, cfg.rounds))
    if not args.short_only and not args.only:
        notes.append(open_flows_line(cfg.open_flows))
    if args.profile:
        profile_runflow([r for r in rows if r.generated]
                        + [r for r in rows if r.name.startswith("all recordings")])
    print()
    for key, target in (("floor", f"runflow/floor ≤ {MAX_RUNFLOW_OVER_FLOOR:g}"),
                        ("sdk", f"sdk/runflow ≥ {MIN_SDK_OVER_RUNFLOW:g}")):
        held = results[key]
        print(f"target {target}: {verdict(all(held))} "
              f"({sum(held)} of {len(held)} rows hold it)")
    print("timings never fail the run")
    for note in notes:
        print("note: " + note)
    print(f"wall time: {time.perf_counter() - wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
