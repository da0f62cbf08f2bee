"""The README's Responses client tables, rendered from real client runs and kept true.

Every Responses scenario and every fault (on ``text``) goes through each official
client's streaming helper, ``client.responses.stream(...)``: the Python ``openai``
client as ``tests/test_server_responses_faults.py`` drives it, the Node ``openai``
client through ``tests/node/responses.mjs`` as ``tests/test_server_responses_node.py``
drives it. What each helper ended with -- its final response, or what it raised --
is held against REST (``GET /v1/responses/{id}``) and rendered as the two tables
between ``<!-- responses-clients:begin -->`` and ``<!-- responses-clients:end -->``
in README.md; a test fails when they are stale. Regenerate them with::

    python tests/test_server_responses_tables.py --write

Node tests need ``node`` and ``npm ci --prefix tests/node``; without them they
skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import openai
import pytest
from test_server_clients import node_missing, node_version, require_node
from test_server_responses import (
    FINAL,
    SCENARIOS,
    TEXT,
    TOOLS,
    outputs_for,
    request,
    without_parsed,
)
from test_server_responses_faults import FAULTS, python_case
from test_server_responses_node import (
    NODE_DIR,
    RESUME_AFTER,
    sdk_free,
)

from runflow.testing import Server

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- responses-clients:begin -->\n", "<!-- responses-clients:end -->"
IDS = re.compile(r"\b(?:resp|msg|fc|fco|rs|call|item)_[A-Za-z0-9]{24}\b")
ANY_ID = re.compile(r"_[A-Za-z0-9]{24}\b")  # what no cell may still hold
MESSAGE_LIMIT = 80

Stream = dict[str, Any]
"""One helper stream as recorded here: ``events`` (their types), ``final`` (the final
response without what the SDK derives, or None), ``error`` (``name`` and ``message``,
or None), ``response_id`` (None when no ``response.created`` arrived) and ``rest``
(what ``GET /v1/responses/{id}`` answered afterwards, or None without an id)."""


class Runs(NamedTuple):
    """What one client's helper ended with, per scenario and per fault."""

    scenarios: dict[str, list[Stream]]  # parallel_functions: the calls, then the continuation
    faults: dict[str, Stream]


# -- running the cases ---------------------------------------------------------------------------


def with_rest(http: httpx.Client, stream: Stream) -> Stream:
    stored = None
    if stream["response_id"] is not None:
        answer = http.get(f"/responses/{stream['response_id']}")
        assert answer.status_code == 200, answer.text
        stored = answer.json()
    return {**stream, "rest": stored}


def from_python(case: dict[str, Any]) -> Stream:
    """A :func:`test_server_responses_faults.python_case`-shaped result, as plain data."""
    events, final, error = case["events"], case["final"], case["error"]
    return {"events": [event.type for event in events],
            "response_id": next((e.response.id for e in events
                                 if e.type == "response.created"), None),
            "final": without_parsed(json.loads(final.to_json())) if final else None,
            "error": None if error is None else {"name": type(error).__name__,
                                                 "message": str(error)}}


def python_helper(client: openai.OpenAI, body: dict[str, Any]) -> dict[str, Any]:
    """``python_case`` for any request: events, ``get_final_response()`` or the error."""
    events: list[Any] = []
    try:
        with client.responses.stream(**body) as stream:
            for event in stream:
                events.append(event)
            final = stream.get_final_response()
        return {"events": events, "final": final, "error": None}
    except Exception as exc:  # what the client raised is the result
        return {"events": events, "final": None, "error": exc}


def run_python(base_url: str) -> Runs:
    with openai.OpenAI(base_url=base_url, api_key="test", max_retries=0, timeout=20) as client, \
            httpx.Client(base_url=base_url, timeout=20) as http:
        scenarios: dict[str, list[Stream]] = {}
        for scenario in SCENARIOS:
            first = python_helper(client, request(scenario))
            cases = [first]
            if scenario == "parallel_functions" and first["final"] is not None:
                calls = [i for i in first["final"].output if i.type == "function_call"]
                cases.append(python_helper(client, request(
                    scenario, previous_response_id=first["final"].id,
                    input=outputs_for(calls))))
            scenarios[scenario] = [with_rest(http, from_python(case)) for case in cases]
        faults = {fault: with_rest(http, from_python(python_case(client, fault)))
                  for fault in FAULTS}
    return Runs(scenarios, faults)


def from_node(result: dict[str, Any]) -> Stream:
    """One result of ``responses.mjs``'s helper cases, as plain data."""
    error = result["error"]
    return {"events": [event["type"] for event in result["events"]],
            "response_id": result.get("response_id"),
            "final": sdk_free(result["final"]) if result["final"] else None,
            "error": None if error is None else {"name": error["name"],
                                                 "message": error["message"]}}


def run_node(base_url: str) -> Runs:
    """The harness run as ``test_server_responses_node.node`` runs it (a fixture, so it
    cannot be called from :func:`main`)."""
    plan = {"scenarios": SCENARIOS, "faults": FAULTS, "text": TEXT, "tools": TOOLS,
            "resume_after": RESUME_AFTER}
    done = subprocess.run(["node", str(NODE_DIR / "responses.mjs"), base_url, json.dumps(plan)],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    results = {r["name"]: r for r in json.loads(done.stdout)["results"]}
    with httpx.Client(base_url=base_url, timeout=20) as http:
        scenarios = {s: [with_rest(http, from_node(results[name])) for name in
                         (f"stream:{s}", f"stream:{s}:continued") if name in results]
                     for s in SCENARIOS}
        faults = {f: with_rest(http, from_node(results[f"fault:{f}"])) for f in FAULTS}
    return Runs(scenarios, faults)


@pytest.fixture(scope="module")
def python_runs(server: Server) -> Runs:
    return run_python(server.base_url)


@pytest.fixture(scope="module")
def node_runs(server: Server) -> Runs:
    require_node()
    return run_node(server.base_url)


@pytest.fixture(params=["python", pytest.param("node", marks=pytest.mark.needs_tools)])
def runs(request: pytest.FixtureRequest) -> Iterator[Runs]:
    yield request.getfixturevalue(f"{request.param}_runs")


# -- the README tables ---------------------------------------------------------------------------


def count(stream: Stream) -> str:
    n = len(stream["events"])
    return f"{n} event" if n == 1 else f"{n} events"


def message(text: str) -> str:
    """The first line of an error message, ids out, cut short, safe in a table cell."""
    line = IDS.sub("…", text).split("\n")[0].replace("|", "\\|")
    return line if len(line) <= MESSAGE_LIMIT else line[:MESSAGE_LIMIT - 3].rstrip() + "…"


def stream_cell(stream: Stream) -> str:
    if stream["error"] is None:
        agrees = "final = REST" if stream["final"] == stream["rest"] else "final ≠ REST"
        return f"`{stream['final']['status']}` ({count(stream)}, {agrees})"
    raised = (f"raises `{stream['error']['name']}` ({message(stream['error']['message'])})"
              f" after {count(stream)}")
    return raised if stream["rest"] is None else f"{raised}; REST: `{stream['rest']['status']}`"


def render(python: Runs, node: Runs) -> str:
    heads = f"Python `openai` {openai.__version__}", f"Node `openai` {node_version()}"
    lines = [f"| scenario | {heads[0]} | {heads[1]} |", "|---|---|---|"]
    lines += [f"| `{s}` | {' → '.join(map(stream_cell, python.scenarios[s]))} | "
              f"{' → '.join(map(stream_cell, node.scenarios[s]))} |" for s in SCENARIOS]
    lines += ["", f"| fault (on `text`) | {heads[0]} | {heads[1]} |", "|---|---|---|"]
    lines += [f"| `{f}` | {stream_cell(python.faults[f])} | {stream_cell(node.faults[f])} |"
              for f in FAULTS]
    return "\n".join(lines) + "\n"


def readme_tables(text: str) -> str:
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)]


# -- what must hold ------------------------------------------------------------------------------


def all_streams(runs: Runs) -> list[Stream]:
    return [s for streams in runs.scenarios.values() for s in streams] + list(
        runs.faults.values())


def test_what_rest_says_of_each_scenario(runs: Runs) -> None:
    """The tables' REST column rests on this: the stored response ended as the scenario
    says, whatever the helper made of it; a fault leaves it ``completed``."""
    for scenario, streams in runs.scenarios.items():
        assert [s["rest"]["status"] for s in streams] == [FINAL[scenario]] * len(streams)
        assert len(streams) == (2 if scenario == "parallel_functions" else 1)
    for stream in runs.faults.values():
        assert stream["rest"] is None or stream["rest"]["status"] == "completed"
        assert (stream["rest"] is None) == ("response.created" not in stream["events"])


def test_a_final_response_is_never_a_guess(runs: Runs) -> None:
    """Each stream ends with a final or an error, never both; where a helper resolves a
    final response, it is what REST stores (faults included: they only damage the wire)."""
    for stream in all_streams(runs):
        assert (stream["final"] is None) != (stream["error"] is None)
        if stream["final"] is not None:
            assert stream["final"] == stream["rest"]


@pytest.mark.needs_tools
def test_the_tables_hold_no_ids(python_runs: Runs, node_runs: Runs) -> None:
    tables = render(python_runs, node_runs)
    assert ANY_ID.search(tables) is None
    assert tables.count("\n") == 2 * 2 + len(SCENARIOS) + len(FAULTS) + 1


@pytest.mark.needs_tools
def test_readme_responses_tables_are_current(python_runs: Runs, node_runs: Runs) -> None:
    assert readme_tables(README.read_text(encoding="utf-8")) == render(python_runs, node_runs), (
        "README.md's Responses client tables are stale; regenerate: "
        "python tests/test_server_responses_tables.py --write")


def main(argv: list[str]) -> int:
    """Print the tables (``--write``: put them into README.md)."""
    reason = node_missing()
    if reason is not None:
        print(f"cannot render the tables: {reason}", file=sys.stderr)
        return 1
    with Server() as server:
        tables = render(run_python(server.base_url), run_node(server.base_url))
    if "--write" in argv:
        text = README.read_text(encoding="utf-8")
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        README.write_text(text[:start] + tables + text[end:], encoding="utf-8")
    else:
        print(tables, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
