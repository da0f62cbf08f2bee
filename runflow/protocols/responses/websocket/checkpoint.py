"""Checkpoints of a :class:`ConnectionFlow`: ``dump_connection`` / ``load_connection``.

The lanes, responses (each :class:`ResponseFlow` by its own ``to_json``), the
steering ledger, the violations, the flow's :class:`Limits` with the counts of
violations seen and suppressed under them, and the frame position are saved as JSON
under a format version; a restored flow goes on from the next frame as if never
stopped. Callbacks are not saved: register them again.

A checkpoint of format ``runflow.responses-ws/1`` (before the limits and counts were
saved) still loads, with the default limits and no counts, as it did."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from runflow.engine.checkpoint import CheckpointError
from runflow.engine.limits import Limits
from runflow.protocols.responses.flow import ResponseFlow
from runflow.protocols.responses.websocket.definition import MACHINES, WS_RESPONSES
from runflow.protocols.responses.websocket.flow import ConnectionFlow
from runflow.protocols.responses.websocket.records import (
    FrameViolation,
    LaneRecord,
    ResponseRecord,
    SteerRecord,
)

__all__ = ["FORMAT", "dump_connection", "load_connection"]

FORMAT = "runflow.responses-ws/2"
_READS = (FORMAT, "runflow.responses-ws/1")
_LIMITS = frozenset(f.name for f in fields(Limits))


def dump_connection(flow: ConnectionFlow) -> str:
    responses = []
    for r in flow.responses.values():
        responses.append({
            "id": r.id, "lane": r.lane, "flow": r.flow.to_json(), "created_at": r.created_at,
            "previous_response_id": r.previous_response_id, "frames": r.frames,
            "next_sequence": r.next_sequence, "setup": sorted([s, list(p)] for s, p in r.setup),
            "items": sorted(r.items), "held": r.held, "ended": r.ended,
            "successor_of": r.successor_of, "committed": r.committed})
    lanes = [{"id": ln.id, "state": ln.state, "queued": ln.queued,
              "response": ln.response.id if ln.response is not None else None,
              "responses": ln.responses, "steered_from": ln.steered_from}
             for ln in flow.lanes.values()]
    return json.dumps({
        "format": FORMAT, "state": flow.state, "index": flow.index, "lanes": lanes,
        "responses": responses, "steers": [asdict(s) for s in flow.steers],
        "violations": [v.model_dump(mode="json") for v in flow.violations],
        "errors": flow.errors, "limits": flow.limits.to_dict(),
        "repeats": [[code, lane, count] for (code, lane), count in flow.repeats.items()],
        "suppressed": flow.suppressed})


def load_connection(text: str | bytes) -> ConnectionFlow:
    """Raises :class:`~runflow.engine.checkpoint.CheckpointError` on anything off."""
    try:
        data = json.loads(text)
        if data.get("format") not in _READS:
            raise CheckpointError(f"not a {FORMAT} checkpoint")
        flow = ConnectionFlow(_limits(data.get("limits", {})))
        flow.repeats = _repeats(data.get("repeats", []))
        flow.suppressed = _suppressed(data.get("suppressed", {}))
        _state(data["state"], "connection")
        flow.connection.state = data["state"]
        flow.index = int(data["index"])
        for raw in data["responses"]:
            record = ResponseRecord(
                raw["id"], raw["lane"], ResponseFlow.from_json(raw["flow"],
                                                               protocol=WS_RESPONSES),
                raw["created_at"], raw["previous_response_id"], list(raw["frames"]),
                raw["next_sequence"], {(s, tuple(p)) for s, p in raw["setup"]},
                set(raw["items"]), raw["held"], raw["ended"], raw["successor_of"],
                list(raw["committed"]))
            flow.responses[record.id] = record
        for raw in data["lanes"]:
            _state(raw["state"], "lane")
            flow.lanes[raw["id"]] = LaneRecord(
                raw["id"], raw["state"], raw["queued"],
                flow.responses[raw["response"]] if raw["response"] is not None else None,
                list(raw["responses"]), raw["steered_from"])
        for raw in data["steers"]:
            _state(raw["state"], "steer")
            flow.steers.append(SteerRecord(**raw))
        flow.violations = [FrameViolation.model_validate(v) for v in data["violations"]]
        flow.errors = list(data["errors"])
    except CheckpointError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise CheckpointError(f"a broken {FORMAT} checkpoint: {exc!r}"[:300]) from None
    return flow


def _limits(saved: Any) -> Limits:
    if type(saved) is not dict or not set(saved) <= _LIMITS:
        raise CheckpointError(f"limits: expected an object of {sorted(_LIMITS)}")
    for name, value in saved.items():
        if type(value) is not int or value <= 0:
            raise CheckpointError(f"limits.{name}: expected a positive integer, got "
                                  f"{str(value)[:40]!r}")
    return Limits(**saved)


def _repeats(saved: Any) -> dict[tuple[str, str | None], int]:
    """``[[code, lane, count], ...]`` back to :attr:`ConnectionFlow.repeats`."""
    if type(saved) is not list:
        raise CheckpointError("repeats: expected a list")
    out: dict[tuple[str, str | None], int] = {}
    for row in saved:
        if (type(row) is not list or len(row) != 3 or type(row[0]) is not str
                or not (row[1] is None or type(row[1]) is str)):
            raise CheckpointError(f"repeats: {str(row)[:60]} is not [code, lane, count]")
        out[(row[0], row[1])] = _count(row[2], "repeats")
    return out


def _suppressed(saved: Any) -> dict[str, int]:
    if type(saved) is not dict:
        raise CheckpointError("suppressed: expected an object")
    return {code: _count(count, "suppressed") for code, count in saved.items()}


def _count(value: Any, where: str) -> int:
    if type(value) is not int or value < 0:
        raise CheckpointError(f"{where}: a count of {str(value)[:40]!r}")
    return value


def _state(state: Any, machine: str) -> None:
    if state not in MACHINES[machine].states:
        raise CheckpointError(f"{machine} state {str(state)[:40]!r} is not a state")
