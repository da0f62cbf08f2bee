"""The third-party Responses servers of the interop suite, and how each is started.

Each :class:`Spec` names the PyPI distribution (pinned in ``requirements.txt``),
the scenarios the server can be made to produce, and how to start it: the command
(run with this interpreter, in a scratch directory), its environment, the path its
readiness probe polls, and where the openai client's ``base_url`` points. The
gateways get the scripted Chat Completions upstream of :mod:`upstream`; nothing
leaves 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SERVERS", "Launch", "Spec"]

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Launch:
    args: Sequence[str]
    env: Mapping[str, str]
    probe: str
    api_path: str
    """Appended to ``http://127.0.0.1:PORT`` for the client's ``base_url``."""


@dataclass(frozen=True)
class Spec:
    name: str
    distribution: str
    """The PyPI name, pinned in ``requirements.txt``."""
    module: str
    """Imported to tell whether the distribution is installed."""
    kind: str
    """What it is, for the compatibility table."""
    scenarios: tuple[str, ...]
    launch: Callable[[int, str], Launch]
    """``launch(port, upstream_root)``; ``upstream_root`` is ``http://127.0.0.1:N``."""


def _azure(port: int, upstream: str) -> Launch:
    return Launch([str(HERE / "azure_app.py"), str(port)], {}, "/readiness", "")


def _open_responses_server(port: int, upstream: str) -> Launch:
    # server_entrypoint.py runs uvicorn with reload=True (a file watcher); the app
    # itself is the same, served here without the watcher.
    code = ("import uvicorn; from open_responses_server.api_controller import app; "
            f"uvicorn.run(app, host='127.0.0.1', port={port}, log_level='warning')")
    env = {"OPENAI_BASE_URL_INTERNAL": upstream, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}",
           "OPENAI_API_KEY": "interop", "MCP_SERVERS_CONFIG_PATH": "no-mcp-servers.json"}
    # It serves POST /responses at its root (/v1/* is proxied to the upstream).
    return Launch(["-c", code], env, "/health", "")


def _codex_rosetta(port: int, upstream: str) -> Launch:
    return Launch(["-m", "uvicorn", "codex_rosetta.main:app", "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "warning"],
                  {"UPSTREAM_BASE_URL": f"{upstream}/v1", "UPSTREAM_API_KEY": "interop",
                   "KEYS_FILE": "keys.json"}, "/", "/v1")


def _llm_mock_api(port: int, upstream: str) -> Launch:
    return Launch([str(HERE / "llm_mock_app.py"), str(port)], {}, "/", "/v1")


SERVERS: Mapping[str, Spec] = {s.name: s for s in (
    Spec("azure-ai-agentserver-responses", "azure-ai-agentserver-responses",
         "azure.ai.agentserver.responses", "vendor server SDK (handler in azure_app.py)",
         ("text", "tool", "reasoning", "error", "incomplete"), _azure),
    Spec("open-responses-server", "open-responses-server", "open_responses_server",
         "gateway: Responses over Chat Completions",
         ("text", "tool", "reasoning", "length", "error"), _open_responses_server),
    Spec("codex-rosetta", "codex-rosetta", "codex_rosetta",
         "gateway: Responses over Chat Completions",
         ("text", "tool", "reasoning", "length", "error"), _codex_rosetta),
    Spec("llm-mock-api", "llm-mock-api", "llm_mock_api", "mock server (rules in llm_mock_app.py)",
         ("text", "tool", "reasoning", "error"), _llm_mock_api),
)}
