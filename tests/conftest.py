"""Shared test fixtures: where the real recordings are, and how to load them.

The recordings live beside the checkout in ``../shared/recordings`` and are read in
place, never copied. Tests that need them skip with a reason when the folder is
absent, except under CI (``CI=true``), where a missing folder is a failure.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from runflow.testing import Server

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = Path(os.environ.get("RUNFLOW_RECORDINGS", ROOT.parent / "shared" / "recordings"))


def recordings_dir() -> Path:
    """The recordings folder; skips (or fails under CI) when it is absent."""
    if not RECORDINGS.is_dir():
        reason = f"real recordings not found at {RECORDINGS} (set RUNFLOW_RECORDINGS)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must have ../shared/recordings beside the checkout")
        pytest.skip(reason)
    return RECORDINGS


def jsonl_files() -> list[str]:
    """Recording names for parametrize (collected even when the folder is absent)."""
    if not RECORDINGS.is_dir():
        return ["<recordings folder absent>"]
    return sorted(p.name for p in RECORDINGS.glob("*.jsonl"))


def sse_files() -> list[str]:
    if not RECORDINGS.is_dir():
        return ["<recordings folder absent>"]
    return sorted(p.name for p in RECORDINGS.glob("*.sse"))


def load_events(name: str) -> list[dict[str, Any]]:
    """The events of ``recordings/NAME`` (``.jsonl``), in wire order."""
    path = recordings_dir() / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_bytes(name: str) -> bytes:
    return (recordings_dir() / name).read_bytes()


# --------------------------------------------------------------------------- #
# the local Assistants server (runflow.testing), for tests with the real client
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """One server per test module, on a free loopback port."""
    from runflow.testing import Server

    with Server() as srv:
        yield srv


@pytest.fixture
def fresh() -> Iterator[Server]:
    """A server of its own, for tests that queue recordings or faults."""
    from runflow.testing import Server

    with Server() as srv:
        yield srv


@pytest.fixture
def no_leftover_faults(server: Server) -> Iterator[None]:
    """Clear injected faults after each test of a module sharing ``server``."""
    yield
    server.clear_faults()
