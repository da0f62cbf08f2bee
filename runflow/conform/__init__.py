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

The runner's names (:mod:`.runner`, which loads the openai client) and the rule
catalogue's (:mod:`.rules`, which reads every protocol's invariants, so builds every
definition) load on first use, so that grading a recording (``runflow check``,
:mod:`.recorded`) does neither.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from runflow.conform.findings import Finding, Group
from runflow.conform.grouping import CASCADES, group

if TYPE_CHECKING:
    from runflow.conform.rules import RULES, ConformRule, rules_for, rules_markdown
    from runflow.conform.runner import Report, ScenarioResult, conform, scenarios_for

__all__ = ["CASCADES", "RULES", "ConformRule", "Finding", "Group", "Report", "ScenarioResult",
           "conform", "group", "rules_for", "rules_markdown", "scenarios_for"]

_LAZY = {
    **dict.fromkeys(("Report", "ScenarioResult", "conform", "scenarios_for"),
                    "runflow.conform.runner"),
    **dict.fromkeys(("RULES", "ConformRule", "rules_for", "rules_markdown"),
                    "runflow.conform.rules"),
}


def __getattr__(name: str) -> Any:
    """Load one of the runner's or the catalogue's names on first use and keep it."""
    if name not in _LAZY:
        raise AttributeError(f"module 'runflow.conform' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
