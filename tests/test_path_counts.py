"""The path diagrams draw how many times an edge was taken, counting a flood of
repeated self-loop events that the history holds as one entry with its ``count``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from runflow import RunFlow
from runflow.conform.diagram import path_dot
from runflow.conform.diagram import path_mermaid as report_mermaid
from runflow.diagrams import path_mermaid
from runflow.protocols.assistants.definition import ASSISTANTS

FLOOD = 10_000


def _sse(event: str, data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return f"event: {event}\ndata: {text}\n\n".encode()


RUN = {"id": "run_1", "object": "thread.run", "status": "queued", "thread_id": "t",
       "assistant_id": "a", "created_at": 1}
MESSAGE = {"id": "msg_1", "object": "thread.message", "status": "in_progress",
           "thread_id": "t", "role": "assistant", "content": [], "created_at": 1,
           "run_id": "run_1", "assistant_id": "a", "attachments": [], "metadata": {}}
STREAM = (_sse("thread.run.created", RUN) + _sse("thread.run.queued", RUN)
          + _sse("thread.run.in_progress", {**RUN, "status": "in_progress"})
          + _sse("thread.message.created", MESSAGE)
          + _sse("thread.message.in_progress", MESSAGE) * FLOOD
          + _sse("thread.message.completed", {**MESSAGE, "status": "completed",
                                              "completed_at": 2})
          + _sse("thread.message.in_progress", {**MESSAGE, "id": "msg_2"})
          + _sse("thread.run.completed", {**RUN, "status": "completed", "completed_at": 2})
          + _sse("done", "[DONE]"))
"""A run whose message sends 10,000 ``in_progress`` in a row (then a second message
one that is no self-loop: not collapsed)."""

LOOP = "#4 thread.message.in_progress (×10,000)"


def _flow() -> RunFlow:
    flow = RunFlow()
    flow.feed_sse(STREAM)
    flow.close()
    loops = [c for c in flow.history if c.event == "thread.message.in_progress"
             and c.id == "msg_1"]
    assert [(c.index, c.count) for c in loops] == [(4, FLOOD)]  # one entry: the flood
    return flow


def test_the_path_diagram_labels_a_collapsed_flood_with_its_count() -> None:
    text = path_mermaid(_flow().history)
    assert f"message_in_progress --> message_in_progress : {LOOP}" in text


def test_the_report_path_draws_a_collapsed_flood_with_its_count() -> None:
    history = _flow().history
    assert f"message_in_progress --> message_in_progress : {LOOP}" in report_mermaid(
        history, ASSISTANTS)
    assert (f'"message.in_progress" -> "message.in_progress" [label="{LOOP}"];'
            in path_dot(history, ASSISTANTS))


def test_watch_diagram_says_how_many_times_the_loop_was_taken(tmp_path: Path) -> None:
    path = tmp_path / "flood.sse"
    path.write_bytes(STREAM)
    done = subprocess.run([sys.executable, "-m", "runflow", "watch", str(path), "--speed", "0",
                           "--diagram"], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.stderr == ""
    assert f"message_in_progress --> message_in_progress : {LOOP}" in done.stdout
