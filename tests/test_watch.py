"""``runflow watch``: line output (directly), the live view (through tmux), pacing."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from conftest import recordings_dir, tool_missing

from runflow.adapters.recording import DEMO_STREAM, read_recording, replay_file
from runflow.cli import main
from runflow.cli.watch.pace import MAX_PAUSE, blocks, play, schedule
from runflow.testing import Server


def _watch(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    code = main(["watch", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


# --------------------------------------------------------------------------- #
# line output: recordings
# --------------------------------------------------------------------------- #
def test_a_recording_as_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, err = _watch(capsys, str(DEMO_STREAM), "--speed", "0")
    assert (code, err) == (0, "")
    assert lines == [
        "#0 run run_demoWeather0001: unseen -> queued (thread.run.created)",
        "#2 run run_demoWeather0001: queued -> in_progress (thread.run.in_progress)",
        "#3 step step_demoToolCall0001: unseen -> in_progress (thread.run.step.created)",
        "#10 run run_demoWeather0001: in_progress -> requires_action "
        "(thread.run.requires_action)",
        'tool call get_weather({"city":"Lisbon"}) [call_demoGetWeather0001]',
        "#12 step step_demoToolCall0001: in_progress -> completed (thread.run.step.completed)",
        "#13 run run_demoWeather0001: requires_action -> queued (thread.run.queued)",
        "#14 run run_demoWeather0001: queued -> in_progress (thread.run.in_progress)",
        "#15 step step_demoMessage0001: unseen -> in_progress (thread.run.step.created)",
        "#17 message msg_demoAnswer0001: unseen -> in_progress (thread.message.created)",
        "#29 message msg_demoAnswer0001: in_progress -> completed (thread.message.completed)",
        "text msg_demoAnswer0001: It's 24°C and clear in Lisbon today.",
        "#30 step step_demoMessage0001: in_progress -> completed (thread.run.step.completed)",
        "#31 run run_demoWeather0001: in_progress -> completed (thread.run.completed)",
        "stream 1 ended: done",
        "run run_demoWeather0001 completed: 33 events, 1 stream(s), 0 change(s) recovered "
        "over REST, 0 violation(s)",
    ]


def test_diagram_prints_the_path_as_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    from runflow.diagrams import path_mermaid

    code, lines, _ = _watch(capsys, str(DEMO_STREAM), "--speed", "0", "--diagram")
    expected = path_mermaid(replay_file(DEMO_STREAM).flow.history).splitlines()
    assert code == 0
    assert lines[-len(expected):] == expected
    edge = "run_in_progress --> run_requires_action : #10 thread.run.requires_action"
    assert f"        {edge}" in lines


def test_an_sse_recording_shows_the_same_changes_as_a_replay(
        capsys: pytest.CaptureFixture[str]) -> None:
    path = recordings_dir() / "dotnet_function_call_continuation.sse"
    code, lines, _ = _watch(capsys, str(path), "--speed", "0")
    flow = replay_file(path).flow
    shown = [line for line in lines if line.startswith("#")]
    assert shown == [f"#{c.index} {c.entity.value} {c.id}: {c.source} -> {c.dest} ({c.event})"
                     for c in flow.history if c.source != c.dest]
    assert code == (0 if flow.ok else 1)


def test_a_broken_jsonl_line_is_a_violation_not_a_crash(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lines = DEMO_STREAM.read_text(encoding="utf-8").splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([*lines[:3], "{not json", *lines[3:]]) + "\n", encoding="utf-8")
    code, out, _ = _watch(capsys, str(broken), "--speed", "0")
    assert code == 1
    assert any(line.startswith("! #3 error malformed_event") for line in out)


def _responses(name: str) -> Path:
    """A real Responses capture (skips, or fails under CI, without the recordings)."""
    return recordings_dir() / "responses" / name


PARALLEL_CALLS = "mirascope_parallel_function_calls_gpt4o.sse"
HELLO_TEXT = "openaidotnet_hello_text_gpt4omini.sse"


def test_a_responses_recording_is_watched_as_responses(
        capsys: pytest.CaptureFixture[str]) -> None:
    path = _responses(PARALLEL_CALLS)
    code, lines, err = _watch(capsys, str(path), "--speed", "0")
    flow = replay_file(path).flow
    assert (code, err, flow.ok) == (0, "", True)
    shown = [line for line in lines if line.startswith("#")]
    assert shown == [f"#{c.index} {c.entity} {c.id}: {c.source} -> {c.dest} ({c.event})"
                     for c in flow.history if c.source != c.dest]
    assert shown[0].startswith("#0 response resp_") and shown[0].endswith(
        ": unseen -> in_progress (response.created)")
    calls = [line for line in lines if line.startswith("tool call")]
    assert calls == [
        'tool call secret_retrieval_tool({"password":"mellon"}) [call_sKC7OABqf2A2PTLCm0CLeRWV]',
        'tool call secret_retrieval_tool({"password":"radiance"}) '
        "[call_OdR3s3xop0vtgkDyWRMLafuH]"]
    # each call shown once its item completed (output_item.done), before the next item
    assert lines.index(calls[0]) == lines.index(shown[3]) + 1
    assert lines[-2:] == [
        "stream 1 ended: done",
        f"response {flow.response_id} completed: 22 events, 1 response(s), 1 stream(s), 0 "
        "change(s) recovered over REST, 0 violation(s)"]
    assert not any("unknown_event" in line or "truncated" in line for line in lines)


def test_a_responses_recording_shows_its_text_and_parts(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = _watch(capsys, str(_responses(HELLO_TEXT)), "--speed", "0", "--diagram")
    assert code == 0
    message = next(line.split()[2].rstrip(":") for line in lines
                   if line.startswith("#2 message msg_"))
    assert f"#13 output_text {message}:0: in_progress -> text_done (response.output_text.done)" \
        in lines
    assert f"text {message}: Hello! How can I assist you today?" in lines
    # the diagram is the Responses grammar's
    assert "        response_in_progress --> response_completed : #16 response.completed" \
        in lines


def _response_captures() -> list[str]:
    """Names for parametrize (collected even when the folder is absent)."""
    from conftest import RECORDINGS

    folder = RECORDINGS / "responses"
    return sorted(p.name for p in folder.glob("*.sse")) if folder.is_dir() else [
        "<recordings folder absent>"]


@pytest.mark.parametrize("name", _response_captures())
def test_watch_and_check_agree_on_every_responses_capture(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = _responses(name)
    code, lines, err = _watch(capsys, str(path), "--speed", "0")
    replay = replay_file(path)
    assert err == ""
    assert code == main(["check", str(path)]) == (0 if replay.flow.ok else 1)
    assert lines[-1].startswith(f"response {replay.flow.response_id or '-'} "
                                f"{replay.flow.status}: {replay.flow.event_count} events")
    assert not any(line.startswith("! ") and "unknown_event" in line for line in lines)


def test_protocol_overrides_the_detection(capsys: pytest.CaptureFixture[str]) -> None:
    """--protocol assistants reads a Responses stream as Assistants: all unknown."""
    code, lines, _ = _watch(capsys, str(_responses(HELLO_TEXT)), "--speed", "0",
                            "--protocol", "assistants")
    assert code == 1
    assert lines[0].startswith("! #0 warning unknown_event")
    assert lines[-1].startswith("run - unseen: 17 events, 1 stream(s)")


def test_a_profile_judges_a_servers_known_quirks(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(_responses("vercel_azure_web_search_preview_gpt41mini.sse"))
    _, plain, _ = _watch(capsys, path, "--speed", "0")
    _, azure, _ = _watch(capsys, path, "--speed", "0", "--profile", "azure")
    assert [line for line in plain if line.startswith("! ")] == [
        line for line in plain if "status_mismatch" in line]
    assert len([line for line in plain if line.startswith("! ")]) == 1
    assert not any(line.startswith("! ") for line in azure)  # expected of Azure: counted
    assert azure[-1].endswith(", 0 violation(s)")
    code, lines, err = _watch(capsys, str(DEMO_STREAM), "--speed", "0", "--profile", "azure")
    assert (code, lines) == (2, [])
    assert err == ("runflow: error: profile 'azure' is for responses streams, and this one "
                   "is assistants\n")


def test_a_responses_jsonl_of_bare_events_is_watched(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """jsonl lines that are the events themselves (``{"type": ...}``), as some tools
    write them: played as events, paced by their response's timestamps."""
    import json

    flow = replay_file(_responses(HELLO_TEXT)).flow
    events = [json.loads(b.split(b"data: ", 1)[1]) for b in
              _responses(HELLO_TEXT).read_bytes().split(b"\n\n") if b"data: " in b]
    path = tmp_path / "bare.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    found = blocks(read_recording(path))
    assert [stamp for _, stamp in found][:2] == [float(events[0]["response"]["created_at"])] * 2
    code, lines, _ = _watch(capsys, str(path), "--speed", "0")
    assert code == 0
    assert lines[-1].startswith(f"response {flow.response_id} completed: 17 events")


# --------------------------------------------------------------------------- #
# pacing
# --------------------------------------------------------------------------- #
def test_schedule_spreads_events_without_a_timestamp_and_never_goes_back() -> None:
    assert schedule([None, 10, None, None, 13, None, 12, None]) == [0, 0, 1, 2, 3, 3, 3, 3]
    assert schedule([None, None]) == [0.0, 0.0]


def test_play_waits_the_recorded_gaps_divided_by_the_speed() -> None:
    from runflow import RunFlow

    events = blocks(read_recording(DEMO_STREAM))
    waits: list[float] = []
    flow = RunFlow()
    play(flow, events, 4.0, waits.append)
    # 1 s, 1 s, the requires_action/done/step.completed second split in two, 1 s, then
    # the 10 message deltas and message.completed sharing the last second
    assert waits == pytest.approx([0.25, 0.25, 0.125, 0.125, 0.25, *[1 / 44] * 11])
    assert (flow.run_status, flow.ending) == ("completed", "done")
    slow: list[float] = []
    play(RunFlow(), events, 0.1, slow.append)
    assert max(slow) == MAX_PAUSE  # a 10 s pause is shortened
    no_wait: list[float] = []
    play(RunFlow(), events, 0, no_wait.append)
    assert no_wait == []


# --------------------------------------------------------------------------- #
# line output: live runs against the local server
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def local() -> Iterator[Server]:
    with Server() as server:
        yield server


def test_a_cut_stream_then_recovery_as_lines(capsys: pytest.CaptureFixture[str],
                                            local: Server) -> None:
    code, lines, err = _watch(
        capsys, "--base-url", local.base_url, "--assistant", "asst_parallel_functions",
        "--fault", "cut_after=8", "--tool-output", "get_weather=sunny",
        "--tool-output", "get_time=noon")
    assert (code, err) == (1, "")  # the cut is a truncated violation
    cut = lines.index("stream 1 ended: truncated")
    assert lines[cut - 1].startswith("! #8 error truncated: the input ended after 8 event(s)")
    assert lines[cut + 1].endswith(": in_progress -> requires_action (recovered over REST)")
    assert lines[cut + 2].startswith('tool call get_weather({"city": "Paris"}) [call_')
    assert lines[cut + 3].startswith('tool call get_time({"timezone": "Europe/Paris"}) [call_')
    assert "stream 2 ended: done" in lines
    assert any(line.endswith("Here is what I found. get_weather: sunny. get_time: noon.")
               for line in lines)
    assert lines[-1].endswith(" completed: 28 events, 2 stream(s), 1 change(s) recovered "
                              "over REST, 1 violation(s)")


def test_following_a_run_by_polling(capsys: pytest.CaptureFixture[str], local: Server) -> None:
    client = openai.OpenAI(base_url=local.base_url, api_key="test", max_retries=0)
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_text")
    code, lines, _ = _watch(capsys, "--base-url", local.base_url, "--thread", thread.id,
                            "--run", run.id, "--interval", "0.01")
    assert code == 0
    assert lines[0] == f"run {run.id}: unseen -> completed (recovered over REST)"
    assert lines[1].startswith("step step_") and lines[1].endswith(
        ": unseen -> completed (recovered over REST)")
    assert lines[3] == ("text " + lines[2].split()[1].rstrip(":") + ": Hello! This answer was "
                        "streamed by the runflow test server.")
    assert lines[-1] == (f"run {run.id} completed: 0 events, 0 stream(s), 3 change(s) "
                         "recovered over REST, 0 violation(s)")


def test_polling_stops_at_the_timeout_while_the_run_waits_for_tools(
        capsys: pytest.CaptureFixture[str], local: Server) -> None:
    client = openai.OpenAI(base_url=local.base_url, api_key="test", max_retries=0)
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread_id=thread.id,
                                          assistant_id="asst_parallel_functions")
    code, lines, _ = _watch(capsys, "--base-url", local.base_url, "--thread", thread.id,
                            "--run", run.id, "--interval", "0.05", "--timeout", "0.2")
    assert code == 0
    assert lines[0] == f"run {run.id}: unseen -> requires_action (recovered over REST)"
    assert [line.split(" [")[0] for line in lines if line.startswith("tool call")] == [
        'tool call get_weather({"city": "Paris"})',
        'tool call get_time({"timezone": "Europe/Paris"})']
    assert lines[-2] == "-- still requires_action after 0.2 s; stopped"


WEATHER = ("--model", "gpt-4o", "--input", "Weather?", "--metadata",
           "scenario=parallel_functions", "--tool-output", "get_weather=sunny",
           "--tool-output", "get_time=noon")


def test_a_live_response_with_tool_calls_as_lines(capsys: pytest.CaptureFixture[str],
                                                  local: Server) -> None:
    code, lines, err = _watch(capsys, "--base-url", local.base_url, *WEATHER)
    assert (code, err) == (0, "")
    calls = [line.split(" [")[0] for line in lines if line.startswith("tool call")]
    assert calls == ['tool call get_weather({"city": "Paris"})',
                     'tool call get_time({"timezone": "Europe/Paris"})']
    ends = [i for i, line in enumerate(lines) if line.startswith("stream ")]
    assert [lines[i] for i in ends] == ["stream 1 ended: done", "stream 2 ended: done"]
    # the calls answered, then the continuation: a response of its own
    assert lines[ends[0] + 1:ends[0] + 3] == ["-- answered get_weather with sunny",
                                              "-- answered get_time with noon"]
    assert lines[ends[0] + 3].startswith("#0 response resp_")
    assert any(line.endswith(": Here is what I found. get_weather: sunny. get_time: noon.")
               and line.startswith("text msg_") for line in lines)
    assert lines[-1].endswith(" completed: 34 events, 2 response(s), 2 stream(s), 0 change(s) "
                              "recovered over REST, 0 violation(s)")


def test_a_cut_live_response_is_read_over_rest(capsys: pytest.CaptureFixture[str],
                                               local: Server) -> None:
    code, lines, _ = _watch(capsys, "--base-url", local.base_url, *WEATHER,
                            "--fault", "cut_after=9")
    assert code == 1  # each response's stream was cut: truncated
    cut = lines.index("stream 1 ended: truncated")
    assert lines[cut - 1].startswith("! #9 error truncated: the input ended after 9 event(s)")
    assert lines[cut + 1].endswith(": in_progress -> completed (recovered over REST)")
    assert lines[cut + 1].startswith("response resp_")
    assert "-- answer (read over REST): Here is what I found. get_weather: sunny. get_time: " \
           "noon." in lines
    assert lines[-1].endswith(" completed: 18 events, 2 response(s), 2 stream(s), 2 change(s) "
                              "recovered over REST, 2 violation(s)")


def test_a_cut_background_response_is_resumed(capsys: pytest.CaptureFixture[str],
                                              local: Server) -> None:
    code, lines, _ = _watch(capsys, "--base-url", local.base_url, *WEATHER, "--background",
                            "--fault", "cut_after=9")
    assert code == 1
    cut = lines.index("stream 1 ended: truncated")
    # resumed after sequence number 8: the stream goes on where it was cut
    assert lines[cut + 1].startswith("#9 function_call fc_")
    assert not any("recovered over REST" in line for line in lines[:-1])
    assert any(line.startswith("text msg_") and line.endswith("get_time: noon.")
               for line in lines)
    assert lines[-1].endswith(" completed: 36 events, 2 response(s), 4 stream(s), 0 change(s) "
                              "recovered over REST, 2 violation(s)")


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
def test_following_a_response(capsys: pytest.CaptureFixture[str], local: Server,
                              background: bool) -> None:
    client = openai.OpenAI(base_url=local.base_url, api_key="test", max_retries=0)
    response = client.responses.create(model="gpt-4o", input="hi", background=background)
    code, lines, _ = _watch(capsys, "--base-url", local.base_url, "--response", response.id,
                            "--interval", "0.01")
    assert code == 0
    text = "Hello! This answer was streamed by the runflow test server."
    if background:  # streamed again from its start
        assert lines[0] == f"#0 response {response.id}: unseen -> queued (response.created)"
        assert any(line.startswith("text msg_") and line.endswith(text) for line in lines)
        assert lines[-1] == (f"response {response.id} completed: 19 events, 1 response(s), 1 "
                             "stream(s), 0 change(s) recovered over REST, 0 violation(s)")
    else:  # read over REST
        assert lines == [
            f"response {response.id}: unseen -> completed (recovered over REST)",
            f"-- answer (read over REST): {text}",
            f"response {response.id} completed: 0 events, 1 response(s), 0 stream(s), 1 "
            "change(s) recovered over REST, 0 violation(s)"]


@pytest.mark.parametrize(("args", "message"), [
    ([], "give a RECORDING to play, or --base-url with --thread and --run (or --assistant), "
         "or with --model and --input (or --response), to follow a live run or response"),
    (["x.jsonl", "--base-url", "http://127.0.0.1:9/v1"], "give a RECORDING or --base-url, "
                                                         "not both (--base-url)"),
    (["--base-url", "http://127.0.0.1:9/v1", "--run", "run_x"], "--run needs its --thread"),
    (["--base-url", "http://127.0.0.1:9/v1"],
     "with --base-url give either --run (with --thread) or --assistant (Assistants), or "
     "--model or --response (Responses)"),
    (["--base-url", "http://127.0.0.1:9/v1", "--model", "m"], "--model needs its --input"),
    (["--base-url", "http://127.0.0.1:9/v1", "--response", "resp_x", "--input", "hi"],
     "--input go with --model (a response watch creates), not --response"),
    (["--base-url", "http://127.0.0.1:9/v1", "--assistant", "a", "--model", "m"],
     "--assistant follow an Assistants run and --model a Responses API response: not both"),
    (["--base-url", "http://127.0.0.1:9/v1", "--assistant", "a", "--protocol", "responses"],
     "--protocol responses does not fit --assistant"),
    (["--base-url", "http://127.0.0.1:9/v1", "--protocol", "responses"],
     "with --base-url give either --model (with --input) or --response"),
    (["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--input", "hi"],
     "cannot reach http://127.0.0.1:9/v1 (following the response): creating a response "
     "failed (APIConnectionError: Connection error.) and the server may have taken it; it "
     "is not sent again (the Responses API lists no responses to check)"),
    (["missing.jsonl"], "missing.jsonl: no such file"),
    (["--base-url", "http://127.0.0.1:9/v1", "--assistant", "asst_text"],
     "cannot reach http://127.0.0.1:9/v1 (following the run)"),
])
def test_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch, args: list[str],
                                   message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, lines, err = _watch(capsys, *args)
    assert (code, lines, err) == (2, [], f"runflow: error: {message}\n")


def test_a_bad_speed_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _watch(capsys, str(DEMO_STREAM), "--speed", "-1")
    assert code == 2
    assert "--speed: expected a number >= 0, got '-1'" in err


# --------------------------------------------------------------------------- #
# the live view, through tmux
# --------------------------------------------------------------------------- #
def _tmux() -> str:
    found = shutil.which("tmux")
    if found is None:
        tool_missing("tmux is not installed (Debian: apt-get install tmux)")
    return found


def _screen_of(watch: list[str], tmp_path: Path) -> str:
    """Run ``python -m runflow watch ...`` in a detached tmux terminal (110x70) and
    return the screen once it has exited (it prints ``EXIT=<code>``)."""
    tmux = [_tmux(), "-L", f"runflow-test-{uuid.uuid4().hex[:8]}", "-f", "/dev/null"]
    command = shlex.join([sys.executable, "-m", "runflow", "watch", *watch])
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "TERM": "xterm-256color"}
    subprocess.run([*tmux, "new-session", "-d", "-s", "watch", "-x", "110", "-y", "70",
                    "bash --norc --noprofile"], check=True, env=env)
    try:
        subprocess.run([*tmux, "send-keys", "-t", "watch", f"clear; {command}; echo EXIT=$?",
                        "Enter"], check=True)
        screen = ""
        deadline = time.monotonic() + 30
        while "EXIT=" not in screen and time.monotonic() < deadline:
            time.sleep(0.1)
            screen = subprocess.run([*tmux, "capture-pane", "-p", "-t", "watch"],
                                    capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    return screen


@pytest.mark.needs_tools
def test_the_live_view_of_a_cut_and_recovered_run_through_tmux(local: Server,
                                                               tmp_path: Path) -> None:
    screen = _screen_of([
        "--base-url", local.base_url, "--assistant", "asst_parallel_functions", "--fault",
        "cut_after=8", "--tool-output", "get_weather=sunny", "--tool-output", "get_time=noon",
        "--diagram"], tmp_path)
    assert "EXIT=1" in screen, screen  # a truncated violation was seen
    rows = [" ".join(line.strip("│ ").split()) for line in screen.splitlines()]
    assert any(r.startswith("run run_") and r.endswith(" completed") for r in rows), screen
    assert sum(r.startswith("step step_") and " completed " in r for r in rows) == 2
    assert any(r.startswith("message msg_") and r.endswith("completed assistant") for r in rows)
    assert "Here is what I found. get_weather: sunny. get_time: noon." in rows
    assert any(r.startswith('get_weather({"city": "Paris"}) call_') for r in rows)
    assert any(r.startswith("#8 error truncated: the input ended after 8 event(s)")
               for r in rows)
    notes = [r for r in rows if r.startswith(("stream ", "run run_"))]
    assert notes[-4:-1] == [
        "stream 1 ended: truncated",
        notes[-3], "stream 2 ended: done"]
    assert notes[-3].endswith(": in_progress -> requires_action (recovered over REST)")
    assert "run_in_progress --> run_requires_action : #8 recovered" in rows
    assert "run_in_progress --> run_completed : #26 thread.run.completed" in rows
    assert notes[-1].endswith(" completed: 28 events, 2 stream(s), 1 change(s) recovered "
                              "over REST, 1")  # the summary wraps at 110 columns


@pytest.mark.needs_tools
def test_the_live_view_of_a_responses_tool_loop_through_tmux(local: Server,
                                                             tmp_path: Path) -> None:
    screen = _screen_of(["--base-url", local.base_url, *WEATHER, "--diagram"], tmp_path)
    assert "EXIT=0" in screen, screen
    rows = [" ".join(line.strip("│ ").split()) for line in screen.splitlines()]
    assert sum(r.startswith("response resp_") and r.endswith(" completed") for r in rows) == 2
    assert sum(r.startswith("item fc_") and r.endswith(" completed function_call")
               for r in rows) == 2
    assert any(r.startswith("item msg_") and r.endswith(" completed message") for r in rows)
    assert "Here is what I found. get_weather: sunny. get_time: noon." in rows
    assert any(r.startswith('get_weather({"city": "Paris"}) call_') for r in rows)
    assert any(r.startswith('get_time({"timezone": "Europe/Paris"}) call_') for r in rows)
    assert "answered get_weather with sunny" in rows
    assert "stream 2 ended: done" in rows
    assert any(r.startswith("function_call_in_progress --> function_call_arguments_done : #")
               for r in rows), screen
    assert any(r.startswith("response resp_") and r.endswith(  # wraps at 110 columns
        " completed: 34 events, 2 response(s), 2 stream(s), 0 change(s) recovered")
               for r in rows), screen


@pytest.mark.needs_tools
@pytest.mark.parametrize(("name", "index", "field", "value", "line"), [
    ("responses/openaidotnet_hello_text_gpt4omini.sse", 2, ("item", "role"), "user",
     "#2 error payload.message.role message msg_"),
    ("dotnet_file_search_file_citation.sse", 22, ("completed_at",), None,
     "#22 error payload.run.completed_at run run_"),
], ids=["responses", "assistants"])
def test_the_live_view_shows_checks_payload_findings_through_tmux(
        name: str, index: int, field: tuple[str, ...], value: object, line: str,
        tmp_path: Path) -> None:
    from runflow.testing.fuzz import encode_sse, parse_sse

    events = parse_sse((recordings_dir() / name).read_bytes())
    where = events[index]["data"]
    for key in field[:-1]:
        where = where[key]
    where[field[-1]] = value
    path = tmp_path / "edited.sse"
    path.write_bytes(encode_sse(events)[0])
    screen = _screen_of(["--speed", "0", str(path)], tmp_path)
    assert "EXIT=1" in screen, screen  # an error-severity finding, as check says
    rows = [" ".join(row.strip("│ ").split()) for row in screen.splitlines()]
    assert any("payload findings (as runflow check)" in r for r in rows), screen
    assert any(r.startswith(line) for r in rows), screen
