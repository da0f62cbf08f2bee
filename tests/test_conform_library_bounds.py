"""``runflow.conform.conform`` called from Python, with no client: every answer is
held to its bounds as ``runflow conform`` holds it (the client it makes is the
bounded one), not read whole by an unbounded client."""

from __future__ import annotations

from test_cli_hostile import hostile

from runflow.conform.runner import conform
from runflow.conform.session import MIB, Bounds


def _messages(server_url: str, bounds: Bounds) -> list[str]:
    report = conform(server_url, protocol="responses", scenarios=["text"], bounds=bounds)
    return [f.message for f in report.findings]


def test_the_library_stops_reading_a_flood_at_the_stream_cap() -> None:
    with hostile("flood") as server:  # 3,000 deltas of 60 KB: 180 MB if read whole
        messages = _messages(server.base_url, Bounds(stream_bytes=MIB))
    assert any("the stream passed 1 MiB" in m for m in messages), messages


def test_the_library_reads_a_body_up_to_the_body_cap() -> None:
    with hostile("big_body") as server:  # a JSON answer of 20 MiB
        messages = _messages(server.base_url, Bounds(body_bytes=MIB))
    assert any("the body passed 1 MiB" in m for m in messages), messages
