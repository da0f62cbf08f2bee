"""``runflow record`` against the local Assistants server: formats, tool outputs,
cut streams and unreachable servers."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.beta.threads.runs import FunctionToolCall, ToolCallsStepDetails

from runflow.adapters.recording import replay_file
from runflow.cli import main
from runflow.testing import Server

pytestmark = pytest.mark.usefixtures("no_leftover_faults")

TEXT = "Hello! This answer was streamed by the runflow test server."


def _record(server: Server, out: Path | str, *extra: str,
            assistant: str = "asst_text") -> int:
    return main(["record", "--base-url", server.base_url, "--api-key", "test",
                 "--assistant", assistant, "-o", str(out), *extra])


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _replay_json(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, dict[str, Any]]:
    code = main(["replay", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- #
# a text run, in both formats
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("suffix", [".jsonl", ".sse"])
def test_record_text_run(suffix: str, server: Server, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"run{suffix}"
    assert _record(server, out, "--message", "hi") == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    (summary,) = captured.err.splitlines()
    assert re.fullmatch(rf"recorded 22 events \(1 stream\) to {re.escape(str(out))}; "
                        r"ended done; run run_\w+ completed; 0 violation\(s\)", summary)

    assert main(["check", "--json", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["events"], report["ending"], report["run_status"]) == (
        True, 22, "done", "completed")

    code, snapshots = _replay_json(capsys, out)
    assert code == 0
    assert snapshots["run"]["status"] == "completed"
    assert snapshots["run"]["assistant_id"] == "asst_text"
    (message,) = snapshots["messages"]
    assert message["content"][0]["text"]["value"] == TEXT

    if suffix == ".jsonl":
        lines = _jsonl(out)
        assert [line["event"] for line in lines[:2]] == ["thread.created", "thread.run.created"]
        assert lines[-1] == {"event": "done", "data": "[DONE]"}
        assert all(isinstance(line["data"], dict) for line in lines[:-1])
    else:
        data = out.read_bytes()
        assert data.startswith(b"event: thread.created\ndata: {")
        assert data.endswith(b"event: done\ndata: [DONE]\n\n")


def test_sse_and_jsonl_recordings_of_the_same_stream_replay_the_same(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The .sse recording, served again by the server, recorded as .jsonl: both
    replay to the same history, text and snapshots."""
    sse, jsonl = tmp_path / "run.sse", tmp_path / "run.jsonl"
    assert _record(server, sse) == 0
    assert server.enqueue_recording(sse) == 1
    assert _record(server, jsonl) == 0
    capsys.readouterr()

    a, b = replay_file(sse), replay_file(jsonl)
    assert a.flow.event_count == b.flow.event_count == len(_jsonl(jsonl)) == 22
    assert a.flow.history == b.flow.history
    assert a.flow.text == b.flow.text == TEXT
    assert (a.ending, a.flow.violations) == (b.ending, b.flow.violations) == ("done", [])
    assert _replay_json(capsys, sse) == _replay_json(capsys, jsonl)


def test_record_to_stdout_writes_the_raw_stream(server: Server, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _record(server, "-") == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("event: thread.created\n")
    assert captured.out.endswith("event: done\ndata: [DONE]\n\n")
    assert captured.err.startswith("recorded 22 events (1 stream) to stdout; ended done;")
    path = tmp_path / "stdout.sse"
    path.write_text(captured.out, encoding="utf-8")
    assert replay_file(path).flow.text == TEXT


def test_record_on_an_existing_thread_with_a_message(server: Server, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
        thread = client.beta.threads.create()
        out = tmp_path / "run.jsonl"
        assert _record(server, out, "--thread", thread.id, "--message", "hello there") == 0
        roles = [m.role for m in client.beta.threads.messages.list(thread.id, order="asc")]
    assert roles == ["user", "assistant"]
    lines = _jsonl(out)
    assert lines[0]["event"] == "thread.run.created"  # runs.create: no thread.created
    assert lines[0]["data"]["thread_id"] == thread.id
    replay = replay_file(out)
    assert (replay.ending, replay.flow.run_status, replay.flow.violations) == (
        "done", "completed", [])


# --------------------------------------------------------------------------- #
# requires_action
# --------------------------------------------------------------------------- #
def test_requires_action_without_tool_outputs_stops_after_the_stream(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tools.jsonl"
    assert _record(server, out, assistant="asst_parallel_functions") == 0
    summary, note = capsys.readouterr().err.splitlines()
    assert "(1 stream)" in summary and summary.endswith("requires_action; 0 violation(s)")
    assert "stopped in requires_action (the tools are unknown): get_time, get_weather" in note
    names = [line["event"] for line in _jsonl(out)]
    assert names[-2:] == ["thread.run.requires_action", "done"]
    replay = replay_file(out)
    assert (replay.ending, replay.flow.run_status) == ("done", "requires_action")
    assert sorted(c.function.name for c in replay.flow.pending_tool_calls) == [
        "get_time", "get_weather"]


@pytest.mark.parametrize("suffix", [".jsonl", ".sse"])
def test_tool_outputs_record_the_continuation(suffix: str, server: Server, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"tools{suffix}"
    code = _record(server, out, "--tool-output", "get_weather=sunny, 21 C",
                   "--tool-output", "get_time=14:05", assistant="asst_parallel_functions")
    assert code == 0
    (summary,) = capsys.readouterr().err.splitlines()
    assert "(2 streams)" in summary and summary.endswith("completed; 0 violation(s)")

    replay = replay_file(out)
    flow = replay.flow
    assert (replay.ending, flow.run_status, flow.violations) == ("done", "completed", [])
    assert flow.text == "Here is what I found. get_weather: sunny, 21 C. get_time: 14:05."
    outputs = {c.function.name: c.function.output for s in flow.steps
               if isinstance(s.step_details, ToolCallsStepDetails)
               for c in s.step_details.tool_calls if isinstance(c, FunctionToolCall)}
    assert outputs == {"get_weather": "sunny, 21 C", "get_time": "14:05"}
    changes = [(c.entity.value, c.dest) for c in flow.history]
    assert changes.index(("run", "requires_action")) < changes.index(("run", "completed"))

    code, snapshots = _replay_json(capsys, out)
    assert (code, snapshots["run"]["status"]) == (0, "completed")
    if suffix == ".jsonl":
        names = [line["event"] for line in _jsonl(out)]
        assert names.count("done") == 2
        assert names[names.index("done") - 1] == "thread.run.requires_action"


def test_a_missing_tool_output_stops_and_says_which(server: Server, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tools.jsonl"
    code = _record(server, out, "--tool-output", "get_weather=sunny",
                   assistant="asst_parallel_functions")
    assert code == 0
    note = capsys.readouterr().err.splitlines()[-1]
    assert "get_time not answered" in note and "get_weather" not in note
    assert replay_file(out).flow.run_status == "requires_action"


# --------------------------------------------------------------------------- #
# cut streams and errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("suffix", [".jsonl", ".sse"])
def test_a_cut_stream_keeps_what_arrived(suffix: str, server: Server, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"cut{suffix}"
    server.inject("cut_after=5")
    assert _record(server, out) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("recorded 5 events (1 stream)")
    assert "ended truncated; run " in err[0] and err[0].endswith("1 violation(s)")
    assert err[1].startswith("  #5 error truncated:")
    assert err[2].startswith("  the connection was cut: ")

    replay = replay_file(out)
    assert replay.flow.event_count == 5
    assert [v.code.value for v in replay.flow.violations] == ["truncated"]
    if suffix == ".jsonl":
        assert [line["event"] for line in _jsonl(out)] == [
            "thread.created", "thread.run.created", "thread.run.queued",
            "thread.run.in_progress", "thread.run.step.created"]
    assert main(["check", str(out)]) == 1


def test_connection_refused_is_one_line(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never.jsonl"
    code = main(["record", "--base-url", f"http://127.0.0.1:{_closed_port()}/v1",
                 "--assistant", "asst_text", "-o", str(out)])
    assert code == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("runflow: error: cannot reach http://127.0.0.1:")
    assert "Connection refused" in line
    assert not out.exists()


def test_http_errors_and_usage_errors_exit_2(server: Server, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.jsonl"
    assert _record(server, out, "--thread", "thread_missing") == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == ("runflow: error: starting the run: the server answered HTTP 404: "
                    "No thread found with id 'thread_missing'.")
    assert _record(server, tmp_path / "x.txt") == 2
    assert "must end in .jsonl or .sse" in capsys.readouterr().err
    assert _record(server, tmp_path / "no" / "x.jsonl") == 2
    assert "no such directory" in capsys.readouterr().err
    assert _record(server, out, "--tool-output", "get_weather") == 2
    assert "expected NAME=TEXT" in capsys.readouterr().err
    assert not out.exists()


def test_record_as_a_subprocess(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "run.sse"
    done = subprocess.run(
        [sys.executable, "-m", "runflow", "record", "--base-url", server.base_url,
         "--assistant", "asst_parallel_functions", "--tool-output", "get_weather=rain",
         "--tool-output", "get_time=noon", "-o", str(out)],
        capture_output=True, text=True, check=False, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    (summary,) = done.stderr.splitlines()
    assert summary.startswith(f"recorded 38 events (2 streams) to {out}; ended done; run ")
    replay = replay_file(out)
    assert replay.flow.run_status == "completed"
    assert replay.flow.text.endswith("get_weather: rain. get_time: noon.")


# --------------------------------------------------------------------------- #
# a Responses API response
# --------------------------------------------------------------------------- #
def _record_response(server: Server, out: Path | str, *extra: str) -> int:
    return main(["record", "--base-url", server.base_url, "--api-key", "test",
                 "--model", "gpt-4o", "-o", str(out), *extra])


def _check(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--json", str(path)])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("suffix", [".jsonl", ".sse"])
def test_record_a_text_response(suffix: str, server: Server, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"response{suffix}"
    assert _record_response(server, out, "--input", "hi") == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    (summary,) = captured.err.splitlines()
    assert re.fullmatch(rf"recorded 18 events \(1 stream\) to {re.escape(str(out))}; "
                        r"ended done; response resp_\w+ completed; 0 violation\(s\)", summary)
    code, report = _check(capsys, out)
    assert code == 0
    assert (report["ok"], report["protocol"], report["events"], report["status"]) == (
        True, "responses", 18, "completed")
    replay = replay_file(out)
    assert replay.flow.text == TEXT
    if suffix == ".jsonl":
        lines = _jsonl(out)
        assert [line["event"] for line in lines[:2]] == ["response.created",
                                                        "response.in_progress"]
        assert lines[-1]["event"] == "response.completed"
        assert [line["data"]["sequence_number"] for line in lines] == list(range(18))
    else:
        assert out.read_bytes().startswith(b"event: response.created\ndata: {")


def test_a_response_asking_for_calls_ends_the_recording_and_its_continuation_is_another(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "calls.sse", tmp_path / "answer.jsonl"
    assert _record_response(server, first, "--input", "Weather?", "--metadata",
                            "scenario=parallel_functions", "--tool-output",
                            "get_weather=sunny", "--tool-output", "get_time=noon") == 0
    err = capsys.readouterr().err.splitlines()
    assert err[1] == ('  the response asks for 2 function call(s): get_weather({"city": '
                      '"Paris"}), get_time({"timezone": "Europe/Paris"})')
    flow = replay_file(first).flow
    assert [c.name for c in flow.function_calls] == ["get_weather", "get_time"]
    command = err[2].split("record its continuation with: ")[1]
    assert command == (f"runflow record --base-url {server.base_url} --model gpt-4o "
                       f"--previous-response-id {flow.response_id} "
                       "--tool-output=get_weather=sunny --tool-output=get_time=noon "
                       "-o NEXT.sse")
    assert _check(capsys, first)[0] == 0

    # the continuation, as the note says (into a file of its own)
    args = [*command.split()[1:-1], str(second)]
    assert main(args) == 0
    (summary,) = capsys.readouterr().err.splitlines()
    assert summary.endswith("completed; 0 violation(s)")
    code, report = _check(capsys, second)
    assert (code, report["ok"], report["status"]) == (0, True, "completed")
    assert replay_file(second).flow.text == ("Here is what I found. get_weather: sunny. "
                                             "get_time: noon.")


def test_a_continuation_needs_an_answer_for_each_call(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = tmp_path / "calls.sse"
    assert _record_response(server, first, "--input", "Weather?", "--metadata",
                            "scenario=parallel_functions", "--tool-output",
                            "get_weather=sunny", "--tool-output", "get_time=noon") == 0
    capsys.readouterr()
    response_id = replay_file(first).flow.response_id
    out = tmp_path / "next.sse"
    assert _record_response(server, out, "--previous-response-id", response_id,
                            "--tool-output", "get_weather=sunny") == 2
    assert capsys.readouterr().err == (f"runflow: error: response {response_id} asks for "
                                       "get_time: give --tool-output NAME=TEXT for each\n")
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".jsonl", ".sse"])
def test_a_cut_response_keeps_what_arrived(suffix: str, server: Server, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"cut{suffix}"
    server.inject("cut_after=5")
    assert _record_response(server, out, "--input", "hi") == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("recorded 5 events (1 stream)")
    assert "ended truncated; response resp_" in err[0] and err[0].endswith("1 violation(s)")
    assert err[1].startswith("  #5 error truncated:")
    assert err[2].startswith("  the connection was cut: ")
    assert [v.code.value for v in replay_file(out).flow.violations] == ["truncated"]
    assert main(["check", str(out)]) == 1


@pytest.mark.parametrize(("args", "message"), [
    ([], "give --assistant ID (an Assistants run) or --model M with --input TEXT (a "
         "Responses API response)"),
    (["--input", "hi"], "a Responses recording needs --model M"),
    (["--model", "m"], "--model needs its --input (or --previous-response-id)"),
    (["--model", "m", "--input", "hi", "--assistant", "a"],
     "--model, --input cannot go with a recording of the assistants API"),
    (["--protocol", "responses", "--assistant", "a"],
     "--assistant cannot go with a recording of the responses API"),
    (["--protocol", "assistants"], "an Assistants recording needs --assistant ID"),
])
def test_responses_usage_errors_are_one_line(server: Server, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             args: list[str], message: str) -> None:
    out = tmp_path / "x.sse"
    assert main(["record", "--base-url", server.base_url, "-o", str(out), *args]) == 2
    assert capsys.readouterr().err == f"runflow: error: {message}\n"
    assert not out.exists()
