"""The examples run as scripts, on the shipped demo stream and on a given file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import recordings_dir

from runflow.adapters.recording import DEMO_STREAM, replay_file
from runflow.data.make_demo_stream import demo_jsonl

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True, text=True, cwd=cwd, check=False,
    )


def test_demo_stream_is_what_the_generator_writes() -> None:
    assert DEMO_STREAM.read_text(encoding="utf-8") == demo_jsonl(), (
        "run `python -m runflow.data.make_demo_stream`")


def test_demo_stream_is_a_clean_function_call_run_over_two_streams() -> None:
    replay = replay_file(DEMO_STREAM)
    flow = replay.flow
    assert (flow.violations, replay.ending, flow.run_status) == ([], "done", "completed")
    names = [line.split('"')[3] for line in DEMO_STREAM.read_text().splitlines()]
    assert names.count("done") == 2
    assert names[names.index("done") - 1] == "thread.run.requires_action"
    assert names[names.index("done") + 1] == "thread.run.step.completed"
    assert flow.text == "It's 24°C and clear in Lisbon today."


def test_replay_with_callbacks(tmp_path: Path) -> None:
    done = _run("replay_with_callbacks.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        '[run] requires_action: get_weather({"city":"Lisbon"})',
        '[step] get_weather returned {"temperature_c": 24, "sky": "clear"}',
        "It's 24°C and clear in Lisbon today.",
        "[message] msg_demoAnswer0001 completed with 1 part(s)",
        "",
        "[run] completed, usage: 187 tokens",
        "[end] stream ended with done; 0 violation(s)",
    ]


def test_replay_with_callbacks_on_a_real_sse_recording(tmp_path: Path) -> None:
    path = recordings_dir() / "dotnet_function_call_continuation.sse"
    done = _run("replay_with_callbacks.py", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "[step] get_current_weather returned warm and sunny" in done.stdout
    assert "Since it's warm and sunny outside" in done.stdout
    assert done.stdout.splitlines()[-1] == "[end] stream ended with done; 0 violation(s)"


def test_find_violations_default(tmp_path: Path) -> None:
    done = _run("find_violations.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["demo_stream.jsonl: 33 events, ended done, run completed",
                         "  no violations"]
    assert lines[2] == "demo_without_done.jsonl: 32 events, ended truncated, run completed"
    assert lines[3].split()[:4] == ["error", "truncated", "event", "#32:"]


def test_find_violations_on_given_files(tmp_path: Path) -> None:
    edited = recordings_dir() / "simpleopenai_EDITED_file_search_step_deltas.jsonl"
    done = _run("find_violations.py", str(edited), str(tmp_path / "missing.jsonl"),
                cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[1].split()[:5] == ["error", "snapshot_divergence", "event", "#16", "(line"]
    assert lines[-1] == f"cannot read: {tmp_path / 'missing.jsonl'}: no such file"
    assert "Traceback" not in done.stderr


def test_export_diagrams(tmp_path: Path) -> None:
    done = _run("export_diagrams.py", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    for name in ("thread", "run", "step", "message", "all"):
        assert (out / f"{name}.mmd").read_text().splitlines()[1] == "stateDiagram-v2"
        title = "all entities" if name == "all" else f"{name} states"
        assert (out / f"{name}.dot").read_text().startswith(f"// {title}, generated")
        assert (out / f"{name}.svg").exists() == (shutil.which("dot") is not None)
    committed = EXAMPLES.parent / "diagrams" / "run.mmd"
    assert (out / "run.mmd").read_bytes() == committed.read_bytes()
    assert "run_requires_action --> run_queued" in (out / "demo_path.mmd").read_text()
    assert done.stdout.splitlines()[-1] == "diagrams in out"


def test_embed_event_handler(tmp_path: Path) -> None:
    """A live run through the SDK's event_handler=, against the local server."""
    done = _run("embed_event_handler.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = ("Here is what I found. get_weather: sunny, 21 °C in Paris. "
              "get_time: 14:05 (Europe/Paris).")
    assert done.stdout.splitlines() == [
        '[tool] get_weather({"city": "Paris"})',
        '[tool] get_time({"timezone": "Europe/Paris"})',
        answer,  # streamed by the on_text("delta") callback
        "[run] completed, stream ended with done",
        f"[answer] {answer}",
        "[violations] 0",
    ]
    assert done.stderr == ""


def test_responses_tools(tmp_path: Path) -> None:
    """drive_response against the local server, its first stream cut on purpose."""
    done = _run("responses_tools.py", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    answer = ("Here is what I found. get_weather: sunny, 21 °C in Paris. "
              "get_time: 14:05 (Europe/Paris).")
    assert done.stdout.splitlines() == [
        answer,  # streamed by the on_text_delta callback of the second response's flow
        '[tool] get_weather({"city": "Paris"}) -> sunny, 21 °C in Paris',
        '[tool] get_time({"timezone": "Europe/Paris"}) -> 14:05 (Europe/Paris)',
        "[response 1] completed, stream ended truncated, 1 violation(s)",
        "[response 2] completed, stream ended done, 0 violation(s)",
        f"[answer] {answer}",
    ]
    assert done.stderr == ""


def test_agent_example_runs_under_pytest_across_every_scenario_and_fault() -> None:
    """examples/test_agent_example.py, through the plugin, as a user would run it."""
    from runflow.testing import RESPONSE_SCENARIOS, SCENARIOS
    from runflow.testing.plugin import ALL_FAULTS

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "runflow.testing.plugin", "-p",
         "no:cacheprovider", "-q", str(EXAMPLES / "test_agent_example.py")],
        capture_output=True, text=True, cwd=EXAMPLES.parent, check=False, timeout=300,
    )
    # one clean run per scenario, one per scenario and fault, one async, one recording;
    # one per Responses scenario, one per fault on the Responses function-call loop
    expected = (len(SCENARIOS) + len(SCENARIOS) * len(ALL_FAULTS) + 2
                + len(RESPONSE_SCENARIOS) + len(ALL_FAULTS))
    assert done.returncode == 0, done.stdout[-3000:]
    assert re.search(rf"^{expected} passed in ", done.stdout, re.M), done.stdout[-3000:]
