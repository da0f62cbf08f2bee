"""Diagrams: generated from the protocol table, committed in diagrams/, kept fresh."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import recordings_dir, tool_missing

from runflow.adapters.recording import DEMO_STREAM, replay_file
from runflow.cli import main
from runflow.cli.diagram import entity_choices
from runflow.diagrams import (
    REFRESH_COMMAND,
    GraphvizNotFoundError,
    diagram_files,
    diagram_names,
    diagram_text,
    dot,
    dot_all,
    graphviz_version,
    mermaid,
    mermaid_all,
    path_mermaid,
    render,
    svg_generator_version,
    write_diagram_files,
)
from runflow.protocols import (
    PROTOCOL,
    Entity,
    EntityTable,
    Transition,
    build_assistants,
)
from runflow.protocols.registry import PROTOCOLS
from runflow.protocols.responses.definition import build_responses
from runflow.protocols.responses.flow import ResponseFlow

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "diagrams"
RESPONSES = PROTOCOLS["responses"]
IN_CI = os.environ.get("CI") == "true"
STALE = f"diagrams/ is stale: run `{REFRESH_COMMAND}` and commit the result"


def _mermaid_edges(text: str) -> list[tuple[str, str, str]]:
    """(source, dest, label) of every ``a --> b : label`` line."""
    return re.findall(r"^\s*(\S+) --> (\S+) : (.+)$", text, re.M)


# --------------------------------------------------------------------------- #
# the committed folder
# --------------------------------------------------------------------------- #
def test_committed_mermaid_and_readme_match_the_table() -> None:
    expected = diagram_files(svg=False)
    for name, data in expected.items():
        path = DIAGRAMS / name
        assert path.is_file(), f"diagrams/{name} is missing; {STALE}"
        assert path.read_bytes() == data, f"diagrams/{name} differs; {STALE}"


def test_committed_folder_has_exactly_the_generated_files() -> None:
    names = {*diagram_files(svg=False),
             *(f"{e}.svg" for e in ("run", "step", "message", "stream", "all"))}
    # and the Responses definition's folder, checked below
    assert {p.name for p in DIAGRAMS.iterdir()} == names | {"responses"}
    assert (DIAGRAMS / "responses").is_dir()


@pytest.mark.needs_tools
def test_committed_svgs_match_the_table() -> None:
    """Needs Graphviz; CI installs it (.ci/run), so this never skips there."""
    _need_dot()
    installed = graphviz_version()
    recorded = svg_generator_version((DIAGRAMS / "run.svg").read_text(encoding="utf-8"))
    if recorded != installed:
        message = f"the SVGs were made by Graphviz {recorded}, this is {installed}"
        if IN_CI:
            pytest.fail(f"{message}; {STALE} with the Graphviz CI installs")
        pytest.skip(message)
    for name, data in diagram_files(svg=True).items():
        if name.endswith(".svg"):
            assert (DIAGRAMS / name).read_bytes() == data, f"diagrams/{name} differs; {STALE}"


def test_refresh_writes_the_same_files(tmp_path: Path) -> None:
    (tmp_path / "run.mmd").write_text("stale\n")
    assert main(["diagram", "--refresh", "-o", str(tmp_path)]) == 0
    assert (tmp_path / "run.mmd").read_bytes() == (DIAGRAMS / "run.mmd").read_bytes()
    assert (tmp_path / "README.md").read_bytes() == (DIAGRAMS / "README.md").read_bytes()


def test_readme_embeds_every_mermaid_diagram() -> None:
    readme = (DIAGRAMS / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", readme, re.S)
    assert len(blocks) == 5
    for block, name in zip(blocks, ("run", "step", "message", "stream", "all"), strict=True):
        body = [ln for ln in (DIAGRAMS / f"{name}.mmd").read_text().splitlines()
                if not ln.startswith("%%")]
        assert block.splitlines() == body


# --------------------------------------------------------------------------- #
# generated from the table
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("entity", list(Entity))
def test_mermaid_has_every_transition_with_its_label(entity: Entity) -> None:
    table = PROTOCOL.tables[entity]
    text = mermaid(table)
    assert text.splitlines()[1] == "stateDiagram-v2"
    assert "    [*] --> unseen" in text.splitlines()
    edges = _mermaid_edges(text)
    for t in table.transitions:
        for src in t.sources:
            labels = [lab for s, d, lab in edges if (s, d) == (src, t.dest)]
            assert any(t.event in lab.split(", ") for lab in labels), (src, t.event, t.dest)
    for name, states in table.deltas.items():
        for s in states:
            assert (s, s, f"{name} (delta)") in edges
    # no edge that the table does not have
    pairs = {(s, t.dest) for t in table.transitions for s in t.sources}
    pairs |= {(s, s) for states in table.deltas.values() for s in states}
    assert {(s, d) for s, d, _ in edges} == pairs
    ends = set(re.findall(r"^\s*(\S+) --> \[\*\]$", text, re.M))
    assert ends == set(table.terminal)


def test_several_events_between_two_states_share_one_label_in_table_order() -> None:
    edges = _mermaid_edges(mermaid(PROTOCOL.tables[Entity.RUN]))
    labels = [lab for s, d, lab in edges if (s, d) == ("unseen", "queued")]
    assert labels == ["thread.run.created, thread.run.queued"]


def test_combined_view_has_one_composite_per_entity_with_unique_ids() -> None:
    text = mermaid_all()
    assert re.findall(r"^    state (\w+) \{$", text, re.M) == [e.value for e in Entity]
    for entity in Entity:
        table = PROTOCOL.tables[entity]
        assert f"        [*] --> {entity.value}_unseen" in text
        for s in table.terminal:
            assert f"        {entity.value}_{s} --> [*]" in text
    ids = re.findall(r'state "[^"]+" as (\S+)', text)
    assert len(ids) == len(set(ids)) == sum(len(t.states) for t in PROTOCOL.tables.values())


def test_dot_marks_deltas_dashed_and_terminals_doubled() -> None:
    text = dot(PROTOCOL.tables[Entity.MESSAGE])
    assert '"in_progress" -> "in_progress" [label="thread.message.delta", style=dashed' in text
    assert '"completed" [label="completed", peripheries=2];' in text
    assert '"in_progress" [label="in_progress"];' in text
    merged = '[label="thread.message.created\\nthread.message.in_progress"]'
    assert f'"unseen" -> "in_progress" {merged}' in text
    combined = dot_all()
    for entity in Entity:
        assert f'subgraph "cluster_{entity.value}"' in combined


def test_a_table_change_changes_the_diagrams() -> None:
    run = PROTOCOL.tables[Entity.RUN]
    changed = dataclasses.replace(
        run,
        transitions=(*run.transitions,
                     Transition("thread.run.cancelled", ("requires_action",), "cancelled")),
    )
    assert mermaid(changed) != mermaid(run)
    assert ("requires_action", "cancelled", "thread.run.cancelled") in _mermaid_edges(
        mermaid(changed))
    assert dot(changed) != dot(run)
    tables = [changed if t.entity is Entity.RUN else t for t in PROTOCOL.tables.values()]
    protocol = build_assistants(tuple(tables))
    assert diagram_files(protocol, svg=False)["run.mmd"] != diagram_files(svg=False)["run.mmd"]
    assert diagram_files(protocol, svg=False)["README.md"] != diagram_files(svg=False)["README.md"]


def test_a_new_terminal_state_ends_in_star() -> None:
    table = EntityTable(
        entity=Entity.THREAD,
        states=("unseen", "created", "deleted"),
        terminal=frozenset({"created", "deleted"}),
        transitions=(Transition("thread.created", ("unseen",), "created"),
                     Transition("thread.deleted", ("unseen",), "deleted")),
    )
    text = mermaid(table)
    assert "    deleted --> [*]" in text
    assert ("unseen", "deleted", "thread.deleted") in _mermaid_edges(text)


def test_output_is_identical_across_processes() -> None:
    code = ("from runflow.diagrams import *; import sys; "
            "sys.stdout.write(mermaid_all() + dot_all() + diagram_files(svg=False)['README.md']"
            ".decode())")
    runs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         env={**os.environ, "PYTHONHASHSEED": seed})
        for seed in ("1", "2")
    ]
    outputs = {run.communicate()[0] for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert len(outputs) == 1
    assert outputs.pop().decode() == mermaid_all() + dot_all() + (
        DIAGRAMS / "README.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- #
# Graphviz
# --------------------------------------------------------------------------- #
def test_missing_dot_names_the_package_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder without `dot`
    with pytest.raises(GraphvizNotFoundError) as info:
        render(dot_all(), "svg")
    assert "apt-get install graphviz" in str(info.value)
    assert "brew install graphviz" in str(info.value)
    assert graphviz_version() is None
    assert main(["diagram", "--format", "svg"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    # Mermaid and DOT need no binary.
    assert main(["diagram", "--format", "dot", "--entity", "step"]) == 0
    assert capsys.readouterr().out == dot(PROTOCOL.tables[Entity.STEP])
    # --refresh writes the text files, names the SVGs it could not render, exits 0
    # (a missing optional renderer is not a usage error) and leaves old SVGs alone.
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "run.svg").write_text("old\n")
    assert main(["diagram", "--refresh", "-o", str(tmp_path / "d")]) == 0
    assert (tmp_path / "d" / "all.mmd").read_text() == mermaid_all()
    for name, data in diagram_files(svg=False).items():
        assert (tmp_path / "d" / name).read_bytes() == data
    assert not (tmp_path / "d" / "all.svg").exists()
    assert (tmp_path / "d" / "run.svg").read_text() == "old\n"
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "were not rendered" in err and "apt-get install graphviz" in err
    for name in ("run.svg", "step.svg", "message.svg", "all.svg"):
        assert name in err


def _need_dot() -> None:
    if graphviz_version() is None:
        tool_missing("Graphviz `dot` is not on PATH (Debian: apt-get install graphviz)")


@pytest.mark.needs_tools
def test_svg_and_png_rendering() -> None:
    _need_dot()
    svg = render(dot_all(), "svg")
    assert svg.startswith(b"<?xml") and b"cluster_run" in svg
    assert render(dot_all(), "svg") == svg
    assert render(dot(PROTOCOL.tables[Entity.RUN]), "png").startswith(b"\x89PNG")


# --------------------------------------------------------------------------- #
# the path of one flow
# --------------------------------------------------------------------------- #
def test_path_diagram_of_the_demo_run() -> None:
    flow = replay_file(DEMO_STREAM).flow
    text = path_mermaid(flow.history)
    edges = _mermaid_edges(text)
    assert ("run_requires_action", "run_queued", "#13 thread.run.queued") in edges
    assert ("run_queued", "run_in_progress", "#2 thread.run.in_progress (×2)") in edges
    assert ("step_unseen", "step_in_progress", "#3 thread.run.step.created (×2)") in edges
    # only visited states are drawn; every edge is an accepted change
    assert "run_failed" not in text and "message_incomplete" not in text
    assert len(edges) == len({(c.entity, c.source, c.dest, c.event) for c in flow.history})
    assert "thread" not in re.findall(r"state (\w+) \{", text)
    assert re.findall(r"(\S+) --> \[\*\]", text) == [
        "run_completed", "step_completed", "message_completed"]


def test_path_diagram_of_nothing_is_an_empty_diagram() -> None:
    assert path_mermaid([]).splitlines()[1:] == ["stateDiagram-v2"]


@pytest.mark.needs_tools
def test_write_diagram_files_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    _need_dot()
    write_diagram_files(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    write_diagram_files(tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before


# --------------------------------------------------------------------------- #
# the Responses definition: diagrams/responses/
# --------------------------------------------------------------------------- #
RESPONSES_DIR = DIAGRAMS / "responses"
RESPONSES_STALE = ("diagrams/responses/ is stale: run "
                   "`runflow diagram --protocol responses --refresh` and commit the result")
RESPONSE_TABLES = list(RESPONSES.tables)
MACHINES = [*RESPONSE_TABLES, "stream", "all"]
"""What diagrams/responses/ holds a diagram of: every table, the stream, all."""


def _mermaid_states(text: str) -> set[str]:
    """The states a flat Mermaid diagram draws: ends of edges, starts and ends."""
    found = {s for edge in _mermaid_edges(text) for s in edge[:2]}
    found |= set(re.findall(r"^\s*\[\*\] --> (\S+)$", text, re.M))
    found |= set(re.findall(r"^\s*(\S+) --> \[\*\]$", text, re.M))
    return found


def test_responses_has_every_kind_of_machine() -> None:
    """The expectation is written out, not derived from the code under test."""
    assert RESPONSE_TABLES[0] == "response"
    for kind in ("message", "reasoning", "function_call", "web_search_call", "mcp_call",
                 "item", "output_text", "refusal", "content_part", "summary_text",
                 "shell_command"):
        assert kind in RESPONSE_TABLES
    assert diagram_names(RESPONSES) == tuple(MACHINES)
    assert diagram_names(PROTOCOL) == ("run", "step", "message", "thread", "stream", "all")


def test_committed_responses_text_files_match_the_table() -> None:
    expected = diagram_files(RESPONSES, svg=False)
    assert list(expected) == [*(f"{n}.mmd" for n in MACHINES), "README.md"]
    for name, data in expected.items():
        path = RESPONSES_DIR / name
        assert path.is_file(), f"diagrams/responses/{name} is missing; {RESPONSES_STALE}"
        assert path.read_bytes() == data, f"diagrams/responses/{name} differs; {RESPONSES_STALE}"


def test_committed_responses_folder_has_exactly_the_generated_files() -> None:
    names = {"README.md", *(f"{n}.{ext}" for n in MACHINES for ext in ("mmd", "svg"))}
    # (its websocket/ folder holds the WebSocket machines: tests/test_websocket_diagrams.py)
    assert {p.name for p in RESPONSES_DIR.iterdir()} - {"websocket"} == names


@pytest.mark.needs_tools
def test_committed_responses_svgs_match_the_table() -> None:
    _need_dot()
    installed = graphviz_version()
    recorded = svg_generator_version((RESPONSES_DIR / "response.svg").read_text(encoding="utf-8"))
    if recorded != installed:
        message = f"the Responses SVGs were made by Graphviz {recorded}, this is {installed}"
        if IN_CI:
            pytest.fail(f"{message}; {RESPONSES_STALE} with the Graphviz CI installs")
        pytest.skip(message)
    svgs = {n: d for n, d in diagram_files(RESPONSES, svg=True).items() if n.endswith(".svg")}
    assert sorted(svgs) == sorted(f"{n}.svg" for n in MACHINES)
    for name, data in svgs.items():
        assert (RESPONSES_DIR / name).read_bytes() == data, (
            f"diagrams/responses/{name} differs; {RESPONSES_STALE}")
        # every state of the table is a node of its SVG
        if name.removesuffix(".svg") in RESPONSES.tables:
            titles = set(re.findall(r"<title>([^<]+)</title>", data.decode()))
            assert set(RESPONSES.tables[name.removesuffix(".svg")].states) <= titles, name


def test_responses_headers_name_the_responses_definition() -> None:
    for name in MACHINES:
        first = (RESPONSES_DIR / f"{name}.mmd").read_text(encoding="utf-8").splitlines()[0]
        assert "runflow.protocols.RESPONSES" in first, name
        assert "`runflow diagram --protocol responses --refresh`" in first, name
        assert diagram_text(name, "dot", RESPONSES).splitlines()[0] == "//" + first[2:]
    readme = (RESPONSES_DIR / "README.md").read_text(encoding="utf-8")
    assert "runflow/protocols/responses/definition.py" in readme
    assert "runflow.protocols.PROTOCOL" not in readme


def test_responses_readme_embeds_every_diagram_under_its_title() -> None:
    readme = (RESPONSES_DIR / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```mermaid\n(.*?)```", readme, re.S)
    assert len(blocks) == len(MACHINES) == 26
    for block, name in zip(blocks, MACHINES, strict=True):
        body = [ln for ln in (RESPONSES_DIR / f"{name}.mmd").read_text().splitlines()
                if not ln.startswith("%%")]
        assert block.splitlines() == body
        assert f"SVG: [{name}.svg]({name}.svg)" in readme
    titles = re.findall(r"^## (.+)$", readme, re.M)
    assert titles[:2] == ["Response", "Item `message`"]
    assert "Item `item` (any other type)" in titles
    assert "Part `content_part` (any other type)" in titles
    assert "Part `shell_command`" in titles
    assert titles[-2:] == ["The stream machine", "All entities"]
    for name in MACHINES:  # the list of machines links every SVG
        assert f"[{name}]({name}.svg)" in readme


@pytest.mark.parametrize("entity", RESPONSE_TABLES)
def test_responses_mermaid_has_every_state_and_transition(entity: str) -> None:
    table = RESPONSES.tables[entity]
    text = (RESPONSES_DIR / f"{entity}.mmd").read_text(encoding="utf-8")
    assert text.splitlines()[1] == "stateDiagram-v2"
    assert "    [*] --> unseen" in text.splitlines()
    assert _mermaid_states(text) == set(table.states)
    edges = _mermaid_edges(text)
    pairs: set[tuple[str, str]] = set()
    for t in table.transitions:
        for src in t.sources:
            # every destination, also those the object's status chooses (by_status)
            for dest in t.dests:
                labels = [lab for s, d, lab in edges if (s, d) == (src, dest)]
                assert any(t.event in lab.split(", ") for lab in labels), (src, t.event, dest)
                pairs.add((src, dest))
    for name, states in table.deltas.items():
        for s in states:
            assert (s, s, f"{name} (delta)") in edges
            pairs.add((s, s))
    assert {(s, d) for s, d, _ in edges} == pairs  # no edge the table does not have
    assert set(re.findall(r"^\s*(\S+) --> \[\*\]$", text, re.M)) == set(table.terminal)


@pytest.mark.parametrize("entity", RESPONSE_TABLES)
def test_responses_dot_has_every_state_and_event(entity: str) -> None:
    table = RESPONSES.tables[entity]
    text = diagram_text(entity, "dot", RESPONSES)
    for state in table.states:
        doubled = ", peripheries=2" if state in table.terminal else ""
        assert f'"{state}" [label="{state}"{doubled}];' in text
    labels: dict[str, list[str]] = {}  # status edges (deltas are the dashed ones)
    for edge, label in re.findall(r'^\s*("\S+" -> "\S+") \[label="([^"]*)"\];$', text, re.M):
        labels.setdefault(edge, []).extend(label.split("\\n"))
    for t in table.transitions:
        for src in t.sources:
            for dest in t.dests:
                assert t.event in labels[f'"{src}" -> "{dest}"'], (src, t.event, dest)
    for name, states in table.deltas.items():
        for s in states:
            assert f'"{s}" -> "{s}" [label="{name}", style=dashed' in text


def test_responses_status_chosen_destinations_are_drawn() -> None:
    edges = _mermaid_edges(diagram_text("response", "mermaid", RESPONSES))
    assert ("unseen", "queued", "response.created, response.queued") in edges
    assert ("unseen", "in_progress", "response.created, response.in_progress") in edges
    edges = _mermaid_edges(diagram_text("function_call", "mermaid", RESPONSES))
    for dest in ("completed", "incomplete", "failed"):
        assert ("arguments_done", dest, "response.output_item.done") in edges
    assert ("in_progress", "completed", "response.output_item.done") not in edges


def test_responses_stream_machine_has_every_row() -> None:
    stream = RESPONSES.stream
    text = (RESPONSES_DIR / "stream.mmd").read_text(encoding="utf-8")
    assert _mermaid_states(text) == set(stream.states)
    assert "    [*] --> open" in text.splitlines()
    edges = _mermaid_edges(text)
    for row in stream.rows:
        for src in row.sources:
            dest = src if row.dest == "=" else row.dest
            labels = [lab.split(", ") for s, d, lab in edges if (s, d) == (src, dest)]
            assert labels, (src, row.input, dest)
            found = [part for lab in labels for part in lab if part.startswith(row.input)]
            if row.when:
                found = [p for p in found if f"[{'/'.join(row.when)}]" in p]
            if row.code is not None:
                found = [p for p in found if p.endswith(f"! {row.code.value}")]
            assert found, (src, row.input, row.when, row.code)
    ends = set(re.findall(r"^\s*(\S+) --> \[\*\]$", text, re.M))
    assert ends == {s for s, ending in stream.endings.items() if ending is not None}
    assert ("open", "truncated", "close [open/pause/stalled] ! truncated") in edges


def test_responses_overview_has_every_table_with_unique_ids() -> None:
    text = (RESPONSES_DIR / "all.mmd").read_text(encoding="utf-8")
    composites = re.findall(r"^    state (\w+) \{$", text, re.M)
    assert composites == RESPONSE_TABLES
    bodies = re.findall(r"^    state (\w+) \{\n(.*?)^    \}$", text, re.M | re.S)
    assert [name for name, _ in bodies] == RESPONSE_TABLES
    for name, body in bodies:
        table = RESPONSES.tables[name]
        named = dict(re.findall(r'state "([^"]+)" as (\S+)', body))
        assert set(named) == set(table.states)
        for s in table.terminal:
            assert f"        {named[s]} --> [*]" in body
        for t in table.transitions:
            for src in t.sources:
                for dest in t.dests:
                    assert re.search(rf"^\s*{named[src]} --> {named[dest]} : (.*, )?"
                                     rf"{re.escape(t.event)}(, |$)", body, re.M), (name, t.event)
    ids = re.findall(r'state "[^"]+" as (\S+)', text)
    assert len(ids) == len(set(ids)) == sum(len(t.states) for t in RESPONSES.tables.values())
    assert not set(ids) & set(composites)
    combined = dot_all(RESPONSES)
    for name in RESPONSE_TABLES:
        assert f'subgraph "cluster_{name}"' in combined


def test_overview_ids_stay_unique_when_entity_and_state_names_clash() -> None:
    """``reasoning`` + ``text_done`` and ``reasoning_text`` + ``done`` would both be
    ``reasoning_text_done``: Mermaid ids are global, so one gets a number."""
    reasoning = RESPONSES.tables["reasoning"]
    clashing = dataclasses.replace(
        reasoning, states=(*reasoning.states, "text_done"),
        transitions=(*reasoning.transitions,
                     Transition("response.reasoning_text.done", ("in_progress",), "text_done")))
    protocol = dataclasses.replace(RESPONSES, tables={**RESPONSES.tables, "reasoning": clashing})
    text = mermaid_all(protocol)
    ids = re.findall(r'state "[^"]+" as (\S+)', text)
    assert len(ids) == len(set(ids))
    assert 'state "text_done" as reasoning_text_done' in text
    assert 'state "done" as reasoning_text_done_2' in text
    assert mermaid_all(RESPONSES) == (RESPONSES_DIR / "all.mmd").read_text(encoding="utf-8")


def test_a_responses_table_change_changes_its_diagram() -> None:
    call = RESPONSES.tables["function_call"]
    changed = dataclasses.replace(call, deltas={
        **call.deltas,
        "response.function_call_arguments.delta": frozenset({"in_progress", "arguments_done"}),
    })
    tables = tuple(changed if t.entity == "function_call" else t
                   for t in RESPONSES.tables.values())
    protocol = build_responses(tables)
    files = diagram_files(protocol, svg=False)
    before = diagram_files(RESPONSES, svg=False)
    assert files["function_call.mmd"] != before["function_call.mmd"]
    assert ("arguments_done", "arguments_done", "response.function_call_arguments.delta (delta)"
            ) in _mermaid_edges(files["function_call.mmd"].decode())
    assert files["message.mmd"] == before["message.mmd"]
    assert files["all.mmd"] != before["all.mmd"] and files["README.md"] != before["README.md"]


def test_path_diagram_of_a_responses_stream() -> None:
    # recordings_dir(): skips with a reason (fails under CI) without the recordings
    sse = recordings_dir() / "responses" / "mirascope_parallel_function_calls_gpt4o.sse"
    flow = ResponseFlow()
    flow.feed_sse(sse.read_bytes())
    flow.close()
    text = path_mermaid(flow.history, RESPONSES)
    assert re.findall(r"state (\w+) \{", text) == ["response", "function_call"]
    edges = _mermaid_edges(text)
    # created, in_progress, output_item.added, 7 argument deltas, then #10 (both calls)
    assert ("function_call_in_progress", "function_call_arguments_done",
            "#10 response.function_call_arguments.done (×2)") in edges
    assert re.findall(r"(\S+) --> \[\*\]", text) == [
        "response_completed", "function_call_completed"]


# --------------------------------------------------------------------------- #
# runflow diagram --protocol
# --------------------------------------------------------------------------- #
def test_cli_draws_one_responses_machine(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["diagram", "--protocol", "responses", "--entity", "function_call"]
    assert main([*argv, "--format", "mermaid"]) == 0
    assert capsys.readouterr().out == (RESPONSES_DIR / "function_call.mmd").read_text()
    assert main([*argv, "--format", "dot"]) == 0
    assert capsys.readouterr().out == dot(RESPONSES.tables["function_call"], protocol=RESPONSES)
    assert main(["diagram", "--protocol", "responses"]) == 0  # --entity all by default
    assert capsys.readouterr().out == (RESPONSES_DIR / "all.mmd").read_text()
    assert main(["diagram", "--protocol", "assistants", "--entity", "run"]) == 0
    assert capsys.readouterr().out == (DIAGRAMS / "run.mmd").read_text()


@pytest.mark.parametrize(("protocol", "names"), [
    ("assistants", ["run", "step", "message", "thread", "stream", "all"]),
    ("responses", MACHINES),
])
def test_cli_entity_choices_follow_the_protocol(
    protocol: str, names: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert entity_choices(protocol) == tuple(names)
    for name in names:
        assert main(["diagram", "--protocol", protocol, "--entity", name]) == 0, name
        out = capsys.readouterr().out
        assert out.splitlines()[1] == "stateDiagram-v2"
        if name not in ("thread",):  # the thread has no file of its own
            folder = RESPONSES_DIR if protocol == "responses" else DIAGRAMS
            assert out == (folder / f"{name}.mmd").read_text(), name
    assert main(["diagram", "--help"]) == 0
    listed = re.search(rf"^  {protocol}: (.*?)(?=^  \w+: |^\n|\Z)",
                       capsys.readouterr().out, re.M | re.S)
    assert listed is not None
    assert listed.group(1).split() == [f"{n}," for n in names[:-1]] + [names[-1]]


@pytest.mark.parametrize(("argv", "says"), [
    (["--protocol", "responses", "--entity", "run"],
     ["the responses protocol has no entity 'run'", "response, message, reasoning",
      "shell_command, stream, all", "'run' is in --protocol assistants"]),
    (["--entity", "function_call"],
     ["the assistants protocol has no entity 'function_call'",
      "run, step, message, thread, stream, all", "'function_call' is in --protocol responses"]),
    (["--protocol", "responses", "--entity", "thread", "--format", "svg"],
     ["the responses protocol has no entity 'thread'", "'thread' is in --protocol assistants"]),
    (["--entity", "nothing"], ["the assistants protocol has no entity 'nothing'"]),
    (["--refresh", "--entity", "nothing"], ["no protocol has an entity 'nothing'"]),
    (["--protocol", "chat"], ["argument --protocol: invalid choice: 'chat'"]),
])
def test_cli_unknown_entity_is_one_line_that_says_which_exist(
    argv: list[str], says: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["diagram", *argv, "-o", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "Traceback" not in err and captured.out == ""
    assert err.splitlines()[-1].startswith(("runflow: error: ", "runflow diagram: error: "))
    for text in says:
        assert text in err.splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_refresh_writes_every_protocol_or_the_chosen_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both, one = tmp_path / "both", tmp_path / "one"
    assert main(["diagram", "--refresh", "-o", str(both)]) == 0
    for name in diagram_files(svg=False):
        assert (both / name).read_bytes() == (DIAGRAMS / name).read_bytes(), name
    for name in diagram_files(RESPONSES, svg=False):
        assert (both / "responses" / name).read_bytes() == (RESPONSES_DIR / name).read_bytes()
    # without Graphviz the SVGs are named on stderr and only the text files written
    svg = graphviz_version() is not None
    files = "files" if svg else "text files"
    assistants = len(diagram_files(svg=svg))
    responses = len(diagram_files(RESPONSES, svg=svg))
    assert (assistants, responses) == ((11, 53) if svg else (6, 27))
    out = capsys.readouterr().out.splitlines()
    websocket = len(list((RESPONSES_DIR / "websocket").iterdir()))
    assert out == [f"refreshed {assistants} {files} in {both}",
                   f"refreshed {responses} {files} in {both / 'responses'}",
                   f"refreshed {websocket} files in {both / 'responses' / 'websocket'}"]
    # --protocol responses -o DIR: DIR is the Responses folder, nothing else is written
    assert main(["diagram", "--protocol", "responses", "--refresh", "-o", str(one)]) == 0
    assert {p.name for p in one.iterdir()} == {
        p.name for p in RESPONSES_DIR.iterdir() if svg or p.suffix != ".svg"}
    assert (one / "stream.mmd").read_bytes() == (RESPONSES_DIR / "stream.mmd").read_bytes()
    assert capsys.readouterr().out.splitlines() == [
        f"refreshed {responses} {files} in {one}",
        f"refreshed {websocket} files in {one / 'websocket'}"]


def test_refresh_without_dot_writes_the_responses_text_files_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder without `dot`
    target = tmp_path / "d"
    assert main(["diagram", "--refresh", "-o", str(target)]) == 0
    for name, data in diagram_files(RESPONSES, svg=False).items():
        assert (target / "responses" / name).read_bytes() == data
    assert not list((target / "responses").glob("*.svg"))
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "run.svg" in err and "responses/function_call.svg" in err
    assert "responses/all.svg" in err and "apt-get install graphviz" in err
    # one protocol: the names are those of its own folder
    assert main(["diagram", "--protocol", "responses", "--refresh", "-o", str(tmp_path / "r")]
                ) == 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert " response.svg, message.svg," in err and "responses/" not in err


def test_responses_diagrams_are_identical_across_processes() -> None:
    code = ("from runflow.diagrams import *; from runflow.protocols.registry import PROTOCOLS; "
            "import sys; p = PROTOCOLS['responses']; "
            "sys.stdout.write(mermaid_all(p) + dot_all(p))")
    runs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         env={**os.environ, "PYTHONHASHSEED": seed})
        for seed in ("1", "3")
    ]
    outputs = {run.communicate()[0] for run in runs}
    assert all(run.returncode == 0 for run in runs)
    assert outputs == {(mermaid_all(RESPONSES) + dot_all(RESPONSES)).encode()}
