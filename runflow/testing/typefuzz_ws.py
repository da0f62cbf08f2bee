"""Type-confusion fuzzing of the Responses WebSocket mode: every JSON value at every
path of every frame, client and server, replaced by a wrong type.

The seed conversations (:func:`ws_seeds`) hold every frame type a
:class:`~runflow.protocols.responses.websocket.ConnectionFlow` takes: the client's
``response.create`` and ``response.steer``, and the server's response events on
several lanes (``stream_id``), ``response.steer.accepted`` / ``.pending`` /
``.failed``, a steered response and its successor, and ``error`` frames. Each value
at each JSON path of each frame is replaced by each of the Responses target's values
(:data:`~runflow.testing.typefuzz_target.RESPONSES_FUZZ`: wrong types, huge, deep,
odd unicode, and JSON text only: ``NaN``, ``1e999``, a lone surrogate..., and a list
nested 100,000 deep, which made ``receive`` raise ``RecursionError``), and the
conversation is fed in one of two ways (``Mode``):

* ``frames`` -- each frame as the dict a WebSocket client parsed (a raw-text value:
  that frame as its JSON text);
* ``text`` -- every frame as the JSON text on the wire, as UTF-8 bytes.

Anything ``send``, ``receive``, ``close`` or reading the flow's records raises is an
untyped exception (grouped by site, as :mod:`runflow.testing.typefuzz` does). The
flow is *inconsistent* (:func:`ws_problems`) when a violation is not a typed
:class:`~runflow.protocols.responses.websocket.records.FrameViolation` of a known
code at a frame that exists; when what the frames before the mutated one said
changed (violations, responses, the frames each response's flow took, lanes and
steers: nothing already received is lost); when a response's own flow is
inconsistent (:func:`~runflow.testing.typefuzz.inconsistencies`); when its checkpoint
(``dump_connection``) does not load back as it was saved; when the types layer
(what ``runflow conform`` runs over each response's frames: :mod:`runflow.testing.typefuzz_types`,
once per mutation, on its ``frames`` input) gives a finding not naming a JSON path of
its frame, or works past its bounds; when a frame naming a
key twice (:mod:`runflow.testing.typefuzz_keys`' ``key dup``), fed as wire text,
gives another connection than the object ``json.loads`` makes of the same text
(what a WebSocket client in Python parses: both keep the last of duplicate keys,
:func:`same_as_json_loads`); or when an input run under ``tracemalloc`` (every
``memory_every``-th) peaks past :data:`MEMORY_BOUND`.
"""

from __future__ import annotations

import json
import random
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from runflow.engine.jsonparse import dump_json
from runflow.engine.violations import Code
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.websocket import ConnectionFlow
from runflow.protocols.responses.websocket.checkpoint import dump_connection, load_connection
from runflow.protocols.responses.websocket.definition import WsCode
from runflow.protocols.responses.websocket.records import FrameViolation
from runflow.server.responses_scenarios import ResponseRequest, script_response
from runflow.server.scenarios import ScenarioOptions
from runflow.testing.typefuzz import (
    Escape,
    Input,
    Result,
    TypeFuzzReport,
    escape_site,
    inconsistencies,
    mutated_text,
    nth_input,
)
from runflow.testing.typefuzz_corpus import json_paths, key_sites, space_size
from runflow.testing.typefuzz_layers import read_everything
from runflow.testing.typefuzz_target import (
    MEMORY_BOUND,
    RESPONSES_FUZZ,
    JSONPath,
    Mode,
    Target,
)
from runflow.testing.typefuzz_types import TypesRun, tapped_event, types_problems

__all__ = ["MEMORY_BOUND", "WS_FUZZ", "WS_MODES", "Conversation", "WsCorpus", "run_ws_input",
           "run_ws_typefuzz", "same_as_json_loads", "ws_corpus", "ws_problems", "ws_seeds"]

Frame = tuple[str, dict[str, Any]]
"""``("send" | "receive", event)``."""

WS_MODES: Final[tuple[Mode, ...]] = ("frames", "text")
WS_RAW: Final = (("100k-deep list", "[" * 100_000 + "]" * 100_000),)
"""Frames are parsed by the ConnectionFlow itself: nesting far past any parser's bound."""
WS_FUZZ: Final = Target("websocket", RESPONSES_FUZZ.flow, RESPONSES_FUZZ.values,
                        (*RESPONSES_FUZZ.raw_values, *WS_RAW), WS_MODES, layers=False,
                        list_items=2)
"""The values of the Responses target and :data:`WS_RAW`; the flow is a
ConnectionFlow (its own runner)."""
_KNOWN_CODES: Final = {c.value for c in WsCode} | {c.value for c in Code}


# --------------------------------------------------------------------------- #
# the seed conversations
# --------------------------------------------------------------------------- #
def _response(rid: str, status: str = "in_progress", **fields: Any) -> dict[str, Any]:
    return {"id": rid, "object": "response", "status": status, "output": [], **fields}


def _scripted(scenario: str, rid: str, lane: str | None, words: int = 3) -> list[dict[str, Any]]:
    """One response of the local server's ``scenario`` on ``lane``, its ids ``rid``."""
    text = " ".join(f"w{i}" for i in range(words))
    tool = {"type": "function", "name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
    events = script_response(scenario, ResponseRequest(
        {"model": "gpt-4o", "input": "hi", "tools": [tool]},
        ScenarioOptions(text=text, chunk_size=0)), clock=lambda: 1_700_000_000)
    out = []
    for event in events:
        frame = json.loads(json.dumps(event).replace(events[0]["response"]["id"], rid))
        if lane is not None:
            frame["stream_id"] = lane
        out.append(frame)
    return out


def _create(lane: str | None, **fields: Any) -> Frame:
    body = {"type": "response.create", "model": "gpt-4o", "input": "hi", **fields}
    if lane is not None:
        body["stream_id"] = lane
    return ("send", body)


def _interleaved(*lanes: list[dict[str, Any]]) -> list[Frame]:
    longest = max(map(len, lanes))
    return [("receive", lane[i]) for i in range(longest) for lane in lanes if i < len(lane)]


def _steer_event(kind: str, target: str, seq: int, **fields: Any) -> Frame:
    body = {"type": f"response.steer.{kind}", "sequence_number": seq, "stream_id": "a",
            **fields}
    body.setdefault("steer", {"id": "st_1", "previous_response_id": target})
    return ("receive", body)


def ws_seeds() -> dict[str, list[Frame]]:
    """Conversations that hold every frame type the ConnectionFlow takes."""
    lanes = [_create("a"), _create("b"), _create(None),
             *_interleaved(_scripted("text", "resp_a", "a"),
                           _scripted("reasoning", "resp_b", "b"),
                           _scripted("parallel_functions", "resp_c", None))]
    steered = [
        _create("a"), ("receive", {"type": "response.created", "sequence_number": 0,
                                   "stream_id": "a", "response": _response("r1")}),
        ("send", {"type": "response.steer", "previous_response_id": "r1", "input": "more"}),
        _steer_event("accepted", "r1", 1),
        ("receive", {"type": "response.incomplete", "sequence_number": 1, "stream_id": "a",
                     "response": _response("r1", "incomplete",
                                           incomplete_details={"reason": "steered"})}),
        ("receive", {"type": "response.created", "sequence_number": 0, "stream_id": "a",
                     "response": _response("r2", previous_response_id="r1")}),
        ("send", {"type": "response.steer", "previous_response_id": "r2", "input": "again"}),
        _steer_event("accepted", "r2", 1, steer={"id": "st_2", "previous_response_id": "r2"}),
        ("receive", {"type": "response.completed", "sequence_number": 1, "stream_id": "a",
                     "response": _response("r2", "completed")}),
        _steer_event("pending", "r2", 2, steer={"id": "st_2", "previous_response_id": "r2"},
                     reason="waiting_for_required_input", required_input=[{"type": "x"}]),
        _steer_event("failed", "r2", 3, steer={"id": "st_2", "previous_response_id": "r2",
                                               "input": "again"},
                     error={"code": "successor_creation_failed", "message": "no",
                            "type": "invalid_request_error"}),
    ]
    refused = [
        _create(None, previous_response_id="gone"),
        ("receive", {"type": "error", "status": 400, "error": {
            "type": "invalid_request_error", "code": "previous_response_not_found",
            "message": "Previous response 'gone' not found.", "param": "previous_response_id"}}),
        _create("z"), *[("receive", e) for e in _scripted("failed", "resp_f", "z")],
        ("send", {"type": "response.steer", "previous_response_id": "resp_f", "input": "x"}),
        ("receive", {"type": "response.steer.failed", "stream_id": "z", "steer": {
            "previous_response_id": "resp_f", "input": "x"}, "error": {
            "code": "response_not_active", "message": "no", "type": "invalid_request_error"}}),
    ]
    return {"lanes": lanes, "steered": steered, "refused": refused}


# --------------------------------------------------------------------------- #
# the corpus
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Conversation:
    """One seed conversation and every (frame, JSON path) that can be replaced."""

    name: str
    frames: tuple[Frame, ...]
    paths: tuple[tuple[int, JSONPath], ...]
    objects: tuple[tuple[int, JSONPath], ...] = ()
    keyed: tuple[tuple[int, JSONPath], ...] = ()
    """Where key mutations apply (:func:`~runflow.testing.typefuzz_corpus.key_sites`)."""


@dataclass(frozen=True)
class WsCorpus:
    conversations: tuple[Conversation, ...]
    target: Target = WS_FUZZ

    @property
    def size(self) -> int:
        return space_size(self.conversations, self.target)


def ws_corpus(seeds: dict[str, list[Frame]] | None = None,
              target: Target = WS_FUZZ) -> WsCorpus:
    out = []
    for name, frames in (ws_seeds() if seeds is None else seeds).items():
        paths = tuple((i, p) for i, (_, data) in enumerate(frames)
                      for p in json_paths(data, target.list_items))
        objects, keyed = key_sites(paths, [data for _, data in frames].__getitem__)
        out.append(Conversation(name, tuple(frames), paths, objects, keyed))
    return WsCorpus(tuple(out), target)


# --------------------------------------------------------------------------- #
# one input
# --------------------------------------------------------------------------- #
def _payloads(conv: Conversation, inp: Input | None, target: Target) -> list[Any]:
    """What ``send``/``receive`` get for each frame: the clean conversation, or the
    mutated one (``inp``)."""
    mode = inp.mode if inp is not None else "frames"
    out: list[Any] = []
    for i, (_, data) in enumerate(conv.frames):
        if inp is not None and i == inp.index:
            text = mutated_text(data, inp.path, inp.value, target)
            raw = target.raw(inp.value) is not None
            if mode == "text":
                out.append(text.encode("utf-8", "surrogatepass"))
            else:
                out.append(text if raw else json.loads(text))
        elif mode == "text":
            out.append(dump_json(data)[0].encode())
        else:
            out.append(data)
    return out


def _feed(conv: Conversation, payloads: Sequence[Any]) -> ConnectionFlow:
    flow = ConnectionFlow()
    for (direction, _), payload in zip(conv.frames, payloads, strict=True):
        if direction == "send":
            flow.send(payload)
        else:
            flow.receive(payload)
    flow.close()
    return flow


def _read(flow: ConnectionFlow) -> int:
    """Read every record and view a user reads (raises whatever they raise); returns
    how much text that was, so nothing is read for nothing."""
    size = len(flow.state) + len(flow.errors_only) + len(flow.errors)
    size += sum(len(str(v)) for v in flow.violations)
    for record in flow.responses.values():
        read_everything(record.flow)
        with warnings.catch_warnings():  # a lone surrogate is saved as U+FFFD, and says so
            warnings.simplefilter("ignore", UnicodeWarning)
            size += len(record.flow.to_json())
    for lane in flow.lanes.values():
        size += len(repr((lane.state, lane.queued, lane.responses)))
    for steer in flow.steers:
        size += len(repr((steer.state, steer.id, steer.error_code, steer.required_input)))
    return size


def _said(v: FrameViolation) -> tuple[str, int, str, str | None, str | None]:
    return (v.code, v.index, v.direction, v.lane, v.response_id)


def _before(flow: ConnectionFlow, index: int) -> Any:
    """What the frames before ``index`` said: their violations, the responses they
    created (and which of those frames each one's flow took), lanes and steers."""
    early = {rid for rid, r in flow.responses.items() if r.created_at < index}
    return (
        [_said(v) for v in flow.violations if v.index < index],
        {rid: [f for f in r.frames if f < index] for rid, r in flow.responses.items()
         if r.created_at < index},
        sorted((str(k), [r for r in v.responses if r in early])
               for k, v in flow.lanes.items() if any(r in early for r in v.responses)),
        [(s.number, s.target) for s in flow.steers if s.frame < index],
    )


def ws_problems(flow: ConnectionFlow, clean: ConnectionFlow, index: int,
                frames: int) -> list[str]:
    """What is inconsistent about ``flow`` (the mutated frame at ``index``) against
    ``clean`` (see the module docstring)."""
    bad = []
    for v in flow.violations:
        if not isinstance(v, FrameViolation) or v.code not in _KNOWN_CODES:
            bad.append(f"untyped violation {v!r}"[:200])
        elif not 0 <= v.index <= frames:
            bad.append(f"violation at frame {v.index} of {frames}: {v}")
    if _before(flow, index) != _before(clean, index):
        bad.append(f"what frames before #{index} said changed")
    for rid, record in flow.responses.items():
        bad += [f"response {rid}: {p}" for p in inconsistencies(record.flow)]
    return bad


def _saved(flow: ConnectionFlow) -> str:
    with warnings.catch_warnings():  # lone surrogates are saved as U+FFFD, and say so
        warnings.simplefilter("ignore", UnicodeWarning)
        return dump_connection(flow)


def same_as_json_loads(conv: Conversation, payloads: Sequence[Any], index: int,
                       saved: str) -> bool:
    """Whether the connection fed ``payloads`` (wire text, frame ``index`` naming a key
    twice), saved as ``saved``, equals one fed the same frames with frame ``index`` as
    the object ``json.loads`` makes of its text."""
    frames = list(payloads)
    frames[index] = json.loads(frames[index])
    return _saved(_feed(conv, frames)) == saved


def _types(conv: Conversation, flow: ConnectionFlow, index: int, text: str) -> TypesRun:
    """The types layer over each response's frames, as ``runflow conform`` grades a
    connection (frame ``index`` being the JSON text ``text``)."""
    run = TypesRun()
    for record in flow.responses.values():
        own = [tapped_event(RESPONSES, i, None, conv.frames[i][1], text if i == index else None)
               for i in record.frames if i < len(conv.frames)]
        one = types_problems(RESPONSES, own)
        run.problems += one.problems
        run.findings += one.findings
        run.calls += one.calls
        run.most_errors = max(run.most_errors, one.most_errors)
    return run


def _verdict(flow: ConnectionFlow) -> Counter[tuple[str, str | None]]:
    return Counter((v.code, v.event) for v in flow.violations)


def run_ws_input(conv: Conversation, inp: Input, clean: ConnectionFlow,
                 target: Target = WS_FUZZ, measure: bool = False) -> tuple[Result, int | None]:
    """Feed one input; its result, and its memory peak when ``measure``."""
    peak = None
    if measure:
        tracemalloc.start()
    payloads = _payloads(conv, inp, target)
    try:
        flow = _feed(conv, payloads)
        _read(flow)
    except Exception as exc:  # counting these is the point
        message = str(exc).splitlines()[0][:200] if str(exc) else ""
        return Result(escape=Escape(type(exc).__name__, escape_site(exc), message, inp)), None
    finally:
        if measure:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    problems = ws_problems(flow, clean, inp.index, len(conv.frames))
    mutation = target.key(inp.value)
    typed = None
    try:
        if target.types and inp.mode == target.modes[0]:  # once per mutation
            typed = _types(conv, flow, inp.index, mutated_text(
                conv.frames[inp.index][1], inp.path, inp.value, target))
            problems += typed.problems
        saved = _saved(flow)
        if _saved(load_connection(saved)) != saved:
            problems.append("the checkpoint does not load back as it was saved")
        if (mutation is not None and mutation.duplicate and inp.mode == "text"
                and not same_as_json_loads(conv, payloads, inp.index, saved)):
            problems.append("the wire text and the object json.loads makes of it give "
                            "different connections")
    except Exception as exc:  # counting these is the point
        message = str(exc).splitlines()[0][:200] if str(exc) else ""
        return Result(escape=Escape(type(exc).__name__, escape_site(exc), message, inp)), peak
    if peak is not None and peak > MEMORY_BOUND:
        problems.append(f"memory peak {peak / 2**20:.1f} MiB over {MEMORY_BOUND / 2**20} MiB")
    return Result(detected=_verdict(flow) != _verdict(clean),
                  inconsistent=tuple(problems), checkpointed=True, typed=typed), peak


def run_ws_typefuzz(corpus: WsCorpus, budget: int, seed: int = 0, *,
                    progress: Callable[[int, int, TypeFuzzReport], None] | None = None,
                    every: int = 500, memory_every: int = 1000) -> TypeFuzzReport:
    """Feed ``budget`` inputs picked with ``seed`` (all, in order, if the corpus holds
    no more); every ``memory_every``-th under ``tracemalloc``."""
    total = corpus.size
    picks: Sequence[int] = (range(total) if budget >= total else
                            sorted(random.Random(seed).sample(range(total), budget)))
    by_name = {c.name: c for c in corpus.conversations}
    clean = {c.name: _feed(c, _payloads(c, None, corpus.target))
             for c in corpus.conversations}
    given = {c.name: repr(c.frames) for c in corpus.conversations}
    report = TypeFuzzReport(space=total, sources=len(corpus.conversations),
                            labels=corpus.target.labels)
    for done, n in enumerate(picks, start=1):
        inp = nth_input(corpus.conversations, corpus.target, n)
        result, peak = run_ws_input(by_name[inp.source], inp, clean[inp.source],
                                    corpus.target, measure=done % memory_every == 0)
        report.add(inp, replace(result, peak=peak))
        if progress is not None and (done % every == 0 or done == len(picks)):
            progress(done, len(picks), report)
    report.corrupted = [c.name for c in corpus.conversations if repr(c.frames) != given[c.name]]
    return report
