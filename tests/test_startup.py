"""Start-up of ``runflow check`` (issue 22): checking a recording imports what it
needs and nothing else, and finds exactly what it found before.

``import openai`` alone takes about half a second (its ``__init__`` loads the whole
client and every type), and any ``openai.*`` import runs it. Checking a stream
builds no SDK object: the snapshot types are named ``"module:Name"`` and load with
the first typed snapshot (``runflow replay`` prints those, so it does load them).
``runflow check --types`` runs the types layer (:mod:`runflow.conform.sdk_types`),
which validates every carried object against those same SDK types, so it loads them.
The registry detects a stream's protocol from its rows' event names, so a
Responses check builds no Assistants definition, and the other way round.

Each case runs the real command line in a fresh interpreter, once, and reports
its ``--json`` output and every module it loaded. The expected findings were
pinned from ``runflow check --json`` of main before start-up was made lazy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from typing import Any

import pytest
from conftest import recordings_dir

from runflow.engine.definition import ProtocolDefinitionError
from runflow.protocols.registry import REGISTRY, Detection, Registered

PROBE = """\
import json, sys
from runflow.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""
"""Run the command line, then say on stderr's last line what it loaded."""


@cache
def _run(*argv: str) -> tuple[int, str, list[str]]:
    """(exit code, stdout, loaded module names) of ``runflow ARGV`` in a fresh
    interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True,
                          text=True, timeout=120)
    said = json.loads(done.stderr.strip().splitlines()[-1])
    return said["code"], done.stdout, said["modules"]


def _check(name: str) -> tuple[dict[str, Any], list[str]]:
    """The ``--json`` object and the loaded modules of ``runflow check`` of one
    recording."""
    code, out, modules = _run("check", "--json", str(recordings_dir() / name))
    report = json.loads(out)
    assert code == (0 if report["ok"] else 1)
    return report, modules


RESPONSES = "runflow.protocols.responses"
ASSISTANTS = "runflow.protocols.assistants"

CASES: dict[str, tuple[str, dict[str, Any], list[tuple[str, int]],
                       list[tuple[str, int | None, list[str]]]]] = {
    # name: (protocol, fields, violations (code, index), findings (rule, index,
    # consequences' rules)), as main printed them
    "responses/pydanticai_deepseek_reasoning_function_call.sse": (
        "responses", {"ok": True, "events": 34, "ending": "done", "status": "completed"},
        [],
        [("payload.response.id", 0, ["payload.response.id", "payload.response.id"]),
         ("payload.reasoning.id", 2, ["payload.reasoning.id"]),
         ("payload.function_call.id", 21, ["payload.function_call.id"])]),
    "responses/pydanticai_codex_backend_fc_gpt55.sse": (
        "responses", {"ok": True, "events": 14, "ending": "done", "status": "completed"},
        [("output_mismatch", 13)],
        [("grammar.output_mismatch", 13, [])]),
    "rubyopenai_message_incomplete_max_tokens_run_completed_event_status_incomplete_2024.sse": (
        "assistants", {"ok": True, "events": 26, "ending": "done", "status": "completed"},
        [("status_mismatch", 24), ("incomplete_details_on_completed", 24)],
        [("grammar.status_mismatch", 24, []),
         ("grammar.incomplete_details_on_completed", 24, [])]),
    "simpleopenai_EDITED_file_search_step_deltas.sse": (
        "assistants", {"ok": False, "events": 20, "ending": "done", "status": "completed"},
        [("snapshot_divergence", 16), ("snapshot_divergence", 16)],
        [("grammar.snapshot_divergence", 16, ["grammar.snapshot_divergence"])]),
    "docs_examples/openapi_createThreadAndRun_streaming.sse": (
        "assistants", {"ok": False, "events": 15, "ending": "done", "status": "in_progress"},
        [("snapshot_divergence", 11), ("malformed_event", 13), ("done_before_final", 14)],
        [("payload.run.started_at", 3, []), ("grammar.snapshot_divergence", 11, []),
         ("grammar.malformed_event", 13, ["grammar.done_before_final"])]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_check_finds_what_it_found_before(name: str) -> None:
    protocol, fields, violations, findings = CASES[name]
    report, _ = _check(name)
    assert report["protocol"] == protocol
    assert {k: report[k] for k in fields} == fields
    assert [(v["code"], v["index"]) for v in report["violations"]] == violations
    assert [(f["rule"], f["index"], [c["rule"] for c in f["consequences"]])
            for f in report["findings"]] == findings


@pytest.mark.parametrize("name", list(CASES))
def test_check_builds_only_its_own_protocol(name: str) -> None:
    """The stream's own definition and flow load; the other protocol's do not."""
    protocol = CASES[name][0]
    _, modules = _check(name)
    own, other = (RESPONSES, ASSISTANTS) if protocol == "responses" else (ASSISTANTS, RESPONSES)
    assert {f"{own}.definition", f"{own}.flow"} <= set(modules)
    assert f"{other}.definition" not in modules
    assert f"{other}.flow" not in modules
    assert "runflow.conform.runner" not in modules  # the openai client, for live servers


@pytest.mark.parametrize("name", list(CASES))
def test_check_imports_no_openai(name: str) -> None:
    """No typed SDK object is built to check a stream, so the SDK is not imported."""
    _, modules = _check(name)
    assert [m for m in modules if m.split(".")[0] == "openai"] == []


@pytest.mark.parametrize("name", list(CASES))
def test_check_types_imports_the_sdk_types_it_checks_against(name: str) -> None:
    """``--types`` validates each carried object against the SDK class its snapshot
    is built as: that class loads, and the findings of a capture are the same."""
    protocol = CASES[name][0]
    code, out, modules = _run("check", "--json", "--types", str(recordings_dir() / name))
    own = ("openai.types.responses.response" if protocol == "responses"
           else "openai.types.beta.threads.run")
    assert {own, "runflow.conform.sdk_types"} <= set(modules)
    assert json.loads(out)["findings"] == _check(name)[0]["findings"]
    assert code == (0 if json.loads(out)["ok"] else 1)


def test_replay_builds_the_sdk_types_it_prints() -> None:
    """``replay`` prints the final objects as the SDK's types: those load then."""
    stream = recordings_dir() / "dotnet_text_answer.sse"
    code, out, modules = _run("replay", str(stream))
    assert code == 0
    assert "openai.types.beta.threads.run" in modules
    assert "completed" in out


# --------------------------------------------------------------------------- #
# the registry's detection data
# --------------------------------------------------------------------------- #
def test_every_shipped_row_detects_by_its_definitions_names() -> None:
    """A shipped row carries a copy of its definition's event names (so detecting
    a stream builds no definition): the copy is the definition's."""
    for row in REGISTRY.values():
        assert row.detection == Detection.of(row.definition), row.name


def test_a_row_whose_names_drifted_from_its_definition_is_refused() -> None:
    shipped = REGISTRY["assistants"].detection
    drifted = Detection(shipped.name, shipped.events - {"thread.run.step.delta"})
    row = Registered("runflow.protocols.assistants.definition:ASSISTANTS", detection=drifted)
    with pytest.raises(ProtocolDefinitionError, match="update the row's Detection"):
        row.definition  # noqa: B018
    with pytest.raises(ValueError, match="must carry its detection"):
        Registered("runflow.protocols.assistants.definition:ASSISTANTS")


def test_the_transcript_protocol_is_the_websocket_definitions_name() -> None:
    """``--protocol responses-ws`` is written out in the CLI (so parsing arguments
    builds no definition): it is the WebSocket definition's name."""
    from runflow.cli.common import TRANSCRIPT_PROTOCOL
    from runflow.protocols.responses.websocket.definition import WS_RESPONSES

    assert TRANSCRIPT_PROTOCOL == WS_RESPONSES.name


def test_listing_the_protocols_builds_no_definition() -> None:
    code = ("import sys; from runflow.protocols.registry import PROTOCOLS, detect; "
            "names = list(PROTOCOLS); "
            "said = detect([('thread.run.created', {}), (None, {'type': 'response.created'})]); "
            "print(names, said, sorted(m for m in sys.modules if m.endswith('.definition') "
            "and m.startswith('runflow.protocols.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "['assistants', 'responses'] assistants []"
