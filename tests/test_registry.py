"""The registry (runflow.protocols.registry): one row per protocol, read by every
surface, and protocol detection down to the shortest streams (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from machine_walk import walk

from runflow import ResponseFlow, RunFlow
from runflow.adapters.recording import detect_protocol, new_flow, read_recording
from runflow.cli import main
from runflow.conform.runner import conform_protocols, scenarios_for
from runflow.diagrams import diagram_set
from runflow.protocols import ASSISTANTS, RESPONSES
from runflow.protocols.profiles import PROFILES
from runflow.protocols.registry import PROTOCOLS, REGISTRY, registered

ERROR_ONLY = (b'data: {"type":"error","sequence_number":0,"error":{"type":"tokens",'
              b'"code":"rate_limit_exceeded","message":"slow down","param":null}}\n\n')
"""The shortest Responses stream: one error event, data-only framing (no event: line)."""


# --------------------------------------------------------------------------- #
# detection
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(("data", "protocol"), [
    (ERROR_ONLY, "responses"),
    (ERROR_ONLY.replace(b"data:", b"event: error\ndata:", 1), "responses"),
    (b'event: error\ndata: {"error":{"code":"server_error","message":"boom"}}\n\n',
     "assistants"),
    (b'event: thread.run.created\ndata: {"id":"run_1","object":"thread.run"}\n\n',
     "assistants"),
    (b'data: {"type":"response.created","sequence_number":0,"response":{}}\n\n',
     "responses"),
    (b'{"type":"error","sequence_number":0,"error":{}}\n', "responses"),
    (b'{"event":"error","data":{"error":{"message":"boom"}}}\n', "assistants"),
    (b'{"event":"response.created","data":{"type":"response.created"}}\n', "responses"),
    # a step's object has a "type" of its own: not a Responses event
    (b'event: thread.run.step.created\ndata: {"id":"step_1","type":"message_creation"}\n\n',
     "assistants"),
    # nothing to tell by: the default (the first registered) protocol
    (b"data: [DONE]\n\n", "assistants"),
    (b"event: ping\ndata: {}\n\n", "assistants"),
], ids=["error-data-only", "error-named", "assistants-error", "one-run-event",
        "one-data-only-event", "jsonl-typed-error", "jsonl-assistants-error",
        "jsonl-named-responses", "step-with-type", "done-only", "unknown-only"])
def test_the_shortest_streams_are_detected(data: bytes, protocol: str) -> None:
    assert detect_protocol(data) == protocol


def test_the_first_deciding_event_wins() -> None:
    # events that decide nothing first ([DONE], an unknown name), then a Responses one
    data = (b'data: [DONE]\n\nevent: ping\ndata: {}\n\n'
            b'data: {"type":"response.failed","sequence_number":1,"response":{}}\n\n'
            b'event: thread.run.created\ndata: {}\n\n')
    assert detect_protocol(data) == "responses"
    # an error named by its event: line with no type in its data is the Assistants one
    assert detect_protocol(b'event: error\ndata: {"message":"x"}\n\n' + data) == "assistants"


def test_broken_json_is_skipped_by_detection() -> None:
    data = b'data: {"type": \n\ndata: {"type":"response.created","sequence_number":0}\n\n'
    assert detect_protocol(data) == "responses"


def test_check_reads_an_error_only_responses_stream(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "error.sse"
    path.write_bytes(ERROR_ONLY)
    # read as Responses; its one finding is the spec's: response.failed must follow
    assert main(["check", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["protocol"], report["ending"], report["violations"]) == (
        "responses", "error", [])
    assert [(f["rule"], f["severity"], f["index"]) for f in report["findings"]] == [
        ("order.response.failed_after_error", "error", 0)]


def test_a_lone_responses_event_is_a_stream_not_a_body(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_bytes(b'{"type":"error","sequence_number":0,"error":{"message":"x"}}')
    recording = read_recording(str(path))
    assert recording.protocol == "responses"
    assert recording.replay().ending == "error"


def test_a_single_event_assistants_stream_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "one.sse"
    path.write_bytes(b'event: thread.run.created\ndata: {"id":"run_1","object":"thread.run",'
                     b'"status":"queued","thread_id":"thread_1"}\n\n')
    replay = read_recording(str(path)).replay()
    assert type(replay.flow) is RunFlow
    assert replay.ending == "truncated"
    assert replay.flow.run_status == "queued"


# --------------------------------------------------------------------------- #
# every surface reads the rows
# --------------------------------------------------------------------------- #
def test_the_shipped_rows() -> None:
    assert list(REGISTRY) == ["assistants", "responses"]
    assert PROTOCOLS == {"assistants": ASSISTANTS, "responses": RESPONSES}
    assert registered("assistants").flow_class is RunFlow
    assert registered("responses").flow_class is ResponseFlow
    with pytest.raises(ValueError, match="unknown protocol 'nope'; known: assistants"):
        registered("nope")


def test_flows_diagrams_and_profiles_come_from_the_rows() -> None:
    assert type(new_flow("responses")) is ResponseFlow
    assert diagram_set(RESPONSES) is registered("responses").diagrams
    assert diagram_set(ASSISTANTS).subfolder == ""
    assert set(PROFILES) == {p.name for row in REGISTRY.values() for p in row.profiles}
    assert {p.protocol for p in PROFILES.values()} == {"responses"}


def test_conform_scenarios_are_resolved_from_the_rows() -> None:
    assert conform_protocols() == ("assistants", "responses")
    assert [s.name for s in scenarios_for("responses")]
    assert {s.protocol for s in scenarios_for("assistants")} == {"assistants"}


def test_the_cli_protocol_choices_are_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--protocol", "nope", "x.jsonl"]) == 2
    assert "choose from 'auto', 'assistants', 'responses'" in capsys.readouterr().err


def test_the_walker_runs_on_the_shipped_root_tables() -> None:
    """The generic walk of tests/machine_walk.py on the roots of both definitions."""
    assert walk(ASSISTANTS, RunFlow, ("run",)) == 10 * 10
    run = RESPONSES.root_table
    assert walk(RESPONSES, ResponseFlow, ("response",)) == len(run.states) * len(
        {t.event for t in run.transitions})


def test_every_lazy_reference_of_the_shipped_rows_resolves() -> None:
    """Flow classes and snapshot types named as ``"module:Name"`` load on first use;
    a mistyped one would fail only then, so every one is resolved here."""
    from pydantic import BaseModel

    from runflow.engine.flow import Flow

    for row in REGISTRY.values():
        assert issubclass(row.flow_class, Flow), row.definition.name
        for kind, table in row.definition.tables.items():
            model = table.snapshot_model
            assert model is None or issubclass(model, BaseModel), (row.definition.name, kind)
