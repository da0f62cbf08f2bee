"""The official Node ``openai`` SDK against the local Responses server, compared with REST.

``tests/node/responses.mjs`` runs every scenario through ``client.responses.stream``
(``finalResponse()``) and ``client.responses.create({stream: true})``, resumes
every background response with ``client.responses.retrieve(id, {stream: true,
starting_after: N})`` -- after reading it whole and after leaving it early --
and runs a few faults; it prints what the client received. Here that is held
against the grammar and against what REST (``GET /v1/responses/{id}``) says.

Node tests need ``node`` and ``npm ci --prefix tests/node``; without them they
skip (marked ``needs_tools``: see tests/conftest.py).
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_server_clients import require_node
from test_server_responses import FINAL, SCENARIOS, TEXT, TOOLS, check_events
from test_server_responses_faults import FAULTS
from test_server_responses_grammar import stream_problems, wire_events

from runflow.server.faults import ERROR_MESSAGE
from runflow.server.responses_scenarios import FAILURE_MESSAGE
from runflow.testing import Server

NODE_DIR = Path(__file__).resolve().parent / "node"
RESUME_AFTER = [0, 1, 4]
Result = dict[str, Any]

pytestmark = pytest.mark.needs_tools




@pytest.fixture(scope="module")
def node(server: Server) -> dict[str, Result]:
    require_node()
    plan = {"scenarios": SCENARIOS, "faults": FAULTS, "text": TEXT, "tools": TOOLS,
            "resume_after": RESUME_AFTER}
    done = subprocess.run(["node", str(NODE_DIR / "responses.mjs"), server.base_url,
                           json.dumps(plan)], capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stderr
    return {r["name"]: r for r in json.loads(done.stdout)["results"]}


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=20) as client:
        yield client


def rest(http: httpx.Client, response_id: str) -> dict[str, Any]:
    answer = http.get(f"/responses/{response_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def sdk_free(final: dict[str, Any]) -> dict[str, Any]:
    """The Node SDK's final response without what it derives: ``output_text``,
    ``output_parsed``, and ``parsed`` / ``parsed_arguments`` on parts and calls."""
    final = copy.deepcopy(final)
    final.pop("output_text", None)
    final.pop("output_parsed", None)
    for item in final["output"]:
        item.pop("parsed_arguments", None)
        for part in item.get("content") or []:
            part.pop("parsed", None)
    return final


def before_error(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a client yields of ``events``: the SDKs raise on the ``error`` event."""
    types = [e["type"] for e in events]
    return events[:types.index("error")] if "error" in types else events


# -- client.responses.stream -------------------------------------------------------------------


@pytest.mark.parametrize("name", [f"stream:{s}" for s in SCENARIOS if s != "failed"]
                         + ["stream:parallel_functions:continued"])
def test_the_helper_final_response_equals_rest(node: dict[str, Result], http: httpx.Client,
                                               name: str) -> None:
    result = node[name]
    assert result["error"] is None
    check_events(result["events"])
    final = result["final"]
    assert final["status"] == FINAL[result["scenario"]]  # Node resolves incomplete too
    assert sdk_free(final) == rest(http, final["id"])
    assert final["id"] == result["response_id"]
    if name.endswith(":continued"):
        assert final["output_text"] == ("Here is what I found. get_weather: get_weather ok. "
                                        "get_time: get_time ok.")
    elif result["scenario"] in ("text", "reasoning"):
        assert final["output_text"] == TEXT


def test_the_helper_rejects_the_failed_stream(node: dict[str, Result],
                                              http: httpx.Client) -> None:
    result = node["stream:failed"]
    assert result["final"] is None
    assert result["error"]["name"] == "APIError" and result["error"]["message"] == (
        FAILURE_MESSAGE)
    assert [e["type"] for e in result["events"]] == ["response.created",
                                                     "response.in_progress"]
    assert rest(http, result["response_id"])["status"] == "failed"


# -- client.responses.create({stream: true}) ---------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_create_stream_events_equal_rest(node: dict[str, Result], http: httpx.Client,
                                         scenario: str) -> None:
    result = node[f"create:{scenario}"]
    stored = rest(http, result["response_id"])
    # what REST replays is not there (foreground): compare with the stored response
    if scenario == "failed":
        assert result["error"]["message"] == FAILURE_MESSAGE
        assert [e["type"] for e in result["events"]] == ["response.created",
                                                         "response.in_progress"]
        assert stored["status"] == "failed"
        return
    assert result["error"] is None
    check_events(result["events"])
    assert result["events"][-1]["response"] == stored


# -- background responses, resumed -------------------------------------------------------------


@pytest.mark.parametrize("after", RESUME_AFTER)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_retrieve_starting_after_replays_the_original(node: dict[str, Result],
                                                      http: httpx.Client, scenario: str,
                                                      after: int) -> None:
    original = wire_events(http.get(f"/responses/{node[f'background:{scenario}']['response_id']}",
                                    params={"stream": "true"}).content)
    check_events(original)
    whole = node[f"background:{scenario}"]
    assert whole["events"] == before_error(original)
    resumed = node[f"resume:{scenario}:{after}"]
    assert resumed["events"] == before_error(original[after + 1:])
    assert [e["sequence_number"] for e in resumed["events"]] == list(
        range(after + 1, after + 1 + len(resumed["events"])))
    assert (resumed["error"] is not None) == ("error" in [e["type"]
                                                          for e in original[after + 1:]])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_left_early_then_resumed(node: dict[str, Result], http: httpx.Client,
                                 scenario: str) -> None:
    """Three events read, the connection left; the response ended server-side and the
    rest, from the last sequence number seen, completes exactly what was sent."""
    result = node[f"left:{scenario}"]
    assert len(result["head"]) == 3 and result["after"] == 2
    replayed = wire_events(http.get(f"/responses/{result['response_id']}",
                                    params={"stream": "true"}).content)
    assert stream_problems(replayed) == []
    assert result["head"] + result["events"] == before_error(replayed)
    assert replayed[-1]["response"] == rest(http, result["response_id"])


# -- faults ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_as_node_sees_them(node: dict[str, Result], http: httpx.Client,
                                  fault: str) -> None:
    result = node[f"fault:{fault}"]
    types = [e["type"] for e in result["events"]]
    clean = [e["type"] for e in node["stream:text"]["events"]]
    if types:  # (with no event the client never learnt the id)
        assert rest(http, result["response_id"])["status"] == "completed"  # the wire broke
    error = result["error"]
    kind, _, number = fault.partition("=")
    if kind in ("none", "delay"):
        assert error is None and types == clean
        assert sdk_free(result["final"]) == rest(http, result["response_id"])
    elif kind == "cut_after":
        assert error is not None and types == clean[:int(number)]
    elif kind == "error_after":
        assert (error["name"], error["message"]) == ("APIError", ERROR_MESSAGE)
        assert types == clean[:int(number)]
    elif kind == "corrupt":
        assert "malformed server-sent event JSON" in error["message"]
        assert types == clean[:int(number) - 1]
    elif kind == "unknown":  # the helper refuses any event type it does not know
        assert error["message"] == "Unhandled response stream event: unknown"
        assert types == clean[:int(number) - 1]
    else:  # a second, a missing or a late content part: the helper loses its place
        assert error["message"] == "missing content at index 0"
        assert types == (clean[:4] if kind == "duplicate" else clean[:3])
