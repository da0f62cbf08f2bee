"""The committed WebSocket diagrams are the ones the tables generate, and
``runflow diagram --refresh`` writes them (the Responses registry row names them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runflow.cli import main
from runflow.diagrams import more_diagram_files
from runflow.protocols.registry import PROTOCOLS, REGISTRY
from runflow.protocols.responses.websocket.definition import MACHINES, STEER
from runflow.protocols.responses.websocket.diagrams import DIRECTORY, REFRESH, diagram_files

ROOT = Path(__file__).resolve().parent.parent


def test_committed_diagrams_are_current() -> None:
    expected = diagram_files()
    committed = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / DIRECTORY).iterdir()}
    assert committed == expected, f"stale diagrams: run `{REFRESH}`"


def test_the_steer_diagram_draws_every_branch() -> None:
    text = diagram_files()["steer.mmd"]
    for edge in ("submitted --> accepted", "accepted --> pending", "accepted --> committed",
                 "pending --> committed", "submitted --> failed", "accepted --> unknown"):
        assert edge in text
    assert all(f"{s} --> [*]" in text for s in STEER.terminal)


def test_the_responses_row_names_the_websocket_machines() -> None:
    """The registry's lazy reference resolves; only the Responses row has more."""
    more = more_diagram_files(PROTOCOLS["responses"])
    assert list(more) == ["websocket"]
    assert set(more["websocket"]) == {*(f"{m}.mmd" for m in MACHINES), "README.md"}
    assert {name: row.more_diagrams for name, row in REGISTRY.items()
            if row.more_diagrams} == {"responses": REGISTRY["responses"].more_diagrams}


@pytest.mark.parametrize("protocol", [None, "responses"])
def test_refresh_writes_the_websocket_files(tmp_path: Path, protocol: str | None,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "responses" / "websocket" / "steer.mmd"
    stale.parent.mkdir(parents=True)
    stale.write_text("stale\n")
    asked = ["--protocol", protocol, "-o", str(tmp_path / "responses")] if protocol else [
        "-o", str(tmp_path)]
    assert main(["diagram", "--refresh", *asked]) == 0
    written = {p.name: p.read_text(encoding="utf-8") for p in stale.parent.iterdir()}
    assert written == diagram_files()
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"refreshed {len(written)} files in {stale.parent}")
    assert "--refresh" in REFRESH and "python -m" not in written["README.md"]
