"""Bad requests to every Responses route: generated, and answered like the API, never a 5xx.

The bad bodies come from the ``openai`` SDK's own ``ResponseCreateParamsBase``
annotations through the generator of ``test_server_requests`` (which knows
nothing of the server's validator): every field with each JSON type it does not
accept, every enum field with an unknown value, an unknown parameter; then
nested mistakes named by hand, non-JSON and oversized bodies, unknown ids,
wrong methods, bad queries, and a seeded random mutation of valid bodies. Not
one answer may be a 5xx; every error has OpenAI's shape; every 200 stream
follows the grammar.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai.types.responses import response_create_params
from starlette.routing import Route
from test_server_requests import (
    BAD_QUERIES,
    NOT_JSON,
    SAMPLES,
    _only_literal_strings,
    accepted,
    check_error,
)
from test_server_responses_grammar import stream_problems, wire_events
from typing_extensions import get_type_hints

from runflow.server.assistants import ROUTES
from runflow.server.responses import RESPONSES_ROUTES
from runflow.testing import Server, create_app

MINIMAL: dict[str, Any] = {"model": "gpt-4o", "input": "hi"}
CREATE_FIELDS = {**get_type_hints(response_create_params.ResponseCreateParamsBase,
                                  include_extras=True), "stream": bool | None}


def wrong_type_cases() -> list[tuple[str, Any]]:
    return [(name, value) for name, hint in CREATE_FIELDS.items()
            for json_type, value in SAMPLES.items() if json_type not in accepted(hint)]


def literal_cases() -> list[str]:
    return [name for name, hint in CREATE_FIELDS.items()
            if "string" in accepted(hint) and _only_literal_strings(hint)]


@pytest.fixture(scope="module")
def small() -> Iterator[Server]:
    """A server with a 4 KiB body limit (so 413 needs no big upload)."""
    with Server(max_body_bytes=4096) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(small: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=small.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def response_id(http: httpx.Client) -> str:
    answer = http.post("/v1/responses", json={**MINIMAL, "background": True})
    assert answer.status_code == 200
    return str(answer.json()["id"])


def create(http: httpx.Client, body: Any) -> httpx.Response:
    return http.post("/v1/responses", json=body)


# -- the routes ------------------------------------------------------------------------------------


def test_the_route_tables_are_every_route(small: Server) -> None:
    app = create_app(backend=small.backend)
    served = {(m, r.path.replace(":runflow_thread_id", "")) for r in app.routes
              if isinstance(r, Route) for m in r.methods or () if m != "HEAD"}
    tables = [(method, path) for method, path, _, _ in [*ROUTES, *RESPONSES_ROUTES]]
    assert served == set(tables) and len(tables) == len(set(tables))
    assert {k for *_, k in RESPONSES_ROUTES if k} == {"response.create"}


# -- generated from the SDK's annotations ---------------------------------------------------------


def test_the_generator_found_the_fields() -> None:
    assert {"model", "input", "tools", "metadata", "background", "stream"} <= set(CREATE_FIELDS)
    assert len(wrong_type_cases()) > 100 and "truncation" in literal_cases()


@pytest.mark.parametrize(("name", "value"), wrong_type_cases())
def test_every_field_with_a_wrong_type(http: httpx.Client, name: str, value: Any) -> None:
    error = check_error(create(http, {**MINIMAL, name: value}), 400)
    assert error["param"] == name and f"'{name}'" in error["message"]


@pytest.mark.parametrize("name", literal_cases())
def test_every_enum_field_with_an_unknown_value(http: httpx.Client, name: str) -> None:
    error = check_error(create(http, {**MINIMAL, name: "__bogus__"}), 400)
    assert error["param"] == name and "__bogus__" in error["message"]


def test_unknown_and_missing_parameters(http: httpx.Client) -> None:
    error = check_error(create(http, {**MINIMAL, "surprise": 1}), 400)
    assert (error["param"], error["message"]) == ("surprise", "Unknown parameter: 'surprise'.")
    error = check_error(create(http, {"input": "hi"}), 400)
    assert (error["param"], error["message"]) == ("model", "Missing required parameter: 'model'.")


TOOL = {"type": "function", "name": "f", "parameters": {}, "strict": False}


@pytest.mark.parametrize(("extra", "param"), [
    ({"input": [5]}, "input[0]"),
    ({"input": [{"role": "user"}]}, "input[0].content"),
    ({"input": [{"role": "bogus", "content": "x"}]}, "input[0].role"),
    ({"input": [{"role": "user", "content": [{"type": "input_text", "text": 5}]}]},
     "input[0].content[0].text"),
    ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
    ({"input": [{"type": "function_call_output", "call_id": 5, "output": "x"}]},
     "input[0].call_id"),
    ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]},
     "input[0].call_id"),
    ({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}, "input"),
    ({"tools": [{"type": "function", "parameters": {}, "strict": False}]}, "tools[0].name"),
    ({"tools": [{"type": "nope"}]}, "tools[0].type"),
    ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
    ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
    ({"metadata": {"k": 1}}, "metadata.k"),
    ({"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"metadata": {"scenario": "nope"}}, "metadata.scenario"),
    ({"temperature": 3}, "temperature"),
    ({"top_p": -0.5}, "top_p"),
    ({"max_output_tokens": 5}, "max_output_tokens"),
    ({"top_logprobs": 21}, "top_logprobs"),
    ({"stream": "yes"}, "stream"),
    ({"tool_choice": "sometimes"}, "tool_choice"),
    ({"previous_response_id": "resp_nope"}, "previous_response_id"),
    ({"metadata": {"scenario": "parallel_functions"}}, "tools"),
])
def test_nested_and_semantic_mistakes(http: httpx.Client, extra: dict[str, Any],
                                      param: str) -> None:
    error = check_error(create(http, {**MINIMAL, **extra}), 400)
    assert error["param"] == param, error


def test_what_is_not_a_json_object(http: httpx.Client) -> None:
    for raw in NOT_JSON:
        check_error(http.post("/v1/responses", content=raw,
                              headers={"content-type": "application/json"}), 400)


def test_a_body_over_the_limit(http: httpx.Client) -> None:
    error = check_error(create(http, {**MINIMAL, "instructions": "v" * 5000}), 413)
    assert "4096" in error["message"]
    chunks = iter([b'{"model": "gpt-4o", "instructions": "', b"v" * 5000, b'"}'])
    check_error(http.post("/v1/responses", content=chunks), 413)


@pytest.mark.parametrize(("method", "path"),
                         [(m, p) for m, p, _, _ in RESPONSES_ROUTES if "{" in p])
def test_every_route_with_an_unknown_id(http: httpx.Client, method: str, path: str) -> None:
    error = check_error(http.request(method, path.format(response_id="resp_nope0")), 404)
    assert "resp_nope0" in error["message"]


@pytest.mark.parametrize("path", sorted({p for _, p, _, _ in RESPONSES_ROUTES}))
def test_every_path_with_a_wrong_method(http: httpx.Client, response_id: str,
                                        path: str) -> None:
    allowed = {m for m, p, _, _ in RESPONSES_ROUTES if p == path}
    for method in {"GET", "POST", "DELETE", "PUT", "PATCH"} - allowed:
        check_error(http.request(method, path.format(response_id=response_id), json={}), 405)


def test_input_items_with_bad_queries(http: httpx.Client, response_id: str) -> None:
    for params, param in BAD_QUERIES:
        if param == "before":
            continue  # not a parameter of this list
        error = check_error(http.get(f"/v1/responses/{response_id}/input_items",
                                     params=params), 400)
        assert error["param"] == param


@pytest.mark.parametrize(("query", "param"), [
    ("stream=maybe", "stream"), ("stream=true&starting_after=-1", "starting_after"),
    ("stream=true&starting_after=x", "starting_after"),
    ("stream=true&starting_after=1e3", "starting_after"),
    ("stream=true&starting_after=" + "9" * 5000, "starting_after"),
    ("stream=true&starting_after=1&starting_after=2", "starting_after"),
    ("include_obfuscation=maybe", "include_obfuscation"),
])
def test_retrieve_with_bad_queries(http: httpx.Client, response_id: str, query: str,
                                   param: str) -> None:
    error = check_error(http.get(f"/v1/responses/{response_id}?{query}"), 400)
    assert error["param"] == param


def test_a_bad_fault_header(http: httpx.Client, response_id: str) -> None:
    for method, path in (("POST", "/v1/responses"), ("GET", f"/v1/responses/{response_id}")):
        answer = http.request(method, path, json={**MINIMAL, "stream": True},
                              params={"stream": "true"} if method == "GET" else None,
                              headers={"X-Runflow-Fault": "delay=1e9"})
        error = check_error(answer, 400)
        assert error["param"] == "X-Runflow-Fault" and "at most" in error["message"]


# -- random mutations of valid bodies ----------------------------------------------------------


VALID: list[dict[str, Any]] = [
    {**MINIMAL, "stream": True},
    {"model": "gpt-4o", "stream": True, "background": True, "metadata": {"scenario": "reasoning"},
     "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}]},
    {"model": "gpt-4o", "stream": True, "tools": [TOOL],
     "metadata": {"scenario": "parallel_functions", "text": "x", "chunk_size": "3"}},
    {"model": "gpt-4o", "input": "x", "max_output_tokens": 16, "temperature": 0.2,
     "reasoning": {"effort": "low", "summary": "auto"}, "text": {"verbosity": "low"},
     "metadata": {"scenario": "incomplete"}},
]
VALUES: list[Any] = [None, True, 0, -1, 2**70, 1.5, float("-0"), "", "x", "gpt-4o", "auto",
                     [], [1], [{}], {}, {"type": "message"}, {"role": "user", "content": "x"},
                     "\u0000", "é" * 3, {"scenario": "failed"}, {"scenario": "refusal"}]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*prefix, index))


def mutate(body: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``body`` with one place replaced, removed, or given an extra key."""
    body = copy.deepcopy(body)
    path = rng.choice([p for p in _paths(body) if p])
    parent: Any = body
    for step in path[:-1]:
        parent = parent[step]
    choice = rng.random()
    if choice < 0.6:
        parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
    elif choice < 0.8:
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent["zz_" + str(rng.randrange(100))] = rng.choice(VALUES)
    return body


def test_random_mutations_never_break_the_server(http: httpx.Client) -> None:
    rng = random.Random(20260901)
    outcomes: dict[int, int] = {}
    for _ in range(400):
        body = mutate(rng.choice(VALID), rng)
        answer = http.post("/v1/responses", content=json.dumps(body).encode(),
                           headers={"content-type": "application/json"})
        outcomes[answer.status_code] = outcomes.get(answer.status_code, 0) + 1
        if answer.status_code != 200:
            check_error(answer)
        elif answer.headers["content-type"].startswith("text/event-stream"):
            assert stream_problems(wire_events(answer.content)) == [], body
        else:
            assert answer.json()["object"] == "response"
    assert set(outcomes) <= {200, 400} and outcomes.get(200) and outcomes.get(400), outcomes
