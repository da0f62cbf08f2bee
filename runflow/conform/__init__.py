"""``runflow conform``: grade an Assistants- or Responses-compatible server, rule by rule.

:func:`conform` drives a catalogue of scenarios through the real openai client
(:mod:`.assistants`, :mod:`.responses`), grades every flow on five layers of rules
with stable ids (:mod:`.rules`: http, grammar, payload, order, consistency), and
groups the findings by root cause (:mod:`.grouping`). The reports: a terminal
table (:mod:`.report_text`), JSON and JUnit (:mod:`.report_data`), one
self-contained HTML page (:mod:`.report_html`).

``conform(url, protocol="responses-ws")`` grades the Responses WebSocket mode: the
rows of :mod:`.websocket_scenarios` driven over real sockets
(:mod:`.websocket_session`, :mod:`.websocket_context`), each conversation checked as
``runflow check`` checks a transcript and graded on the same layers
(:mod:`.websocket_grade`, :mod:`.websocket_run`).

The runner's names (:mod:`.runner`, which loads the openai client) load on first
use, so that grading a recording (``runflow check``, :mod:`.recorded`) does not.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from runflow.conform.findings import Finding, Group
from runflow.conform.grouping import CASCADES, group
from runflow.conform.rules import RULES, ConformRule, rules_for, rules_markdown

if TYPE_CHECKING:
    from runflow.conform.runner import Report, ScenarioResult, conform, scenarios_for

__all__ = ["CASCADES", "RULES", "ConformRule", "Finding", "Group", "Report", "ScenarioResult",
           "conform", "group", "rules_for", "rules_markdown", "scenarios_for"]

_RUNNER = frozenset({"Report", "ScenarioResult", "conform", "scenarios_for"})


def __getattr__(name: str) -> Any:
    """Load one of the runner's names on first use and keep it."""
    if name not in _RUNNER:
        raise AttributeError(f"module 'runflow.conform' has no attribute {name!r}")
    value = getattr(import_module("runflow.conform.runner"), name)
    globals()[name] = value
    return value
