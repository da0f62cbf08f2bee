"""Checkpoints: save a flow mid-run and continue it in another process.

A checkpoint is plain JSON holding everything the flow has built: every entity's
state, last full object and delta accumulators, the violations, the input
position (event index, bytes the SSE decoder holds, how the last stream ended)
and the settings. Callbacks are code and are not saved: register them again on
the restored flow.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from openai.types.shared import ErrorObject

from .content import JSON, Part, ToolCall
from .entities import Tracker
from .limits import Limits
from .protocol import PROTOCOL, Entity
from .sse import RawEvent
from .view import StateChange
from .violations import Violation

if TYPE_CHECKING:
    from .flow import RunFlow

__all__ = ["CheckpointError", "dump_flow", "load_flow"]

FORMAT = "runflow.checkpoint"
VERSION = 1

F = TypeVar("F", bound="RunFlow")


class CheckpointError(ValueError):
    """The text is not a runflow checkpoint this version can read."""


def dump_flow(flow: RunFlow) -> JSON:
    return {
        "format": FORMAT,
        "version": VERSION,
        "settings": {
            "strict": flow.strict,
            "callback_errors": flow.callback_errors,
            "limits": flow.limits.to_dict(),
        },
        "index": flow._index,
        "violations": [v.model_dump(mode="json") for v in flow.violations],
        "error": flow.error.model_dump(mode="json") if flow.error is not None else None,
        "thread": _dump_tracker(flow._thread),
        "run": _dump_tracker(flow._run),
        "steps": [_dump_tracker(t) for t in flow._steps.values()],
        "messages": [_dump_tracker(t) for t in flow._messages.values()],
        "run_id": flow._run_id,
        "thread_id": flow._thread_id,
        "announced": sorted(flow._announced),
        "capped": sorted(flow._capped),
        "stream_end": flow._stream_end,
        "continues": flow._continues,
        "stream_start": flow._stream_start,
        "stray_reported": flow._stray_reported,
        "ending": flow._ending,
        "closed": flow._closed,
        "decoder": flow._decoder.state(),
        "backlog": [
            [r.event, None if r.data is None else r.data.decode("latin-1"), r.offset]
            for r in flow._backlog
        ],
        "history": [
            [c.index, c.entity.value, c.id, c.event, c.source, c.dest] for c in flow.history
        ],
    }


def load_flow(cls: type[F], text: str | bytes, **overrides: Any) -> F:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CheckpointError(f"checkpoint is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"not a runflow checkpoint (expected format {FORMAT!r})")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint version {data.get('version')!r} is not supported (expected {VERSION})"
        )
    try:
        settings = dict(data["settings"])
        settings["limits"] = Limits(**settings["limits"])
        settings.update(overrides)
        flow = cls(**settings)
        flow._index = int(data["index"])
        flow.violations = [Violation.model_validate(v) for v in data["violations"]]
        flow.error = ErrorObject.construct(**data["error"]) if data["error"] else None
        flow._thread = _load_tracker(data["thread"], Entity.THREAD)
        flow._run = _load_tracker(data["run"], Entity.RUN)
        flow._steps = {t.id: t for t in (_load_tracker(d, Entity.STEP) for d in data["steps"]) if t}
        flow._messages = {
            t.id: t for t in (_load_tracker(d, Entity.MESSAGE) for d in data["messages"]) if t
        }
        flow._run_id = data["run_id"]
        flow._thread_id = data["thread_id"]
        flow._announced = set(data["announced"])
        flow._capped = set(data["capped"])
        flow._stream_end = _one_of("stream_end", data["stream_end"], (None, "done", "error"))
        flow._continues = bool(data["continues"])
        flow._stream_start = int(data["stream_start"])
        flow._stray_reported = bool(data["stray_reported"])
        flow._ending = _one_of(
            "ending", data["ending"], (None, "done", "error", "truncated")
        )
        flow._closed = bool(data["closed"])
        flow._decoder.restore(data["decoder"])
        flow._backlog = [
            RawEvent(e, None if d is None else str(d).encode("latin-1"), int(o))
            for e, d, o in data["backlog"]
        ]
        flow.history = [
            StateChange(int(i), Entity(e), str(oid), str(ev), str(src), str(dst))
            for i, e, oid, ev, src, dst in data["history"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint is incomplete or damaged: {exc!r}") from exc
    return flow


def _dump_tracker(t: Tracker | None) -> JSON | None:
    if t is None:
        return None
    return {
        "entity": t.entity.value,
        "id": t.id,
        "state": t.state,
        "raw": t.raw,
        "step_type": t.step_type,
        "deltas": t.deltas,
        "size": t.size,
        "status_override": t.status_override,
        "recovered": t.recovered,
        "parts": [
            {
                "type": p.type,
                "value": p.value,
                "annotations": [[i, a] for i, a in p.annotations.items()],
                "extra": p.extra,
            }
            for p in t.parts
        ],
        "calls": [
            {
                "type": c.type,
                "id": c.id,
                "name": c.name,
                "text": c.text,
                "output": c.output,
                "outputs": c.outputs,
                "extra": c.extra,
            }
            for c in t.calls
        ],
    }


def _one_of(field: str, value: Any, allowed: tuple[Any, ...]) -> Any:
    if value not in allowed:
        raise CheckpointError(f"checkpoint field {field!r} is {value!r}, not one of {allowed}")
    return value


def _load_tracker(d: JSON | None, entity: Entity) -> Tracker | None:
    if d is None:
        return None
    if d["entity"] != entity.value:
        raise CheckpointError(
            f"checkpoint holds a {d['entity']!r} {d['id']!r} where a {entity.value} belongs"
        )
    t = Tracker(entity, str(d["id"]))
    t.state = _one_of(f"{entity.value} {t.id} state", d["state"],
                      PROTOCOL.tables[entity].states)
    t.raw = dict(d["raw"])
    t.step_type = d["step_type"]
    t.deltas = int(d["deltas"])
    t.size = int(d["size"])
    t.status_override = d["status_override"]
    t.recovered = bool(d["recovered"])
    for p in d["parts"]:
        part = Part(str(p["type"]))
        part.reset(p["value"])
        part.annotations = {int(i): dict(a) for i, a in p["annotations"]}
        part.extra = dict(p["extra"])
        t.parts.append(part)
    for c in d["calls"]:
        call = ToolCall(str(c["type"]))
        call.id, call.name, call.output = c["id"], c["name"], c["output"]
        call.reset(c["text"])
        call.outputs = [dict(o) for o in c["outputs"]]
        call.extra = dict(c["extra"])
        t.calls.append(call)
    return t
