"""WebSocket-mode transcripts on the command line: ``check``, ``replay`` and
``watch`` of a HAR or JSONL transcript (:mod:`runflow.protocols.responses.websocket.
transcript`).

A transcript is not an SSE recording: it is frames in two directions over one or more
connections, run by a :class:`ConnectionFlow` rather than a registry row's
:class:`~runflow.engine.flow.Flow`. So the subcommands ask :func:`read_transcript`
first (detected, or chosen with ``--protocol responses-ws``) and hand the file to
this module when it is one; everything else keeps the recording path. The exit
codes are the shared ones: 0 ok, 1 findings, 2 unusable input.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runflow.cli import EXIT_OK, EXIT_VIOLATIONS, CommandError
from runflow.cli.common import TRANSCRIPT_PROTOCOL, write_json

if TYPE_CHECKING:
    from runflow.cli.output import Output
    from runflow.conform.findings import Finding
    from runflow.conform.websocket_layers import ResponseGroups
    from runflow.protocols.responses.websocket import ConnectionFlow, FrameViolation
    from runflow.protocols.responses.websocket.transcript import Frame

__all__ = ["TRANSCRIPT_PROTOCOL", "Checked", "check_report", "finding_line", "frame_events",
           "print_check", "read_transcript", "replay_transcript", "watch_transcript"]


Connections = list[list["Frame"]]


def read_transcript(path: str, args: argparse.Namespace) -> Connections | None:
    """The connections of ``path`` when it is a transcript: chosen with ``--protocol
    responses-ws`` (then anything else is a :class:`CommandError`), or detected
    (:func:`is_transcript`). None: not a transcript, read it as a recording.
    Standard input is read as a transcript only when chosen (it can be read once)."""
    from runflow.protocols.responses.websocket.transcript import (
        TranscriptError,
        is_transcript,
        parse_transcript,
    )

    chosen = getattr(args, "protocol", "auto") == TRANSCRIPT_PROTOCOL
    if path == "-" and not chosen:
        return None
    if not chosen and not _may_be_transcript(path):
        return None  # a recording: not read twice, whatever its size
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        if not chosen:
            return None  # the recording reader says why, in its words
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise CommandError(f"{path}: cannot read a transcript ({reason})") from None
    if not chosen and not is_transcript(text):
        return None
    if getattr(args, "profile", None):
        raise CommandError(f"{path}: --profile judges SSE streams, not a WebSocket transcript")
    try:
        return parse_transcript(text, path)
    except TranscriptError as exc:
        raise CommandError(str(exc)) from None


_HEAD = 64 * 1024
"""How much of a file the first look reads: a JSONL transcript's first frame, or the
start of a HAR document (a HAR is one JSON document, read whole once it looks like one)."""


def _may_be_transcript(path: str) -> bool:
    """A first look at the head only: the start of a HAR document, or a first line
    that is a frame. An SSE recording (of any size) is turned away here, unread."""
    from runflow.protocols.responses.websocket.transcript import is_transcript

    try:
        with open(path, "rb") as file:
            head = file.read(_HEAD).decode("utf-8", "ignore")
    except OSError:
        return False  # the recording reader says why, in its words
    stripped = head.lstrip()
    if stripped.startswith("{") and '"log"' in stripped[:200]:
        return True
    first, newline, _ = stripped.partition("\n")
    if not newline and len(head) >= _HEAD:
        return True  # a first line longer than the look: the whole read decides
    return is_transcript(first)


def _flows(connections: Connections) -> list[ConnectionFlow]:
    from runflow.protocols.responses.websocket.transcript import check_frames

    return [check_frames(frames) for frames in connections]


def _ok(flows: list[ConnectionFlow], *, strict: bool) -> bool:
    every = [v for flow in flows for v in flow.violations]
    return not every if strict else all(v.severity != "error" for v in every)


# -- check ------------------------------------------------------------------------------
@dataclass
class Checked:
    """A checked transcript: each connection's flow, and its responses' findings (the
    layers of an SSE stream: :mod:`runflow.conform.websocket_layers`), per connection
    each response's grouped by root cause."""

    flows: list[ConnectionFlow]
    findings: list[list[ResponseGroups]]


def check_report(path: str, connections: Connections, *, strict: bool = False,
                 types: bool = False) -> tuple[bool, dict[str, Any], Checked]:
    """Whether the transcript is ok, its ``--json`` object, and what was checked: each
    connection's violations and its responses' findings grouped by root cause (the
    grammar's, payload and order findings; with ``types``, the SDK's types too), each
    naming its frame. The grammar's findings are the connection's violations too, so
    only the other layers' findings count beside those."""
    from runflow.conform.findings import others_ok
    from runflow.conform.websocket_layers import response_groups
    from runflow.protocols.responses.websocket.transcript import ending

    flows = _flows(connections)
    found = [response_groups(flow, frames, types=types, number=n)
             for n, (flow, frames) in enumerate(zip(flows, connections, strict=True))]
    ok = _ok(flows, strict=strict) and others_ok(
        (g for per in found for response in per for g in response.groups), strict=strict)
    return ok, {
        "file": path,
        "ok": ok,
        "protocol": TRANSCRIPT_PROTOCOL,
        "frames": sum(flow.index for flow in flows),
        "connections": [
            {"frames": flow.index, "state": flow.state, "ending": ending(flow),
             "lanes": {_lane(k): lane.state for k, lane in flow.lanes.items()},
             "responses": {rid: rec.flow.status for rid, rec in flow.responses.items()},
             "steers": len(flow.steers)}
            for flow in flows],
        "violations": [
            {"connection": n, "index": v.index, "direction": v.direction, "event": v.event,
             "code": v.code, "severity": v.severity, "lane": v.lane,
             "response_id": v.response_id, "source": v.source, "message": v.message}
            for n, flow in enumerate(flows) for v in flow.violations],
        "findings": [
            {"connection": n, "response_id": response.response_id, **_finding_json(g.root),
             "consequences": [_finding_json(f) for f in g.consequences]}
            for n, per in enumerate(found) for response in per for g in response.groups],
    }, Checked(flows, found)


def _finding_json(f: Finding) -> dict[str, Any]:
    return {"index": f.index, "event": f.event, "rule": f.rule, "severity": f.severity,
            "entity": f.entity, "message": f.message}


def print_check(path: str, ok: bool, checked: Checked, out: Output) -> None:
    """``check``'s lines for one transcript: a verdict, then each connection's own
    violations (its rules: lanes, sends, frames, the end) by frame, and each response's
    findings grouped by root cause as ``check`` prints an SSE stream's (errors first,
    the consequences under their root), its grammar's among them."""
    from runflow.conform.report_text import consequence_lines
    from runflow.protocols.responses.websocket.transcript import connection_line

    flows = checked.flows
    groups = [g for per in checked.findings for response in per for g in response.groups]
    every = [*(v.severity for flow in flows for v in flow.violations),
             *(f.severity for g in groups for f in g.members if f.layer != "grammar")]
    errors = every.count("error")
    verdict = out.style("ok", "green") if ok else out.style("NOT OK", "red", "bold")
    counts = f", {errors} error(s), {len(every) - errors} warning(s)" if every else ""
    found = sum(len(g.members) for g in groups)
    if groups and len(groups) < found:
        counts += f", {len(groups)} root cause(s) of {found} response finding(s)"
    out.print(f"{path}: {verdict} ({TRANSCRIPT_PROTOCOL}, {len(flows)} connection(s){counts})")
    for n, (flow, responses) in enumerate(zip(flows, checked.findings, strict=True)):
        out.print(f"  connection {n}: {connection_line(flow)}")
        for v in flow.violations:
            if v.source == "connection":  # a response's are in its groups below
                out.print(f"    {_violation(v, out)}")
        for response in responses:
            lane = f" lane={response.lane}" if response.lane is not None else ""
            out.print(f"    response {response.response_id}{lane}:")
            for g in sorted(response.groups, key=lambda g: g.severity != "error"):
                out.print(f"      {finding_line(g.root, out)}")
                for said in consequence_lines(g.consequences):
                    out.print(f"          ↳ {said.replace('grammar.', '')}")


def finding_line(finding: Finding, out: Output) -> str:
    """A response's finding in a transcript, worded as ``check`` words a recording's
    (``#index``: the frame; the response's events are received frames)."""
    colour = "red" if finding.severity == "error" else "yellow"
    entity = f" {finding.entity}" if finding.entity else ""
    rule = finding.rule.removeprefix("grammar.")  # a violation code, as the connection's
    return out.style(f"#{finding.index} receive {finding.severity} {rule}{entity}: "
                     f"{finding.message}", colour)


def _violation(v: FrameViolation, out: Output) -> str:
    colour = "red" if v.severity == "error" else "yellow"
    lane = f" lane={v.lane}" if v.lane is not None else ""
    return out.style(f"#{v.index} {v.direction} {v.severity} {v.code}{lane}: {v.message}",
                     colour)


# -- the frame by frame view (replay, watch) --------------------------------------------
def _lane(stream_id: str | None) -> str:
    return "(default)" if stream_id is None else stream_id


def _states(flow: ConnectionFlow) -> dict[str, str]:
    """What a frame can change: the connection, each lane, response and steer."""
    states = {"connection": flow.state}
    states.update({f"lane {_lane(k)}": lane.state for k, lane in flow.lanes.items()})
    states.update({f"response {rid}": rec.flow.status for rid, rec in flow.responses.items()})
    states.update({f"steer {s.number}": s.state for s in flow.steers})
    return states


def frame_events(connections: Connections, flows: list[ConnectionFlow] | None = None,
                 ) -> Iterator[tuple[int, str, Frame | None, list[str], list[FrameViolation]]]:
    """Each frame that changed something: ``(connection, label, frame, changes,
    violations)``, the label ``#index direction event`` (``#n close`` for the end).
    ``flows`` (when given) receives each connection's flow as it starts."""
    from runflow.protocols.responses.websocket import ConnectionFlow
    from runflow.protocols.responses.websocket.records import parse_frame

    for n, frames in enumerate(connections):
        flow = ConnectionFlow()
        if flows is not None:
            flows.append(flow)
        for frame in (*frames, None):
            before, index, known = _states(flow), flow.index, len(flow.violations)
            if frame is None:
                flow.close()
                label = f"#{index} close"
            else:
                (flow.send if frame.type == "send" else flow.receive)(frame.data)
                data = parse_frame(frame.data)
                event = data["type"] if isinstance(data, dict) else "(unreadable)"
                label = f"#{index} {frame.type} {event}"
            found = flow.violations[known:]
            changes = [f"{key}: {before.get(key, '-')} -> {state}"
                       for key, state in _states(flow).items() if before.get(key) != state]
            if changes or found:
                yield n, label, frame, changes, found


def _print_events(connections: Connections, out: Output, flows: list[ConnectionFlow],
                  pause: Callable[[Frame | None], None] | None = None) -> None:
    for n, label, frame, changes, found in frame_events(connections, flows):
        if pause is not None:
            pause(frame)
        prefix = f"[{n}] " if len(connections) > 1 else ""
        out.print(f"  {prefix}{label:<40} {'; '.join(changes)}".rstrip())
        for v in found:
            out.print(f"      {_violation(v, out)}")


# -- replay -----------------------------------------------------------------------------
def replay_transcript(path: str, connections: Connections, args: argparse.Namespace,
                      out: Output) -> int:
    """``runflow replay`` of a transcript: each frame that changed something, then
    each response's final state (``--json``: the final responses, by connection)."""
    if getattr(args, "path_diagram", None):
        raise CommandError(f"{path}: --path-diagram draws an SSE stream's path, not a "
                           "WebSocket transcript's")
    if args.json:
        flows = _flows(connections)
        write_json(out, {"connections": [
            {"state": flow.state,
             "lanes": {_lane(k): lane.state for k, lane in flow.lanes.items()},
             "responses": [_response_json(rec) for rec in flow.responses.values()]}
            for flow in flows]}, indent=2)
        if any(flow.violations for flow in flows):
            out.warn(f"violations found; see `runflow check {path}`")
    else:
        flows = []
        out.print(out.style(f"{path}: {sum(len(f) for f in connections)} frames, "
                            f"{len(connections)} connection(s)", "bold"))
        _print_events(connections, out, flows)
        out.print()
        for n, flow in enumerate(flows):
            for rid, rec in flow.responses.items():
                out.print(f"[{n}] response {rid} on lane {_lane(rec.lane)}: "
                          f"{out.style(rec.flow.status, 'bold')}")
    return EXIT_OK if _ok(flows, strict=False) else EXIT_VIOLATIONS


def _response_json(record: Any) -> dict[str, Any]:
    response = record.flow.response
    return {"id": record.id, "lane": record.lane, "status": record.flow.status,
            "response": response.model_dump(mode="json", warnings=False)
            if response is not None else None}


# -- watch ------------------------------------------------------------------------------
def watch_transcript(path: str, connections: Connections, speed: float, out: Output,
                     sleep: Callable[[float], None] = time.sleep) -> int:
    """``runflow watch`` of a transcript: a line per frame that changed something, at
    the frames' recorded pace (``time``) divided by ``speed`` (0: no waiting)."""
    last: list[float] = []

    def pause(frame: Frame | None) -> None:
        if frame is None or frame.time is None or speed == 0:
            return
        if last and frame.time > last[0]:
            sleep((frame.time - last[0]) / speed)
        last[:] = [frame.time]

    flows: list[ConnectionFlow] = []
    out.print(out.style(f"{path}: watching {TRANSCRIPT_PROTOCOL}", "bold"))
    _print_events(connections, out, flows, pause)
    ok = _ok(flows, strict=False)
    out.print(f"{sum(len(f.violations) for f in flows)} violation(s); "
              + ("ok" if ok else "NOT OK"))
    return EXIT_OK if ok else EXIT_VIOLATIONS
