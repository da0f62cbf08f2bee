"""``runflow conform``: grade an Assistants- or Responses-compatible server, rule by rule.

:func:`conform` drives a catalogue of scenarios through the real openai client
(:mod:`.assistants`, :mod:`.responses`), grades every flow on five layers of rules
with stable ids (:mod:`.rules`: http, grammar, payload, order, consistency), and
groups the findings by root cause (:mod:`.grouping`). The reports: a terminal
table (:mod:`.report_text`), JSON and JUnit (:mod:`.report_data`), one
self-contained HTML page (:mod:`.report_html`).
"""

from runflow.conform.findings import Finding, Group
from runflow.conform.grouping import CASCADES, group
from runflow.conform.rules import RULES, ConformRule, rules_for, rules_markdown
from runflow.conform.runner import Report, ScenarioResult, conform, scenarios_for

__all__ = ["CASCADES", "RULES", "ConformRule", "Finding", "Group", "Report", "ScenarioResult",
           "conform", "group", "rules_for", "rules_markdown", "scenarios_for"]
