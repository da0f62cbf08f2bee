"""A third protocol is a folder plus one registry row.

The toy protocol lives only under ``tests/toy_protocol/``. Registered, it is
detected in a recording, checked by ``runflow check`` (grammar, payload invariants
and order rows from its row), drawn by ``runflow diagram``, and its machines pass
the same exhaustive walk as the shipped ones -- with nothing outside that folder
changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import toy_protocol
from machine_walk import walk

from runflow.adapters.recording import detect_protocol, replay_file
from runflow.cli import main
from runflow.diagrams import diagram_files, diagram_names, diagram_set, mermaid
from runflow.engine.flow import Flow
from runflow.protocols.registry import PROTOCOLS, REGISTRY, register, unregister

TOY = toy_protocol.TOY


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    register(toy_protocol.ROW)
    yield
    unregister("toy")


def event(name: str, **data: Any) -> dict[str, Any]:
    return {"event": name, "data": data}


GOOD = [
    event("job.queued", id="job_1", status="queued"),
    event("job.started", id="job_1", status="running"),
    event("task.started", id="task_1", job_id="job_1", status="working"),
    event("task.done", id="task_1", job_id="job_1", status="done"),
    event("job.finished", id="job_1", status="finished"),
    {"event": "done", "data": "[DONE]"},
]


def recording(tmp_path: Path, events: list[dict[str, Any]], name: str = "toy.jsonl") -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(path)


def sse(events: list[dict[str, Any]]) -> bytes:
    def data(e: dict[str, Any]) -> str:
        return e["data"] if isinstance(e["data"], str) else json.dumps(e["data"])

    return b"".join(f"event: {e['event']}\ndata: {data(e)}\n\n".encode() for e in events)


def test_the_row_is_registered_and_unregistered() -> None:
    assert REGISTRY["toy"] is toy_protocol.ROW
    assert PROTOCOLS["toy"] is TOY
    unregister("toy")
    assert "toy" not in REGISTRY and "toy" not in PROTOCOLS
    register(toy_protocol.ROW)


def test_a_toy_stream_is_detected_by_its_event_names() -> None:
    assert detect_protocol(sse(GOOD)) == "toy"
    assert detect_protocol(sse(GOOD[:1])) == "toy"  # a single event is enough
    # done and error are every protocol's: they decide nothing, the default stays
    assert detect_protocol(b"event: error\ndata: {}\n\n") == "assistants"


def test_check_accepts_a_good_toy_recording(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", recording(tmp_path, GOOD)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["protocol"] == "toy"
    assert report["ending"] == "done"
    assert report["violations"] == [] and report["findings"] == []


def test_check_reports_the_toy_grammar_invariants_and_order(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = [
        event("job.queued", id="1", status="queued"),  # the id is not job_...
        event("task.done", id="task_1", job_id="1", status="done"),  # while queued
        event("job.started", id="1", status="running"),
        event("job.started", id="1", status="running"),  # running -> running: no row
        event("job.finished", id="1", status="finished"),
        {"event": "done", "data": "[DONE]"},
    ]
    assert main(["check", "--json", recording(tmp_path, bad)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["protocol"] == "toy"
    assert [(v["code"], v["index"]) for v in report["violations"]] == [
        ("run_not_in_progress", 1), ("invalid_transition", 3)]
    found = [(f["rule"], f["index"]) for group in report["findings"]
             for f in (group, *group["consequences"])]
    assert sorted(found) == sorted([
        ("payload.job.id", 0), ("grammar.run_not_in_progress", 1),
        ("order.job.started_after_queued", 1), ("payload.job.id", 2),
        ("grammar.invalid_transition", 3), ("payload.job.id", 3), ("payload.job.id", 4)])


def test_the_order_row_of_the_toy_is_checked(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    failed = [event("job.queued", id="job_1", status="queued"),
              event("job.failed", id="job_1", status="failed"),
              {"event": "done", "data": "[DONE]"}]
    started = [failed[0], event("job.started", id="job_1", status="running"), *failed[1:]]
    assert main(["check", "--json", recording(tmp_path, started)]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []
    # a warning: the exit code stays 0
    assert main(["check", "--json", recording(tmp_path, failed)]) == 0
    found = [(f["rule"], f["severity"], f["index"])
             for f in json.loads(capsys.readouterr().out)["findings"]]
    assert found == [("order.job.started_after_queued", "warning", 1)]


def test_replaying_a_toy_recording_uses_the_generic_flow(tmp_path: Path) -> None:
    replay = replay_file(recording(tmp_path, GOOD))
    assert type(replay.flow) is Flow
    assert replay.flow.protocol is TOY
    assert replay.ending == "done"
    assert replay.flow.states("task") == {"task_1": "done"}


def test_diagram_draws_the_toy(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "--protocol", "toy", "--entity", "job"]) == 0
    out = capsys.readouterr().out
    assert "queued --> running : job.started" in out
    assert diagram_names(TOY) == ("job", "task", "stream", "all")
    files = diagram_files(TOY, svg=False)
    assert list(files) == ["job.mmd", "task.mmd", "stream.mmd", "all.mmd", "README.md"]
    assert diagram_set(TOY).subfolder == "toy"  # no DiagramSet in the row: the generic one
    assert "working --> done : task.done" in mermaid(TOY.tables["task"], protocol=TOY)


def test_every_toy_state_and_event_follows_the_table() -> None:
    checked = walk(TOY, lambda: Flow(protocol=TOY))
    assert checked == sum(
        len(t.states) * len({tr.event for tr in t.transitions}) for t in TOY.tables.values())
