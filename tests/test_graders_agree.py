"""The two graders are one set of layers (:class:`runflow.conform.grade.Layers`):
``runflow conform``'s (:class:`~runflow.conform.grade.FlowGrade`, fed by a tap of
every event) and ``runflow check``'s (:class:`~runflow.conform.recorded.Grader`, fed
by a recording's feeder, its deltas on a short path) give the same findings of the
same stream: rule, index, severity, message, entity and grouping key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import RECORDINGS, recordings_dir

from runflow.adapters.recording import new_flow, read_recording
from runflow.adapters.recording_feed import Feeder
from runflow.conform.events import Tap
from runflow.conform.findings import Finding
from runflow.conform.grade import FlowGrade
from runflow.conform.recorded import Grader

CASES = (
    "dotnet_file_search_file_citation.sse",
    "dotnet_create_and_run_function_requires_action.sse",
    "responses/mirascope_parallel_function_calls_gpt4o.sse",
    "responses/ddtrace_incomplete_max_output_tokens_gpt4o.sse",
)
"""Single-stream captures (a tap numbers its streams by request, a recording's feeder
by ``done``), of both protocols."""


def _rows(found: list[Finding]) -> list[tuple[object, ...]]:
    return [(f.rule, f.index, f.severity, f.message, f.entity, f.key) for f in found]


def _broken(data: bytes) -> bytes:
    """The capture with an event repeated, one dropped and the last ``completed_at``
    null (findings of the grammar, payload and order layers)."""
    blocks = data.split(b"\n\n")
    middle = len(blocks) // 2
    blocks.insert(middle, blocks[middle])
    del blocks[middle + 3]
    last = max((i for i, b in enumerate(blocks) if b'"completed_at":' in b), default=None)
    if last is not None:
        blocks[last] = blocks[last].replace(b'"completed_at":', b'"completed_at":null,"x":', 1)
    return b"\n\n".join(blocks)


def _by_conform(protocol: str, data: bytes) -> list[Finding]:
    flow = new_flow(protocol)
    grade = FlowGrade(flow)
    tap = Tap(flow, grade.see)
    for start in range(0, len(data), 4096):
        tap.feed(data[start:start + 4096])
    tap.close()
    return grade.findings()


def _by_check(protocol: str, data: bytes) -> list[Finding]:
    flow = new_flow(protocol)
    feeder = Feeder(flow, "sse")
    grader = Grader(flow, feeder)
    feeder.listener = grader
    for start in range(0, len(data), 4096):
        feeder.feed(data[start:start + 4096])
    feeder.finish(close=True)
    return grader.findings()


@pytest.mark.parametrize("name", CASES if RECORDINGS.is_dir() else ["<recordings absent>"])
@pytest.mark.parametrize("broken", [False, True])
def test_conform_and_check_grade_a_stream_alike(name: str, broken: bool) -> None:
    path: Path = recordings_dir() / name
    protocol = read_recording(path).protocol
    data = path.read_bytes().replace(b"\r\n", b"\n")
    if broken:
        data = _broken(data)
    by_conform = _rows(_by_conform(protocol, data))
    assert by_conform == _rows(_by_check(protocol, data))
    if broken:
        assert by_conform  # the breakage is found


def test_the_broken_cases_reach_every_layer() -> None:
    layers = set()
    for name in CASES:
        path = recordings_dir() / name
        data = _broken(path.read_bytes().replace(b"\r\n", b"\n"))
        layers |= {f.rule.split(".")[0] for f in _by_check(read_recording(path).protocol, data)}
    assert layers == {"grammar", "payload", "order"}
