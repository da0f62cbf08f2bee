"""Shared test fixtures: where the real recordings are, and how to load them; what a
test does when a tool it needs is missing.

The recordings live beside the checkout in ``../shared/recordings`` and are read in
place, never copied. Tests that need them skip with a reason when the folder is
absent, except under CI (``CI=true``), where a missing folder is a failure.

Tests that need a tool outside Python (Graphviz ``dot``, Node with
``tests/node/node_modules``, Chromium, tmux) are marked ``needs_tools`` and call
:func:`tool_missing` when it is absent: a skip with the reason, a failure under
``CI=true`` -- except in CI's bare pass (``RUNFLOW_BARE=1``, see ``.ci/run``), which
proves the suite passes without the tools, before CI installs them and runs
``pytest -m needs_tools``. A test that skips for a missing tool without the marker
fails, since CI's second pass would never run it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from runflow.testing import Server

pytest_plugins = ["pytester"]  # tests/test_docs.py runs the README's plugin example

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = Path(os.environ.get("RUNFLOW_RECORDINGS", ROOT.parent / "shared" / "recordings"))


IN_CI = os.environ.get("CI") == "true"
BARE = os.environ.get("RUNFLOW_BARE") == "1"
NEEDS_TOOLS = "needs_tools"
TOOL_MISSING = "needs a tool that is not installed: "


def tool_missing(reason: str) -> NoReturn:
    """Skip a ``needs_tools`` test whose tool is absent (``reason`` says which and how
    to install it); fail instead under ``CI=true``, except in the bare pass."""
    if IN_CI and not BARE:
        pytest.fail(f"{reason}; CI installs it before running the needs_tools tests "
                    "(.ci/run)")
    pytest.skip(TOOL_MISSING + reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A skip for a missing tool in a test not marked ``needs_tools`` is a failure."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if (report.skipped and TOOL_MISSING in str(report.longrepr)
            and item.get_closest_marker(NEEDS_TOOLS) is None):
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} skipped for a missing tool but is not marked "
                           f"{NEEDS_TOOLS}: CI's pass with the tools would never run it")


def recordings_dir() -> Path:
    """The recordings folder; skips (or fails under CI) when it is absent."""
    if not RECORDINGS.is_dir():
        reason = f"real recordings not found at {RECORDINGS} (set RUNFLOW_RECORDINGS)"
        if IN_CI:
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
