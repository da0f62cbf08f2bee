"""Diagrams: generated from the protocol table, committed in diagrams/, kept fresh."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from runflow.cli import main
from runflow.diagrams import (
    REFRESH_COMMAND,
    GraphvizNotFoundError,
    diagram_files,
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
from runflow.protocol import PROTOCOL, Entity, EntityTable, Transition, build_assistants
from runflow.recording import DEMO_STREAM, replay_file

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "diagrams"
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
    assert {p.name for p in DIAGRAMS.iterdir()} == names


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
        if IN_CI:
            pytest.fail("Graphviz `dot` is not installed in CI (see .ci/run)")
        pytest.skip("Graphviz `dot` is not on PATH (install graphviz to run this; CI fails here)")


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


def test_write_diagram_files_leaves_unchanged_files_alone(tmp_path: Path) -> None:
    _need_dot()
    write_diagram_files(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    write_diagram_files(tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before
