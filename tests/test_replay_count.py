"""``runflow replay``'s timeline shows a repeated self-loop status event once, with
how many times it came (``StateChange.count``), as the history collapses it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

FLOOD = 20_000


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


RUN = {"id": "run_1", "object": "thread.run", "status": "queued", "thread_id": "t",
       "assistant_id": "a", "created_at": 1}
MESSAGE = {"id": "msg_1", "object": "thread.message", "status": "in_progress",
           "thread_id": "t", "role": "assistant", "content": [], "created_at": 1,
           "run_id": "run_1", "assistant_id": "a", "attachments": [], "metadata": {}}


def test_the_timeline_shows_the_count_of_a_flood(tmp_path: Path) -> None:
    path = tmp_path / "flood.sse"
    path.write_text(
        _sse("thread.run.created", RUN) + _sse("thread.run.queued", RUN)
        + _sse("thread.run.in_progress", {**RUN, "status": "in_progress"})
        + _sse("thread.message.created", MESSAGE)
        + _sse("thread.message.in_progress", MESSAGE) * FLOOD
        + _sse("thread.message.completed", {**MESSAGE, "status": "completed"}),
        encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "runflow", "replay", str(path)],
                          capture_output=True, text=True, timeout=300, check=False)
    # the recording ends with the run in progress: truncated, an error violation
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("  #")]
    flood = [line for line in lines if "thread.message.in_progress" in line]
    assert len(flood) == 1, lines
    assert flood[0].split()[0] == "#4"  # the first of them
    assert flood[0].endswith("thread.message.in_progress  ×20,000")
    once = [line for line in lines if line not in flood]
    assert once and not any("×" in line for line in once)  # a change that came once
