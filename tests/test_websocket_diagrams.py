"""The committed WebSocket diagrams are the ones the tables generate."""

from __future__ import annotations

from pathlib import Path

from runflow.protocols.responses.websocket.definition import STEER
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
