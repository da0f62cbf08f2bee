"""What the type-confusion fuzz runs besides the flow: its read API, and the layers
around it that read the same hostile events (:mod:`runflow.testing.typefuzz`).

* :func:`read_everything` reads every public property of the flow's read API
  (``flow.response``, ``flow.output``, ``flow.pending_tool_calls``...): a view
  that raises on what the flow accepted is an untyped exception too.
* :func:`run_layers` takes the mutated stream's bytes as ``runflow check`` and
  ``runflow conform`` do (the tapped events, the grammar, payload and order
  layers, the grouping by root cause, the final objects the consistency layer
  compares) and as ``runflow watch`` plays a recording (its pacing and its line
  view, written to memory).
"""

from __future__ import annotations

import io
from typing import Any

from runflow.adapters.recording import Recording
from runflow.cli.output import Output
from runflow.cli.watch.lens import lens_for
from runflow.cli.watch.pace import blocks, play
from runflow.cli.watch.views import LineView, Watcher
from runflow.conform.consistency import compare, final_objects
from runflow.conform.events import tap_recording
from runflow.conform.grade import grade_events
from runflow.conform.grouping import group
from runflow.engine.flow import Flow

__all__ = ["read_everything", "run_layers"]


def read_everything(flow: Flow) -> None:
    """Read every public property of ``flow`` (its snapshots are built)."""
    cls = type(flow)
    for name in dir(cls):
        if not name.startswith("_") and isinstance(getattr(cls, name, None), property):
            getattr(flow, name)


def run_layers(flow: Flow, data: bytes) -> int:
    """Run ``check``'s and ``conform``'s layers and ``watch`` on the SSE bytes ``flow``
    was fed; return the findings (raises whatever a layer raises)."""
    protocol = flow.protocol
    recording = Recording("<typefuzz>", "sse", data)
    events = tap_recording(protocol, recording)
    findings = grade_events(flow, events)
    group(findings, events, protocol=protocol)
    for kind, objects in final_objects(protocol, events).items():
        ours = _ours(flow, kind)
        for oid, theirs in objects.items():
            list(compare(ours.get(oid, {}), theirs))
    _watch(protocol.name, recording)
    return len(findings)


def _ours(flow: Flow, kind: str) -> dict[str, Any]:
    """The flow's objects of ``kind`` by id, as JSON (what conform compares)."""
    return {t.id: t.wire() for t in flow.state.children.get(kind, {}).values()}


def _watch(protocol: str, recording: Recording) -> None:
    lens = lens_for(protocol)
    view = LineView(lens, Output(io.StringIO(), io.StringIO(), color="never"))
    watcher = Watcher(lens, view)
    with view.showing():
        play(watcher.attach(lens.new_flow(None)), blocks(recording), 0, lambda _: None)
        watcher.changed()
    view.summary(False)
