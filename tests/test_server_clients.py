"""Both official clients -- ``openai`` for Python and for Node -- against the local server.

Every scenario and every fault goes through each client's streaming helper
(Python: ``client.beta.threads.runs.stream`` / ``submit_tool_outputs_stream``;
Node: ``client.beta.threads.runs.stream`` / ``submitToolOutputsStream``, run by
``tests/node/harness.mjs``). What the client ends with -- its final run, messages
and run steps, or the error it raised -- is compared with what REST says about
the same run. The README's client tables are rendered from these results, and a
test fails when they are stale; regenerate them with::

    python tests/test_server_clients.py --write

Node tests need ``node`` and ``npm ci --prefix tests/node``; without them they
skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from conftest import tool_missing

from runflow.server.faults import ERROR_MESSAGE
from runflow.testing import SCENARIOS, Server

pytestmark = [
    pytest.mark.filterwarnings("ignore:The Assistants API is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning"),
]

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "tests" / "node"
README = ROOT / "README.md"
BEGIN, END = "<!-- clients:begin -->\n", "<!-- clients:end -->"
TEXT = "Hi there you"  # the text scenario's answer under faults: three deltas
FAULTS = ["none", "delay=0.01", "cut_after=0", "cut_after=5", "error_after=0", "error_after=3",
          "corrupt=3", "duplicate=4", "drop=4", "swap=4", "unknown=2"]
FINAL = {"text": "completed", "parallel_functions": "completed", "code_interpreter": "completed",
         "file_search": "completed", "cancel": "cancelled", "failure": "failed",
         "incomplete": "incomplete"}
IDS = re.compile(r"\b(?:run|step|msg|thread|call|asst)_[A-Za-z0-9]{24}\b")

Result = dict[str, Any]


# -- running the cases ---------------------------------------------------------------------


def node_version() -> str:
    package = NODE_DIR / "node_modules" / "openai" / "package.json"
    return str(json.loads(package.read_text(encoding="utf-8"))["version"])


def node_missing() -> str | None:
    """Why the Node harness cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not on PATH"
    if not (NODE_DIR / "node_modules" / "openai" / "package.json").is_file():
        return "tests/node/node_modules is missing (run: npm ci --prefix tests/node)"
    return None


def require_node() -> None:
    reason = node_missing()
    if reason is not None:
        tool_missing(reason)


def run_node(base_url: str) -> list[Result]:
    plan = {"scenarios": list(SCENARIOS), "faults": FAULTS, "text": TEXT}
    done = subprocess.run(["node", str(NODE_DIR / "harness.mjs"), base_url, json.dumps(plan)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results: list[Result] = json.loads(done.stdout)["results"]
    return results


def as_json(obj: Any) -> Any:
    return json.loads(obj.to_json()) if obj is not None else None


def _finals(get: Any) -> list[Any]:
    """``get_final_messages``/``get_final_run_steps``: they raise when there are none."""
    try:
        return [as_json(obj) for obj in get()]
    except RuntimeError:
        return []


def python_stream(manager: Any) -> Result:
    """One stream through the Python SDK's AssistantEventHandler; like harness.mjs."""
    events: list[str] = []
    stream = None
    try:
        with manager as stream:
            for event in stream:
                events.append(event.event)
            return {"events": events, "run": as_json(stream.get_final_run()),
                    "messages": _finals(stream.get_final_messages),
                    "steps": _finals(stream.get_final_run_steps), "error": None}
    except Exception as exc:  # what the client raised is the result being recorded
        current = getattr(stream, "current_run", None) if stream is not None else None
        return {"events": events, "run": as_json(current), "messages": [], "steps": [],
                "error": {"name": type(exc).__name__, "message": str(exc),
                          "status": getattr(exc, "status_code", None)}}


def rest(http: httpx.Client, thread_id: str, run_id: str | None) -> Result | None:
    if run_id is None:
        return None
    base = f"/threads/{thread_id}"
    return {"run": http.get(f"{base}/runs/{run_id}").json(),
            "steps": http.get(f"{base}/runs/{run_id}/steps", params={"order": "asc"}).json()[
                "data"],
            "messages": http.get(f"{base}/messages",
                                 params={"order": "asc", "run_id": run_id}).json()["data"]}


def python_case(client: openai.OpenAI, http: httpx.Client, scenario: str,
                fault: str | None) -> Result:
    thread = client.beta.threads.create()
    headers = {"X-Runflow-Fault": fault} if fault else {}
    metadata = {"text": TEXT} if scenario == "text" else {}
    streams = [python_stream(client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=f"asst_{scenario}", metadata=metadata,
        extra_headers=headers))]
    last = streams[-1]
    if last["error"] is None and last["run"]["status"] == "requires_action":
        calls = last["run"]["required_action"]["submit_tool_outputs"]["tool_calls"]
        outputs = [{"tool_call_id": c["id"], "output": f"{c['function']['name']} ok"}
                   for c in calls]
        streams.append(python_stream(client.beta.threads.runs.submit_tool_outputs_stream(
            run_id=last["run"]["id"], thread_id=thread.id, tool_outputs=outputs,  # type: ignore[arg-type]
            extra_headers=headers)))
    run_id = next((s["run"]["id"] for s in streams if s["run"]), None)
    if run_id is None:
        runs = client.beta.threads.runs.list(thread.id).data
        run_id = runs[0].id if runs else None
    return {"name": fault or scenario, "client": "python", "scenario": scenario, "fault": fault,
            "thread_id": thread.id, "streams": streams, "rest": rest(http, thread.id, run_id)}


def run_python(base_url: str) -> list[Result]:
    with openai.OpenAI(base_url=base_url, api_key="test", max_retries=0) as client, \
            httpx.Client(base_url=base_url, timeout=20) as http:
        cases: list[tuple[str, str | None]] = [(s, None) for s in SCENARIOS]
        cases += [("text", fault) for fault in FAULTS]
        return [python_case(client, http, scenario, fault) for scenario, fault in cases]


@pytest.fixture(scope="module")
def python_results(server: Server) -> dict[str, Result]:
    return {r["name"]: r for r in run_python(server.base_url)}


@pytest.fixture(scope="module")
def node_results(server: Server) -> dict[str, Result]:
    require_node()
    return {r["name"]: r for r in run_node(server.base_url)}


@pytest.fixture(params=["python", pytest.param("node", marks=pytest.mark.needs_tools)])
def results(request: pytest.FixtureRequest) -> Iterator[dict[str, Result]]:
    yield request.getfixturevalue(f"{request.param}_results")


# -- what must hold ----------------------------------------------------------------------------


def final_objects(result: Result) -> dict[str, Any]:
    """Run, messages and steps as the client last saw each of them, by id."""
    last: dict[str, Any] = {}
    for stream in result["streams"]:
        for obj in [stream["run"], *stream["messages"], *stream["steps"]]:
            if obj:
                last[obj["id"]] = obj
    return last


STEP_IDENTITY = ("id", "object", "type", "run_id", "thread_id", "assistant_id", "created_at")


def disagreements(result: Result) -> list[str]:
    """Where the client's final run, messages and steps differ from REST ([] = nowhere).

    The Python SDK's ``get_final_run_steps()`` applies only a step's ``created``
    event and deltas, never the status events, so each of its steps stays the
    ``in_progress`` snapshot it was created as; for it, a step agrees when that is
    so and its identity fields match.
    """
    seen, stored = final_objects(result), result["rest"]
    assert stored is not None
    found = []
    if seen.get(stored["run"]["id"]) != stored["run"]:
        found.append("the run differs")
    for kind in ("messages", "steps"):
        for obj in stored[kind]:
            mine = seen.get(obj["id"])
            if mine is None:
                found.append(f"a {kind[:-1]} is missing")
            elif kind == "steps" and result.get("client") == "python":
                if mine["status"] != "in_progress" or any(
                        mine[k] != obj[k] for k in STEP_IDENTITY):
                    found.append("a step differs")
            elif mine != obj:
                found.append(f"a {kind[:-1]} differs")
    extra = set(seen) - {stored["run"]["id"]} - {o["id"] for k in ("messages", "steps")
                                                for o in stored[k]}
    found += ["an object REST does not have"] * len(extra)
    return found


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_every_scenario_finals_equal_rest(results: dict[str, Result], scenario: str) -> None:
    result = results[scenario]
    assert [s["error"] for s in result["streams"]] == [None] * len(result["streams"])
    assert result["streams"][-1]["run"]["status"] == FINAL[scenario]
    assert len(result["streams"]) == (2 if scenario == "parallel_functions" else 1)
    assert disagreements(result) == []


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_as_the_client_saw_it(results: dict[str, Result],
                                          python_results: dict[str, Result], fault: str) -> None:
    result = results[fault]
    (stream,) = result["streams"]
    clean = python_results["none"]["streams"][0]["events"]
    kind, _, number = fault.partition("=")
    assert result["rest"]["run"]["status"] == "completed"  # faults only damage the wire
    if kind in ("none", "delay"):
        assert stream["error"] is None and stream["events"] == clean
        assert disagreements(result) == []
    elif kind == "cut_after":
        assert stream["error"] is not None and stream["events"] == clean[:int(number)]
    elif kind == "error_after":
        assert stream["error"]["message"] == ERROR_MESSAGE
        assert stream["events"] == clean[:int(number)]
    elif kind == "corrupt":
        assert stream["error"] is not None and stream["events"] == clean[:int(number) - 1]
    elif stream["error"] is None:  # tolerated: the client's final run is still right
        assert stream["run"]["status"] == "completed"
        assert "the run differs" not in disagreements(result)


# -- the README tables ---------------------------------------------------------------------------


def scenario_cell(result: Result) -> str:
    statuses = " → ".join(f"`{s['run']['status']}`" for s in result["streams"])
    events = " + ".join(str(len(s["events"])) for s in result["streams"])
    return f"{statuses} ({events} events), finals = REST"


def fault_cell(result: Result) -> str:
    (stream,) = result["streams"]
    count = len(stream["events"])
    if stream["error"] is None:
        off = disagreements(result)
        summary = "finals = REST" if not off else "finals ≠ REST: " + ", ".join(
            dict.fromkeys(off))
        return f"`{stream['run']['status']}` after {count} events, {summary}"
    message = IDS.sub("…", stream["error"]["message"]).split("\n")[0]
    message = message if len(message) <= 60 else message[:57].rstrip() + "…"
    return f"raises `{stream['error']['name']}` ({message}) after {count} events"


def render(python: dict[str, Result], node: dict[str, Result]) -> str:
    heads = f"Python `openai` {openai.__version__}", f"Node `openai` {node_version()}"
    lines = [f"| scenario | {heads[0]} | {heads[1]} |", "|---|---|---|"]
    lines += [f"| `{s}` | {scenario_cell(python[s])} | {scenario_cell(node[s])} |"
              for s in SCENARIOS]
    lines += ["", f"| fault (on `text`) | {heads[0]} | {heads[1]} |", "|---|---|---|"]
    lines += [f"| `{f}` | {fault_cell(python[f])} | {fault_cell(node[f])} |" for f in FAULTS]
    return "\n".join(lines) + "\n"


def readme_tables(text: str) -> str:
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)]


@pytest.mark.needs_tools
def test_readme_client_tables_are_current(python_results: dict[str, Result],
                                          node_results: dict[str, Result]) -> None:
    assert readme_tables(README.read_text(encoding="utf-8")) == render(
        python_results, node_results), (
        "README.md's client tables are stale; regenerate: python tests/test_server_clients.py "
        "--write")


def main(argv: list[str]) -> int:
    """Print the tables (``--write``: put them into README.md)."""
    reason = node_missing()
    if reason is not None:
        print(f"cannot render the tables: {reason}", file=sys.stderr)
        return 1
    with Server() as server:
        tables = render({r["name"]: r for r in run_python(server.base_url)},
                        {r["name"]: r for r in run_node(server.base_url)})
    if "--write" in argv:
        text = README.read_text(encoding="utf-8")
        start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
        README.write_text(text[:start] + tables + text[end:], encoding="utf-8")
    else:
        print(tables, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
