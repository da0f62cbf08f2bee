"""``runflow check`` of a WebSocket transcript grades each response as an SSE stream is:
the payload rows (and, with ``--types``, the SDK's types) of each response's events,
each finding naming its frame, grouped by root cause per response (a cascade is one
finding with its consequences, in the text and the ``--json`` groups); recorded from
the local server with the real openai client, then a received frame edited."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import openai
import pytest

from runflow.cli import main
from runflow.protocols.responses.websocket.transcript import Frame, dump_jsonl
from runflow.server.websocket_runner import WebSocketServer

pytest.importorskip("websockets")


@pytest.fixture(scope="module")
def frames() -> Iterator[list[Frame]]:
    """One response over one socket, to its terminal event."""
    with WebSocketServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        with client.responses.connect() as conn:
            conn.send({"type": "response.create", "model": "gpt-4o", "input": "hi"})
            while conn.recv().type not in ("response.completed", "response.incomplete"):
                pass
        yield list(server.mode.transcripts[0])


def _edited(frames: list[Frame], event: str, edit: Callable[[dict[str, Any]], None],
            tmp_path: Path) -> tuple[Path, int]:
    """The transcript with the first received ``event`` frame edited, and its index."""
    at = next(i for i, f in enumerate(frames)
              if f.type == "receive" and json.loads(f.data).get("type") == event)
    data = json.loads(frames[at].data)
    edit(data)
    changed = [*frames[:at], replace(frames[at], data=json.dumps(data)), *frames[at + 1:]]
    path = tmp_path / "edited.jsonl"
    path.write_text(dump_jsonl(changed))
    return path, at


def _report(path: Path, *options: str, capsys: pytest.CaptureFixture[str]
            ) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--json", *options, str(path)])
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.strip()]
    return code, dict(json.loads(line))


def _rows(report: dict[str, Any]) -> list[tuple[int, int, str, str]]:
    """Every finding of the groups: (connection, frame, rule, severity)."""
    return [(g["connection"], f["index"], f["rule"], f["severity"]) for g in report["findings"]
            for f in (g, *g["consequences"])]


def test_a_clean_transcript_has_no_findings(frames: list[Frame], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clean.jsonl"
    path.write_text(dump_jsonl(frames))
    code, report = _report(path, "--types", capsys=capsys)
    assert (code, report["ok"], report["findings"], report["violations"]) == (0, True, [], [])


def test_a_payload_row_names_the_frame(frames: list[Frame], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """role 'user' in the assistant's message (payload.message.role, an error row)."""
    path, at = _edited(frames, "response.output_item.added",
                       lambda d: d["item"].update(role="user"), tmp_path)
    code, report = _report(path, capsys=capsys)
    assert (0, at, "payload.message.role", "error") in _rows(report)
    assert not any(r.startswith("types.") for _, _, r, _ in _rows(report))
    assert (code, report["ok"]) == (1, False)
    assert main(["check", str(path)]) == 1
    assert f"#{at} receive error payload.message.role" in capsys.readouterr().out


def test_types_names_the_frame_only_with_types(frames: list[Frame], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """content 7 at output_item.done (types.output) and logprobs 'x' of a delta
    (types.content): warnings, so the transcript stays ok."""
    path, done = _edited(frames, "response.output_item.done",
                         lambda d: d["item"].update(content=7), tmp_path)
    edited = [Frame(**{k: v for k, v in json.loads(line).items() if k in (
        "type", "data", "time", "opcode")}) for line in path.read_text().splitlines()]
    path, delta = _edited(edited, "response.output_text.delta",
                          lambda d: d.update(logprobs="x"), tmp_path)
    code, report = _report(path, capsys=capsys)
    assert [r for r in _rows(report) if r[2].startswith("types.")] == []
    code, report = _report(path, "--types", capsys=capsys)
    assert [r for r in _rows(report) if r[2].startswith("types.")] == [
        (0, delta, "types.content", "warning"), (0, done, "types.output", "warning")]
    assert (code, report["ok"]) == (0, True)
    assert main(["check", "--types", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"#{done} receive warning types.output" in text
    assert f"#{delta} receive warning types.content" in text
    assert "item.content is 7" in text


def test_a_cascade_is_one_root_cause_of_its_response(frames: list[Frame], tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """An output item the flow refuses (its type 5): every later event of the item is
    an unknown_entity, grouped under the malformed_event as check groups an SSE
    stream's; the text prints the root once and the consequences in runs, and not
    each of the response's violations again."""
    path, at = _edited(frames, "response.output_item.added",
                       lambda d: d["item"].update(type=5), tmp_path)
    later = [i for i, f in enumerate(frames) if i > at and f.type == "receive"
             and json.loads(f.data)["type"] in ("response.content_part.added",
                                                "response.output_text.delta",
                                                "response.output_text.done",
                                                "response.content_part.done")]
    response = json.loads(frames[1].data)["response"]["id"]
    code, report = _report(path, capsys=capsys)
    [group] = report["findings"]
    assert (group["connection"], group["response_id"], group["index"], group["rule"]) == (
        0, response, at, "grammar.malformed_event")
    assert [(f["index"], f["rule"]) for f in group["consequences"]] == [
        (i, "grammar.unknown_entity") for i in later]
    assert [(v["index"], v["code"]) for v in report["violations"]] == [
        (at, "malformed_event"), *((i, "unknown_entity") for i in later)]
    assert (code, report["ok"]) == (1, False)
    assert main(["check", str(path)]) == 1
    text = capsys.readouterr().out
    assert f"1 root cause(s) of {1 + len(later)} response finding(s)" in text
    assert f"response {response}:" in text
    assert f"#{at} receive error malformed_event: " in text
    deltas = [i for i in later if json.loads(frames[i].data)["type"].endswith(".delta")]
    assert f"↳ #{deltas[0]}–#{deltas[-1]} unknown_entity output_text" in text
    assert f"(×{len(deltas)})" in text
    assert f"#{deltas[0]} receive error unknown_entity" not in text


def test_a_payload_finding_is_a_root_cause_of_its_own(frames: list[Frame], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A finding no grammar finding explains is its own group, naming its response."""
    path, at = _edited(frames, "response.output_item.added",
                       lambda d: d["item"].update(role="user"), tmp_path)
    _, report = _report(path, capsys=capsys)
    response = json.loads(frames[1].data)["response"]["id"]
    roots = [(g["response_id"], g["index"], g["rule"], g["consequences"])
             for g in report["findings"]]
    assert (response, at, "payload.message.role", []) in roots
