"""The interop suite: Responses servers that runflow did not write.

Registers the ``interop`` marker, checks that a server's distribution is installed
(``pip install -r tests/interop/requirements.txt``: a missing one skips with the
reason, and fails under ``CI=true``), and starts each server once per session to
capture its scenarios: the server runs only while its streams are captured.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from interop.harness import Capture, capture
from interop.process import free_port, running
from interop.servers import SERVERS
from interop.upstream import Upstream

TOOLS = [{"type": "function", "name": "get_weather", "description": "The weather in a city.",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                         "required": ["city"]}}]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "interop: third-party Responses servers run locally "
        "(needs pip install -r tests/interop/requirements.txt)")


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every interop test is ``interop`` and ``needs_tools``: the servers are tools
    that the README's install does not bring, so CI's bare pass skips them and its
    second pass installs them (``.ci/run``) and runs them."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.interop)
            item.add_marker(pytest.mark.needs_tools)


def require(name: str) -> None:
    """Skip (or, under CI but for its bare pass, fail) when server ``name``'s
    distribution is missing; the skip reason is the one tests/conftest.py's
    ``tool_missing`` gives, so a missing server is never skipped silently."""
    spec = SERVERS[name]
    if importlib.util.find_spec(spec.module.split(".")[0]) is None or \
            importlib.util.find_spec(spec.module) is None:
        reason = (f"{spec.distribution} is not installed "
                  "(pip install -r tests/interop/requirements.txt)")
        if os.environ.get("CI") == "true" and os.environ.get("RUNFLOW_BARE") != "1":
            pytest.fail(reason + "; CI installs the interop requirements (.ci/run)")
        pytest.skip("needs a tool that is not installed: " + reason)


@pytest.fixture(scope="session")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@pytest.fixture(scope="session")
def captures(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory,
             ) -> Callable[[str], dict[str, Capture]]:
    """``captures(server)``: every scenario of that server, captured once."""
    done: dict[str, dict[str, Capture]] = {}

    def of(name: str) -> dict[str, Capture]:
        require(name)
        if name not in done:
            spec = SERVERS[name]
            port = free_port()
            launch = spec.launch(port, f"http://127.0.0.1:{upstream.port}")
            workdir = tmp_path_factory.mktemp(name)
            with running(launch.args, port=port, workdir=workdir, probe=launch.probe,
                         env=launch.env) as base:
                client = openai.OpenAI(base_url=base + launch.api_path, api_key="interop",
                                       max_retries=0, timeout=30)
                done[name] = {
                    s: capture(client, s, **({"tools": TOOLS} if s == "tool" else {}))
                    for s in spec.scenarios}
        return done[name]

    return of


CONFORM_SCENARIOS = ("text", "parallel_functions", "reasoning", "incomplete", "failed",
                     "background", "errors")
"""``runflow conform``'s Responses scenarios, less ``structured``: the models behind
these servers are scripted and ignore ``text.format``, so that scenario would grade
the script, not the server."""


@pytest.fixture(scope="session")
def conform_reports(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory,
                    ) -> Callable[[str], dict[str, Any]]:
    """``conform_reports(server)``: the ``runflow conform --json`` report on that
    server, run once as a user runs it (a child process)."""
    done: dict[str, dict[str, Any]] = {}

    def of(name: str) -> dict[str, Any]:
        require(name)
        if name not in done:
            spec = SERVERS[name]
            port = free_port()
            launch = spec.launch(port, f"http://127.0.0.1:{upstream.port}")
            workdir = tmp_path_factory.mktemp(f"conform-{name}")
            with running(launch.args, port=port, workdir=workdir, probe=launch.probe,
                         env=launch.env) as base:
                args = [sys.executable, "-m", "runflow", "conform", "--protocol", "responses",
                        "--base-url", base + launch.api_path, "--api-key", "interop",
                        "--timeout", "30", "--json"]
                for scenario in CONFORM_SCENARIOS:
                    args += ["--scenario", scenario]
                run = subprocess.run(args, capture_output=True, text=True, timeout=300,
                                     check=False)
                report = json.loads(run.stdout)
                report["returncode"] = run.returncode
                done[name] = report
        return done[name]

    return of
