"""Bad requests to the local server: generated over every route, answered like the API.

The bad bodies are generated from the ``openai`` SDK's own request annotations
(which JSON types each field accepts) and the route table, independently of the
server's validator: every field gets a value of each JSON type it does not
accept, every required field goes missing, and every route gets non-JSON, a
deeply nested body, a body over the size limit, unknown ids, wrong methods and
bad list queries. Not one answer may be a 5xx, and every error body must have
OpenAI's shape.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Iterator
from typing import Any, Literal, Union, get_args, get_origin

import httpx
import pytest
from typing_extensions import NotRequired, Required, get_type_hints, is_typeddict

from runflow.server.assistants import ROUTES
from runflow.server.validation import BODIES, NOT_IN_BODY
from runflow.testing import Server

ERROR_KEYS = {"message", "type", "param", "code"}
SAMPLES: dict[str, Any] = {"string": "x", "integer": 7, "number": 1.5, "boolean": True,
                           "array": [], "object": {}, "null": None}
MINIMAL: dict[str, dict[str, Any]] = {
    "assistant.create": {"model": "gpt-4o"},
    "message.create": {"role": "user", "content": "hi"},
    "run.create": {"assistant_id": "asst_text"},
    "thread.create_and_run": {"assistant_id": "asst_text"},
    "run.submit_tool_outputs": {"tool_outputs": []},
}
LIST_ROUTES = [path for method, path, _, _ in ROUTES if method == "GET" and path.endswith(
    ("/assistants", "/messages", "/runs", "/steps"))]


# -- what the SDK's annotations accept -------------------------------------------------------


def accepted(tp: Any) -> set[str]:
    """The JSON types a field annotated ``tp`` accepts (``object`` accepts all)."""
    while get_origin(tp) in (Required, NotRequired, typing.Annotated):
        tp = get_args(tp)[0]
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return set().union(*(accepted(arg) for arg in get_args(tp)))
    if origin is Literal:
        return {"string" if isinstance(v, str) else "boolean" if isinstance(v, bool)
                else "integer" for v in get_args(tp)}
    if tp is type(None):
        return {"null"}
    if tp is str:
        return {"string"}
    if tp is bool:
        return {"boolean"}
    if tp is int:
        return {"integer"}
    if tp is float:
        return {"number", "integer"}
    if is_typeddict(tp) or tp is dict or origin in (dict, collections.abc.Mapping):
        return {"object"}
    if origin in (list, collections.abc.Iterable, collections.abc.Sequence) or getattr(
            origin, "__name__", "") == "SequenceNotStr":
        return {"array"}
    return set(SAMPLES)  # object / Any


def fields(kind: str) -> dict[str, Any]:
    td, extra = BODIES[kind]
    hints = {k: v for k, v in get_type_hints(td, include_extras=True).items()
             if k not in NOT_IN_BODY}
    return {**hints, **extra}


def wrong_type_cases() -> list[tuple[str, str, Any]]:
    cases = []
    for kind in BODIES:
        for name, hint in fields(kind).items():
            for json_type, value in SAMPLES.items():
                if json_type not in accepted(hint):
                    cases.append((kind, name, value))
    return cases


def missing_cases() -> list[tuple[str, str]]:
    return [(kind, name) for kind, body in MINIMAL.items() for name in body]


def literal_cases() -> list[tuple[str, str]]:
    return [(kind, name) for kind in BODIES for name, hint in fields(kind).items()
            if accepted(hint) & {"string"} and "__bogus__" not in str(hint)
            and _only_literal_strings(hint)]


def _only_literal_strings(tp: Any) -> bool:
    """True when every string the field accepts comes from a Literal."""
    while get_origin(tp) in (Required, NotRequired, typing.Annotated):
        tp = get_args(tp)[0]
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return all(_only_literal_strings(a) for a in get_args(tp))
    return tp is not str and accepted(tp) != set(SAMPLES)


# -- a server with one of everything ----------------------------------------------------------


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
def ids(http: httpx.Client) -> dict[str, str]:
    """Real ids for every path parameter: a thread whose run waits for tool outputs."""
    thread = http.post("/v1/threads", json={"messages": [{"role": "user", "content": "x"}]})
    thread_id = thread.json()["id"]
    run = http.post(f"/v1/threads/{thread_id}/runs",
                    json={"assistant_id": "asst_parallel_functions"}).json()
    steps = http.get(f"/v1/threads/{thread_id}/runs/{run['id']}/steps").json()["data"]
    messages = http.get(f"/v1/threads/{thread_id}/messages").json()["data"]
    return {"assistant_id": "asst_text", "thread_id": thread_id, "run_id": run["id"],
            "step_id": steps[0]["id"], "message_id": messages[0]["id"]}


def url(path: str, ids: dict[str, str], **override: str) -> str:
    return path.format(**{**ids, **override})


def check_error(response: httpx.Response, status: int | None = None) -> dict[str, Any]:
    """Not a 5xx, an error status, and OpenAI's error body; returns the error object."""
    assert response.status_code < 500, response.text
    assert response.status_code in (400, 404, 405, 409, 413), response.text
    if status is not None:
        assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    error: dict[str, Any] = body["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == "invalid_request_error"
    return error


def route_for(kind: str) -> tuple[str, str]:
    return next((method, path) for method, path, _, k in ROUTES if k == kind)


# -- the generated suite ---------------------------------------------------------------------------


def test_the_route_table_is_every_route(small: Server) -> None:
    from starlette.routing import Route

    from runflow.testing import create_app

    app = create_app(backend=small.backend)
    routes = [r for r in app.routes if isinstance(r, Route)]
    served = {(m, r.path.replace(":runflow_thread_id", "")) for r in routes
              for m in r.methods or () if m != "HEAD"}
    from runflow.server.responses import RESPONSES_ROUTES

    assert served == {(method, path) for method, path, _, _ in [*ROUTES, *RESPONSES_ROUTES]}
    assert {kind for *_, kind in ROUTES if kind} == set(BODIES)


@pytest.mark.parametrize(("kind", "name", "value"), wrong_type_cases())
def test_every_field_with_a_wrong_type(http: httpx.Client, ids: dict[str, str], kind: str,
                                       name: str, value: Any) -> None:
    method, path = route_for(kind)
    body = {**MINIMAL.get(kind, {}), name: value}
    error = check_error(http.request(method, url(path, ids), json=body), 400)
    assert error["param"] == name
    assert f"'{name}'" in error["message"]


@pytest.mark.parametrize(("kind", "name"), missing_cases())
def test_every_required_field_missing(http: httpx.Client, ids: dict[str, str], kind: str,
                                      name: str) -> None:
    method, path = route_for(kind)
    body = {k: v for k, v in MINIMAL[kind].items() if k != name}
    error = check_error(http.request(method, url(path, ids), json=body), 400)
    assert error["param"] == name
    assert error["message"] == f"Missing required parameter: '{name}'."


@pytest.mark.parametrize(("kind", "name"), literal_cases())
def test_every_enum_field_with_an_unknown_value(http: httpx.Client, ids: dict[str, str],
                                                kind: str, name: str) -> None:
    method, path = route_for(kind)
    body = {**MINIMAL.get(kind, {}), name: "__bogus__"}
    error = check_error(http.request(method, url(path, ids), json=body), 400)
    assert error["param"] == name and "__bogus__" in error["message"]


@pytest.mark.parametrize("kind", list(BODIES))
def test_every_body_with_an_unknown_parameter(http: httpx.Client, ids: dict[str, str],
                                              kind: str) -> None:
    method, path = route_for(kind)
    body = {**MINIMAL.get(kind, {}), "surprise": 1}
    error = check_error(http.request(method, url(path, ids), json=body), 400)
    assert error["param"] == "surprise" and error["message"] == "Unknown parameter: 'surprise'."


NOT_JSON = [b"not json", b"\xff\xfe{}", b"{", b"[1, 2]", b'"text"', b"12", b"null",
            b'{"a": NaN}', b"[" * 300 + b"]" * 300, b'{"m":' * 250 + b"1" + b"}" * 250]


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, k in ROUTES if k])
def test_every_body_route_refuses_what_is_not_a_json_object(
        http: httpx.Client, ids: dict[str, str], method: str, path: str) -> None:
    for raw in NOT_JSON:
        check_error(http.request(method, url(path, ids), content=raw,
                                 headers={"content-type": "application/json"}), 400)


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _, k in ROUTES if k])
def test_every_body_route_refuses_a_body_over_the_limit(
        http: httpx.Client, ids: dict[str, str], method: str, path: str) -> None:
    big = {"metadata": {"k": "v" * 5000}}
    error = check_error(http.request(method, url(path, ids), json=big), 413)
    assert "4096" in error["message"]
    # also when the size is not declared up front (chunked upload)
    chunks = iter([b'{"metadata": {"k": "', b"v" * 5000, b'"}}'])
    check_error(http.request(method, url(path, ids), content=chunks), 413)


@pytest.mark.parametrize(("method", "path", "kind"),
                         [(m, p, k) for m, p, _, k in ROUTES if "{" in p])
def test_every_route_with_unknown_ids(http: httpx.Client, ids: dict[str, str], method: str,
                                      path: str, kind: str | None) -> None:
    body = MINIMAL.get(kind or "", {})
    for name in ids:
        if "{" + name + "}" in path:
            response = http.request(method, url(path, ids, **{name: "nope_0"}), json=body)
            error = check_error(response, 404)
            assert "nope_0" in error["message"]


@pytest.mark.parametrize("path", sorted({p for _, p, _, _ in ROUTES}))
def test_every_path_with_a_wrong_method(http: httpx.Client, ids: dict[str, str],
                                        path: str) -> None:
    allowed = {m for m, p, _, _ in ROUTES if p == path}
    for method in {"GET", "POST", "DELETE", "PUT", "PATCH"} - allowed:
        check_error(http.request(method, url(path, ids), json={}), 405)


BAD_QUERIES = [({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "x"}, "limit"),
               ({"limit": "-1"}, "limit"), ({"order": "sideways"}, "order"),
               ({"after": "nope_0"}, "after"), ({"before": "nope_0"}, "before")]


@pytest.mark.parametrize("path", LIST_ROUTES)
def test_every_list_route_with_bad_query(http: httpx.Client, ids: dict[str, str],
                                         path: str) -> None:
    for params, param in BAD_QUERIES:
        error = check_error(http.get(url(path, ids), params=params), 400)
        assert error["param"] == param


def test_unknown_urls_and_bad_fault_headers(http: httpx.Client, ids: dict[str, str]) -> None:
    check_error(http.get("/v1/nowhere"), 404)
    check_error(http.post("/v2/threads", json={}), 404)
    for path in ("/v1/threads/runs", f"/v1/threads/{ids['thread_id']}/runs"):
        body = {"assistant_id": "asst_text", "stream": True}
        error = check_error(http.post(path, json=body,
                                      headers={"X-Runflow-Fault": "delay=1e9"}), 400)
        assert error["param"] == "X-Runflow-Fault" and "at most" in error["message"]


# -- the cases the issue names -------------------------------------------------------------------


@pytest.mark.parametrize(("route", "body", "param"), [
    ("messages", {"role": "user", "content": 5}, "content"),
    ("messages", {}, "content"),
    ("messages", {"role": "bogus", "content": "x"}, "role"),
    ("messages", {"role": "user", "content": [{"type": "text", "text": 5}]}, "content[0].text"),
    ("threads", {"messages": "x"}, "messages"),
    ("threads", {"metadata": "x"}, "metadata"),
    ("threads", {"metadata": {"k": 1}}, "metadata.k"),
    ("threads", {"metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ("runs", {"assistant_id": "asst_text", "metadata": "x"}, "metadata"),
    ("runs", {"assistant_id": "asst_text", "additional_messages": [{"content": 5}]},
     "additional_messages[0].content"),
    ("runs", {"assistant_id": 42}, "assistant_id"),
    ("runs", {"assistant_id": "asst_text", "temperature": 3}, "temperature"),
    ("assistants", {}, "model"),
    ("assistants", {"model": "gpt-4o", "metadata": "x"}, "metadata"),
    ("create_and_run", {"assistant_id": "asst_text", "thread": "x"}, "thread"),
    ("submit", {"tool_outputs": "xy"}, "tool_outputs"),
    ("submit", {"tool_outputs": [1, 2]}, "tool_outputs[0]"),
])
def test_the_cases_named_in_the_issue(http: httpx.Client, ids: dict[str, str], route: str,
                                      body: dict[str, Any], param: str) -> None:
    thread, run = ids["thread_id"], ids["run_id"]
    path = {"messages": f"/v1/threads/{thread}/messages", "threads": "/v1/threads",
            "runs": f"/v1/threads/{thread}/runs", "assistants": "/v1/assistants",
            "create_and_run": "/v1/threads/runs",
            "submit": f"/v1/threads/{thread}/runs/{run}/submit_tool_outputs"}[route]
    assert check_error(http.post(path, json=body), 400)["param"] == param


def test_type_errors_read_like_the_api(http: httpx.Client, ids: dict[str, str]) -> None:
    path = f"/v1/threads/{ids['thread_id']}/messages"
    error = check_error(http.post(path, json={"role": "user", "content": 5}))
    assert error["message"] == ("Invalid type for 'content': expected one of a string or an "
                                "array, but got an integer instead.")
    error = check_error(http.post("/v1/threads/runs", json={"assistant_id": 42}))
    assert error["message"] == ("Invalid type for 'assistant_id': expected a string, but got "
                                "an integer instead.")


def test_unknown_assistant_and_scenario(http: httpx.Client) -> None:
    for body in ({"assistant_id": "asst_nope"},
                 {"assistant_id": "asst_nope", "metadata": {"scenario": "text"}}):
        assert "asst_nope" in check_error(http.post("/v1/threads/runs", json=body), 404)[
            "message"]
    error = check_error(http.post("/v1/threads/runs", json={
        "assistant_id": "asst_text", "metadata": {"scenario": "nope"}}), 400)
    assert error["param"] == "metadata.scenario"


def test_a_busy_thread_is_a_409(http: httpx.Client, ids: dict[str, str]) -> None:
    thread = ids["thread_id"]  # its run waits for tool outputs
    for path, body in ((f"/v1/threads/{thread}/runs", {"assistant_id": "asst_text"}),
                       (f"/v1/threads/{thread}/messages", {"role": "user", "content": "x"})):
        error = check_error(http.post(path, json=body), 409)
        assert ids["run_id"] in error["message"]
