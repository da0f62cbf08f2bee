"""The ``runflow`` command line: check, replay, diagram, and broken input."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import jsonl_files, recordings_dir, sse_files

from runflow.adapters.recording import DEMO_STREAM
from runflow.cli import COMMANDS, main
from runflow.cli.output import Output

EDITED = "simpleopenai_EDITED_file_search_step_deltas"
RUNFLOW = [sys.executable, "-m", "runflow"]


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def _check_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--json", *argv])
    (report,) = _json_lines(capsys.readouterr().out)
    return code, report


def _demo_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DEMO_STREAM.read_text(encoding="utf-8").splitlines()]


def _write_jsonl(path: Path, events: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------- #
# check on the real recordings
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "name", [n for n in (*jsonl_files(), *sse_files()) if not n.startswith(EDITED)]
)
def test_check_accepts_every_real_recording(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every real capture passes (the hand-edited one is checked exactly below)."""
    path = recordings_dir() / name
    code, report = _check_json(capsys, str(path))
    assert code == 0, report["violations"]
    assert report["ok"] is True
    assert report["ending"] in ("done", "error")
    assert all(v["severity"] == "warning" for v in report["violations"])


@pytest.mark.parametrize("suffix", [".jsonl", ".sse"])
def test_check_edited_recording(suffix: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Its message deltas were trimmed by hand: a genuine snapshot_divergence."""
    path = recordings_dir() / f"{EDITED}{suffix}"
    code, report = _check_json(capsys, str(path))
    assert code == 1
    assert (report["ok"], report["events"], report["ending"], report["run_status"]) == (
        False, 20, "done", "completed")
    found = [(v["code"], v["index"], v["severity"], v["event"]) for v in report["violations"]]
    assert found == [("snapshot_divergence", 16, "error", "thread.message.completed")] * 2
    assert all(v["entity"].startswith("message msg_") for v in report["violations"])
    assert report["violations"][0]["line"] == (17 if suffix == ".jsonl" else 49)


def test_strict_counts_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    name = "rubyopenai_message_incomplete_max_tokens_run_completed_2024.jsonl"
    path = str(recordings_dir() / name)
    code, report = _check_json(capsys, path)
    assert (code, report["ok"]) == (0, True)
    assert [v["code"] for v in report["violations"]] == ["incomplete_details_on_completed"]
    code, report = _check_json(capsys, "--strict", path)
    assert (code, report["ok"]) == (1, False)


def test_check_human_output_lists_each_violation(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    events = _demo_events()
    bad = _write_jsonl(tmp_path / "bad.jsonl", [events[0], events[2], *events[1:2], *events[3:]])
    assert main(["check", str(DEMO_STREAM), bad]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{DEMO_STREAM}: ok (33 events, ended done, run completed)"
    assert out[1].startswith(f"{bad}: NOT OK (33 events")
    # index, line, severity, code, entity, message
    assert out[2].startswith("  #2 line 3 error invalid_transition run run_demoWeather0001: ")
    assert "thread.run.queued is not allowed" in out[2]
    assert out[-1] == "2 files: 1 ok, 1 not ok"
    assert "\x1b[" not in "".join(out)  # no colour when stdout is not a terminal


def _sse_block(event: dict[str, Any]) -> str:
    data = event["data"] if event["data"] == "[DONE]" else json.dumps(event["data"])
    return f"event: {event['event']}\ndata: {data}\n\n"


# --------------------------------------------------------------------------- #
# mutations of the demo stream: exit 1, expected code and index
# --------------------------------------------------------------------------- #
def _mutations() -> dict[str, tuple[list[dict[str, Any]], str, int]]:
    ev = _demo_events()
    n = len(ev)
    created = 17  # thread.message.created
    return {
        # the run never starts: the step is created while the run is queued
        "drop": (ev[:2] + ev[3:], "run_not_in_progress", 2),
        "duplicate": ([*ev[:created + 1], ev[created], *ev[created + 1:]],
                      "duplicate_entity", created + 1),
        "swap": ([ev[0], ev[2], ev[1], *ev[3:]], "invalid_transition", 2),
        "cut_done": (ev[:-1], "truncated", n - 1),
    }


@pytest.mark.parametrize("mutation", sorted(_mutations()))
@pytest.mark.parametrize("fmt", ["jsonl", "sse"])
def test_mutations_are_reported(mutation: str, fmt: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    events, code_name, index = _mutations()[mutation]
    path = tmp_path / f"mutated.{fmt}"
    if fmt == "jsonl":
        _write_jsonl(path, events)
    else:
        path.write_text("".join(_sse_block(e) for e in events), encoding="utf-8")
    code, report = _check_json(capsys, str(path))
    assert code == 1
    assert report["ok"] is False
    first = report["violations"][0]
    assert (first["code"], first["index"], first["severity"]) == (code_name, index, "error")
    if code_name != "truncated":  # truncated is past the last event: no line
        assert first["line"] == (index + 1 if fmt == "jsonl" else 3 * index + 1)


# --------------------------------------------------------------------------- #
# broken input: exit 2 with one line, or malformed_event with the line number
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("garbage.bin", bytes(range(256)) * 4, "binary data"),
        ("garbage.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "binary data"),
        ("empty.jsonl", b"", "empty"),
        ("blank.sse", b"\n\n  \n", "empty"),
        ("notes.md", b"# hello\nthis is not a stream\n", "neither JSON lines nor SSE"),
        ("notes.txt", b"Dear diary,\nToday: a stream validator.\n", "not a recording"),
        ("prose.sse", b"Hello world.\nNo event here.\n", "not a recording"),
        ("prose.jsonl", b"Hello world.\n\nNo JSON here either.\n", "not a recording"),
    ],
)
def test_unreadable_input_exits_2_with_one_line(
    name: str, content: bytes, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith(f"runflow: error: {path}: ") and reason in line


def test_directory_and_missing_path_exit_2(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for argv, reason in ((["check", str(tmp_path)], "is a directory"),
                         (["replay", str(tmp_path / "nope.jsonl")], "no such file")):
        assert main(argv) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert reason in line


def test_unreadable_file_among_others_exits_2(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", str(DEMO_STREAM), str(tmp_path / "missing.sse")]) == 2
    first, second = _json_lines(capsys.readouterr().out)
    assert first["ok"] is True
    assert second == {"file": str(tmp_path / "missing.sse"), "ok": False,
                      "error": f"{tmp_path / 'missing.sse'}: no such file"}


def test_broken_jsonl_lines_are_malformed_events_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = DEMO_STREAM.read_text(encoding="utf-8").splitlines()
    lines.insert(5, "")  # blank lines are skipped but counted
    lines[8] = lines[8][:40]  # a truncated JSON line (line 9)
    lines.insert(10, "[1, 2]")  # JSON, not an object (line 11)
    lines.insert(12, '{"data": null}')  # no event name (line 13)
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, report = _check_json(capsys, str(path))
    assert code == 1
    malformed = [v for v in report["violations"] if v["code"] == "malformed_event"]
    assert [(v["line"], v["message"].split(":")[0]) for v in malformed] == [
        (9, "line 9"), (11, "line 11"), (13, "line 13")]
    assert "not valid JSON" in malformed[0]["message"]
    assert "not an object" in malformed[1]["message"]
    assert "no 'event' name" in malformed[2]["message"]
    assert [v["index"] for v in malformed] == [7, 9, 11]


def test_truncated_last_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = DEMO_STREAM.read_bytes()
    path = tmp_path / "cut.jsonl"
    path.write_bytes(data[: len(data) - 10])
    code, report = _check_json(capsys, str(path))
    assert code == 1
    assert [v["code"] for v in report["violations"]] == ["malformed_event", "truncated"]
    assert report["violations"][0]["message"].startswith("line 33: not valid JSON")


def test_format_is_sniffed_without_extension(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("demo", "demo.log"):
        path = tmp_path / name
        path.write_bytes(DEMO_STREAM.read_bytes())
        code, report = _check_json(capsys, str(path))
        assert (code, report["events"], report["ok"]) == (0, 33, True)


# --------------------------------------------------------------------------- #
# stdin, help, subprocess
# --------------------------------------------------------------------------- #
def test_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    sse = (recordings_dir() / "dotnet_text_answer.sse").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(sse)))
    code, report = _check_json(capsys, "-")
    assert (code, report["file"], report["events"], report["run_status"]) == (
        0, "-", 44, "completed")


def test_dash_twice_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "-", "-"]) == 2
    assert "only once" in capsys.readouterr().err


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help(command: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--help"] if command is None else [command, "--help"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    if command is None:
        assert out.startswith("usage: runflow")
        assert all(name in out for name in COMMANDS)
    else:
        assert out.startswith(f"usage: runflow {command}")
        assert " ".join(COMMANDS[command].split()) in " ".join(out.split())
    if command in ("check", "replay"):
        assert "exit codes: 0" in out


LOADED = ("import sys, runflow.cli as cli; code = cli.main({argv!r}); "
          "print(sorted(m for m in sys.modules if m.startswith(('openai', 'runflow.cli.'))))")


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["--color", "never", "--help"]])
def test_help_and_version_import_no_subcommand_and_no_openai(argv: list[str]) -> None:
    """Start-up is lazy: the top-level answers load no subcommand module and none
    of the openai types (which take a second or more to import)."""
    done = subprocess.run([sys.executable, "-c", LOADED.format(argv=argv)], capture_output=True,
                          text=True, check=True)
    assert done.stdout.splitlines()[-1] == "['runflow.cli.output']"


def test_a_subcommand_loads_only_its_own_module() -> None:
    done = subprocess.run([sys.executable, "-c", LOADED.format(argv=["replay", "--help"])],
                          capture_output=True, text=True, check=True)
    loaded = eval(done.stdout.splitlines()[-1])  # a printed list of names
    assert [m for m in loaded if m.startswith("runflow.cli.")] == [
        "runflow.cli.common", "runflow.cli.output", "runflow.cli.replay"]


WATCHED = ("openai.types.beta", "runflow.conform.runner", "runflow.protocols.assistants.flow",
           "runflow.protocols.responses.flow")
CHECKED = ("import sys, runflow.cli as cli; code = cli.main(['check', {path!r}]); "
           f"print(code, sorted(m for m in sys.modules if m in {WATCHED!r}))")


def test_check_of_a_responses_recording_loads_no_assistants_types() -> None:
    """Checking a Responses recording imports its own flow and none of the
    Assistants' (nor ``openai.types.beta``, a second of start-up); checking an
    Assistants stream imports its flow, and no SDK type either (checking builds
    no typed snapshot, and the types layer runs only with ``--types``;
    tests/test_startup.py has the whole picture). Neither loads conform's runner (the
    openai client, for grading a live server)."""
    stream = recordings_dir() / "responses" / "openaidotnet_hello_text_gpt4omini.sse"
    done = subprocess.run([sys.executable, "-c", CHECKED.format(path=str(stream))],
                          capture_output=True, text=True, check=True)
    assert "ok (17 events, ended done, response completed)" in done.stdout
    assert done.stdout.splitlines()[-1] == "0 ['runflow.protocols.responses.flow']"
    done = subprocess.run([sys.executable, "-c", CHECKED.format(path=str(DEMO_STREAM))],
                          capture_output=True, text=True, check=True)
    code, loaded = done.stdout.splitlines()[-1].split(" ", 1)
    assert code == "0"
    assert eval(loaded) == ["runflow.protocols.assistants.flow"]  # a printed list of names


def test_import_runflow_is_cheap_and_every_public_name_resolves() -> None:
    """``import runflow`` loads no openai type; each name of ``__all__`` resolves
    (lazily) to the object of its home module, and ``from runflow import X`` works."""
    import runflow

    code = ("import sys, runflow; print(any(m.split('.')[0] == 'openai' for m in sys.modules)); "
            "from runflow import RunFlow, drive; print(RunFlow.__name__, drive.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "RunFlow", "drive"]
    homes = runflow._HOMES  # the name -> module table under test
    assert sorted(n for names in homes.values() for n in names) == sorted(runflow.__all__)
    for module, names in homes.items():
        loaded = __import__(module, fromlist=["_"])
        for name in names:
            assert getattr(runflow, name) is getattr(loaded, name)
    assert set(runflow.__all__) <= set(dir(runflow))
    assert _type_checking_imports(Path(runflow.__file__)) == {
        (module, name) for module, names in homes.items() for name in names}
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        runflow.nope  # noqa: B018


def _type_checking_imports(path: Path) -> set[tuple[str, str]]:
    """(module, name) of each ``from module import name`` under ``if TYPE_CHECKING:``."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module
                found |= {(stmt.module, alias.name) for alias in stmt.names}
    return found


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["check"]) == 2
    assert main(["diagram", "--format", "gif"]) == 2
    assert main(["frobnicate"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_subprocess_check_and_stdin(tmp_path: Path) -> None:
    done = subprocess.run([*RUNFLOW, "check", "-"], input=DEMO_STREAM.read_bytes(),
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("-: ok (33 events")
    garbage = tmp_path / "x.sse"
    garbage.write_bytes(b"\x00\x01\x02garbage")
    done = subprocess.run([*RUNFLOW, "check", str(garbage)], capture_output=True, check=False)
    assert done.returncode == 2
    assert done.stderr.decode().strip() == f"runflow: error: {garbage}: binary data, " \
        "neither JSON lines nor SSE"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_and_progress_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    term, pipe = _Terminal(), io.StringIO()
    assert Output(term, pipe).color and not Output(term, pipe).progress_enabled
    assert not Output(pipe, term).color and Output(pipe, term).progress_enabled
    assert Output(term, pipe).style("ok", "green") == "\x1b[32mok\x1b[0m"
    assert Output(pipe, pipe).style("ok", "green") == "ok"
    assert Output(pipe, pipe, color="always").color
    monkeypatch.setenv("NO_COLOR", "1")
    assert not Output(term, pipe).color
    err = _Terminal()
    out = Output(pipe, err)
    out.progress(1, 2, "a.jsonl")
    out.print("result")
    assert err.getvalue() == "\r\x1b[2K[1/2] a.jsonl\r\x1b[2K" and pipe.getvalue() == "result\n"


@pytest.mark.parametrize("argv", [["check", str(DEMO_STREAM)], ["replay", str(DEMO_STREAM)],
                                  ["check", "--json", str(DEMO_STREAM), str(DEMO_STREAM)]])
def test_progress_on_a_terminal_and_none_with_q(argv: list[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """check and replay say what they are doing on a terminal's stderr (the file,
    then the grading) and clear it before any result; -q turns it off."""
    err, out = _Terminal(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", out)
    assert main(argv) == 0
    shown = err.getvalue()
    assert f"\x1b[2K{'[1/2] ' if len(argv) > 2 + (argv[1] == '--json') else ''}" \
           f"{DEMO_STREAM}" in shown
    assert shown.endswith("\r\x1b[2K")  # cleared
    assert "\x1b" not in out.getvalue()
    err.seek(0)
    err.truncate()
    assert main([argv[0], "-q", *argv[1:]]) == 0
    assert err.getvalue() == ""


def test_ticking_rewrites_the_line_until_the_block_ends() -> None:
    """The progress thread shows ``text()`` while the block runs (here: until it has
    been shown once), and nothing once it ended."""
    import threading

    err = _Terminal()
    out = Output(io.StringIO(), err)
    shown = threading.Event()

    def text() -> str:
        shown.set()
        return "big.jsonl: 1,234 events"

    with out.ticking(text, every=0.01):
        assert shown.wait(timeout=60)
    after = err.getvalue()
    assert "\r\x1b[2Kbig.jsonl: 1,234 events" in after
    out.clear_progress()
    assert err.getvalue().endswith("\r\x1b[2K")
    quiet_err = _Terminal()
    quiet = Output(io.StringIO(), quiet_err)
    quiet.quiet()
    with quiet.ticking(text, every=0.01):
        pass
    assert quiet_err.getvalue() == ""


def test_subprocess_colour_only_when_forced() -> None:
    env = {**os.environ, "NO_COLOR": ""}
    plain = subprocess.run([*RUNFLOW, "check", str(DEMO_STREAM)], capture_output=True,
                           text=True, check=True, env=env)
    assert "\x1b[" not in plain.stdout  # a pipe is not a terminal
    forced = subprocess.run([*RUNFLOW, "--color", "always", "check", str(DEMO_STREAM)],
                            capture_output=True, text=True, check=True, env=env)
    assert "\x1b[32mok\x1b[0m" in forced.stdout


# --------------------------------------------------------------------------- #
# replay
# --------------------------------------------------------------------------- #
def test_replay_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--json", str(DEMO_STREAM)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"run", "messages", "steps"}
    assert (doc["run"]["id"], doc["run"]["status"]) == ("run_demoWeather0001", "completed")
    assert [m["id"] for m in doc["messages"]] == ["msg_demoAnswer0001"]
    assert doc["messages"][0]["content"][0]["text"]["value"] == (
        "It's 24°C and clear in Lisbon today.")
    assert [(s["id"], s["type"], s["status"]) for s in doc["steps"]] == [
        ("step_demoToolCall0001", "tool_calls", "completed"),
        ("step_demoMessage0001", "message_creation", "completed"),
    ]
    call = doc["steps"][0]["step_details"]["tool_calls"][0]
    assert call["function"]["output"] == '{"temperature_c": 24, "sky": "clear"}'


def test_replay_json_of_a_real_multi_step_run(capsys: pytest.CaptureFixture[str]) -> None:
    path = recordings_dir() / "openllmetry_code_interpreter_logs_message_tool_message_2024.sse"
    assert main(["replay", "--json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["steps"]) == 3 and len(doc["messages"]) == 2
    types = [s["type"] for s in doc["steps"]]
    assert types == ["message_creation", "tool_calls", "message_creation"]


def test_replay_timeline_and_snapshots(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(DEMO_STREAM)]) == 0
    out = capsys.readouterr().out.splitlines()
    timeline = [line.split() for line in out if line.startswith("  #")]
    assert timeline[0] == ["#0", "run", "run_demoWeather0001", "unseen", "->", "queued",
                           "thread.run.created"]
    assert ["#10", "run", "run_demoWeather0001", "in_progress", "->", "requires_action",
            "thread.run.requires_action"] in timeline
    assert len(timeline) == 16
    assert "run run_demoWeather0001: completed" in out
    assert "    It's 24°C and clear in Lisbon today." in out
    assert any("function get_weather({\"city\":\"Lisbon\"}) -> {" in line for line in out)


def test_replay_shows_violations_and_exits_1(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _write_jsonl(tmp_path / "cut.jsonl", _demo_events()[:11])  # ends at requires_action
    assert main(["replay", path]) == 1
    out = capsys.readouterr().out
    assert "#11 error truncated" in out
    assert "waiting for output of call_demoGetWeather0001: get_weather" in out


def test_replay_path_diagram(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "path.mmd"
    assert main(["replay", "--json", "--path-diagram", str(out), str(DEMO_STREAM)]) == 0
    json.loads(capsys.readouterr().out)  # stdout stays pure JSON
    text = out.read_text(encoding="utf-8")
    assert text.splitlines()[1] == "stateDiagram-v2"
    assert "run_requires_action --> run_queued : #13 thread.run.queued" in text
    assert "message_in_progress --> message_completed : #29 thread.message.completed" in text
    assert main(["replay", "--json", "--path-diagram", "-", str(DEMO_STREAM)]) == 2


# --------------------------------------------------------------------------- #
# diagram
# --------------------------------------------------------------------------- #
def test_diagram_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runflow.diagrams import dot_all, mermaid
    from runflow.protocols import PROTOCOL, Entity

    assert main(["diagram"]) == 0
    assert capsys.readouterr().out == (Path(__file__).parent.parent / "diagrams" / "all.mmd"
                                       ).read_text(encoding="utf-8")
    assert main(["diagram", "--entity", "message"]) == 0
    assert capsys.readouterr().out == mermaid(PROTOCOL.tables[Entity.MESSAGE])
    target = tmp_path / "all.dot"
    assert main(["diagram", "--format", "dot", "-o", str(target)]) == 0
    assert target.read_text() == dot_all()


@pytest.mark.parametrize("name, start", [
    ("all.mmd", b"stateDiagram-v2"), ("all.dot", b"digraph"), ("all.gv", b"digraph"),
    ("all.svg", b"<?xml"), ("all.png", b"\x89PNG")])
def test_diagram_output_format_follows_the_suffix(name: str, start: bytes,
                                                  tmp_path: Path) -> None:
    from runflow.diagrams import graphviz_version

    if name.endswith((".svg", ".png")) and graphviz_version() is None:
        pytest.skip("needs Graphviz's dot (the test below covers its absence)")
    assert main(["diagram", "-o", str(tmp_path / name)]) == 0
    assert start in (tmp_path / name).read_bytes()[:400]


@pytest.mark.parametrize("name", ["all.svg", "all.png"])
def test_diagram_to_an_image_without_graphviz_refuses_and_writes_nothing(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder without `dot`
    target = tmp_path / name
    assert main(["diagram", "-o", str(target)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"runflow: error: cannot write {target}: ")
    assert "needs Graphviz's `dot`" in line and f"-o {tmp_path / 'all'}.mmd" in line
    assert not target.exists()


def test_diagram_format_contradicting_the_suffix_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "x.svg"
    assert main(["diagram", "--format", "mermaid", "-o", str(target)]) == 2
    assert "its suffix means SVG, but --format mermaid was asked" in capsys.readouterr().err
    assert not target.exists()
    assert main(["diagram", "--format", "dot", "-o", str(tmp_path / "x.txt")]) == 0  # unknown


# --------------------------------------------------------------------------- #
# runflow.adapters.recording (the module behind check and replay)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", [n.removesuffix(".sse") for n in sse_files()])
def test_jsonl_and_sse_of_a_recording_give_the_same_flow(name: str) -> None:
    from runflow.adapters.recording import read_recording

    jsonl = read_recording(recordings_dir() / f"{name}.jsonl").replay()
    sse = read_recording(recordings_dir() / f"{name}.sse").replay()
    assert (jsonl.recording.format, sse.recording.format) == ("jsonl", "sse")
    assert jsonl.flow.history == sse.flow.history
    assert [v.code for v in jsonl.flow.violations] == [v.code for v in sse.flow.violations]
    # every event has a line, lines only grow
    for replay in (jsonl, sse):
        lines = [replay.lines[i] for i in range(replay.flow.event_count)]
        assert lines == sorted(lines) and len(set(lines)) == len(lines)


def test_recording_errors_are_typed_and_stdin_is_read(tmp_path: Path) -> None:
    from runflow.adapters.recording import RecordingError, read_recording

    with pytest.raises(RecordingError, match="no such file"):
        read_recording(tmp_path / "none.jsonl")
    rec = read_recording("-", stdin=io.BytesIO(DEMO_STREAM.read_bytes()))
    assert (rec.name, rec.format) == ("-", "jsonl")
    with pytest.raises(RecordingError, match="neither JSON lines nor SSE"):
        read_recording("-", stdin=io.BytesIO(b"hello"))


def test_replay_can_leave_the_flow_open_for_more_streams() -> None:
    from runflow import RunFlow
    from runflow.adapters.recording import read_recording

    lines = DEMO_STREAM.read_bytes().splitlines(keepends=True)
    first, second = b"".join(lines[:12]), b"".join(lines[12:])  # split after the first done
    flow = RunFlow()
    part = read_recording("-", stdin=io.BytesIO(first)).replay(flow, close=False)
    assert (part.ending, flow.run_status) == ("done", "requires_action")
    read_recording("-", stdin=io.BytesIO(second)).replay(flow)
    assert (flow.run_status, flow.violations) == ("completed", [])
