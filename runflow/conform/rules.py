"""The rule catalogue of ``runflow conform``: every check a server is graded on.

A rule id is a public contract, like a violation code: ``<layer>.<name>``. Layers:

* ``http``: the HTTP exchange (status, ``Content-Type``, error bodies, a JSON object
  where a stream was asked for);
* ``grammar``: the stream grammar, one rule per violation code of runflow
  (:data:`runflow.RULES`), reported by the flows, of the protocols whose catalogue
  names it (:mod:`runflow.protocols.violations`);
* ``payload``: what an object must hold in the state its event leads to
  (each protocol's ``invariants.py``, through the registry), and the structured output asked for;
* ``types``: every field of every object an event carries has the openai SDK's type
  (:mod:`.sdk_types`), as warnings;
* ``order``: what every real capture does (:mod:`.order`), as warnings;
* ``consistency``: the stream's final objects against what REST returns afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

from runflow.conform.findings import Severity
from runflow.conform.sdk_types import rule_of
from runflow.engine.violations import RULES as VIOLATION_RULES
from runflow.protocols.payload import SOURCES, Source
from runflow.protocols.registry import REGISTRY
from runflow.protocols.responses.definition import RESPONSES
from runflow.protocols.responses.websocket.definition import RULES as WS_RULES
from runflow.protocols.responses.websocket.definition import WS_RESPONSES
from runflow.protocols.violations import catalogues, meaning, reports

__all__ = ["BOTH", "LAYERS", "RULES", "WEBSOCKET", "WEBSOCKET_RESPONSES", "ConformRule", "rule",
           "rules_for", "rules_markdown", "summary_for"]

BOTH = frozenset(REGISTRY)
"""Every protocol registered when conform is imported (the shipped ones)."""
LAYERS = ("http", "grammar", "payload", "types", "order", "consistency")


@dataclass(frozen=True)
class ConformRule:
    id: str
    severity: Severity
    protocols: frozenset[str]
    summary: str
    why: str = ""
    source: Source | None = "reference"
    """Where the rule comes from (:data:`runflow.protocols.payload.Source`); None for
    the grammar, whose rows each cite their own (the definitions' ``why``)."""

    @property
    def layer(self) -> str:
        return self.id.split(".", 1)[0]


_HTTP = (
    ConformRule("http.status", "error", BOTH,
                "A request the scenario needs is answered 2xx; one that must fail (an "
                "unknown id) is answered 4xx, never 5xx.",
                "OpenAI's API reference; the SDKs raise on any other status"),
    ConformRule("http.content_type", "error", BOTH,
                "A streamed answer has Content-Type text/event-stream.",
                "the SDKs decode a stream only with this type (and the WHATWG SSE spec)"),
    ConformRule("http.stream_is_json", "error", BOTH,
                "A request with stream=true is answered with an event stream, not a JSON "
                "object.", "a server that ignores stream=true hands the SDK one object"),
    ConformRule("http.error_shape", "error", BOTH,
                "An error answer is JSON {\"error\": {\"message\": str, \"type\": str, "
                "\"param\", \"code\"}}.", "OpenAI's error shape; the SDKs read error.message"),
)

WEBSOCKET = WS_RESPONSES.name
"""``responses-ws``: a WebSocket-mode server. Not a registry row (a transcript is not an
SSE stream); its responses are graded on the Responses rows too (:func:`rules_for`)."""
WEBSOCKET_RESPONSES = RESPONSES.name
"""The registered protocol whose grammar and rows each response on a WebSocket runs
(``responses``): a WebSocket report explains a rule in its words (:func:`summary_for`)."""
_WS_SOURCE = {"WS": "shared/WEBSOCKET.md", "SDK": "the openai SDK's types",
              "API": "OpenAI's API reference"}

def _grammar_rules() -> tuple[ConformRule, ...]:
    """One rule per violation code, of the protocols that can report it (their
    catalogue names it, or they have none: :func:`~runflow.protocols.violations.reports`),
    saying what it means in each (the engine's sentence, then each catalogue's)."""
    rules = []
    for r in VIOLATION_RULES.values():
        protocols = frozenset(name for name in REGISTRY if reports(name, r.code))
        said = [f"{name.capitalize()}: {meanings[r.code]}"
                for name, meanings in catalogues().items() if r.code in meanings]
        rules.append(ConformRule(f"grammar.{r.code.value}", r.severity, protocols,
                                 " ".join((r.summary, *said)),
                                 "runflow's grammar (runflow.RULES)", None))
    return tuple(rules)


_GRAMMAR = _grammar_rules()

_WS_GRAMMAR = tuple(
    ConformRule(f"grammar.{r.code.value}", r.severity, frozenset({WEBSOCKET}),
                f"WebSocket: {r.why}.", _WS_SOURCE[r.source], None)
    for r in WS_RULES.values() if f"grammar.{r.code.value}" not in {g.id for g in _GRAMMAR}
)
"""The connection's own rules (a code the grammar already has, ``sequence_gap`` and
``truncated``, is that rule)."""
_WS_ALSO = {f"grammar.{r.code.value}": f"WebSocket: {r.why}." for r in WS_RULES.values()
            if f"grammar.{r.code.value}" in {g.id for g in _GRAMMAR}}
"""A grammar rule the connection also reports -> what it means on the connection."""

def _payload_rules() -> tuple[ConformRule, ...]:
    """One rule per invariant id; an id both definitions use (``payload.message.id``)
    is one rule of both protocols."""
    merged: dict[str, ConformRule] = {}
    for protocol, entry in REGISTRY.items():
        for row in entry.invariants:
            said = f"{protocol.capitalize()}: {row.summary}"
            known = merged.get(row.id)
            if known is None:
                merged[row.id] = ConformRule(row.id, row.severity, frozenset({protocol}),
                                             said, row.why, row.source)
            else:
                merged[row.id] = ConformRule(row.id, row.severity,
                                             known.protocols | {protocol},
                                             f"{known.summary} {said}",
                                             f"{known.why}; {row.why}", known.source)
    return tuple(merged.values())


_PAYLOAD = (
    *_payload_rules(),
    ConformRule("payload.response.structured_output", "error", frozenset({"responses"}),
                "A response asked for a json_schema format outputs JSON with the schema's "
                "required keys.", "text.format json_schema (API reference)"),
)

def _types_rules() -> tuple[ConformRule, ...]:
    """One rule per :func:`~runflow.conform.sdk_types.rule_of` of the entity kinds some
    event carries an object of (``types.run``; ``types.output`` for every Responses
    output item); one both definitions use is one rule of both protocols."""
    protocols: dict[str, set[str]] = {}
    kinds: dict[str, list[str]] = {}
    for name, entry in REGISTRY.items():
        definition = entry.definition
        for kind, table in definition.tables.items():
            if any(t.carries is not None for t in table.transitions):
                rule_id = rule_of(definition, kind)
                protocols.setdefault(rule_id, set()).add(name)
                kinds.setdefault(rule_id, []).append(kind)
    return tuple(
        ConformRule(rule_id, "warning", frozenset(protocols[rule_id]),
                    f"{', '.join(sorted(set(names)))}: every field of an object an event "
                    "carries has the openai SDK's type (extra fields allowed; the SDK's "
                    "gaps real captures show are let through).",
                    "the openai SDK's types, generated from the API reference "
                    "(runflow/conform/sdk_types.py)")
        for rule_id, names in kinds.items())


_ORDER = tuple(
    ConformRule(e.id, e.severity, frozenset({protocol}), e.summary, e.why, e.source)
    for protocol, entry in REGISTRY.items() for e in entry.order
)

_CONSISTENCY = (
    ConformRule("consistency.run", "error", frozenset({"assistants"}),
                "The run the stream ended with equals runs.retrieve afterwards.",
                "a client that reconciles over REST must see what the stream said", "stream"),
    ConformRule("consistency.steps", "error", frozenset({"assistants"}),
                "Every run step the stream ended with equals runs.steps.list afterwards, "
                "and REST lists no step the stream did not show.",
                "a client that reconciles over REST must see what the stream said", "stream"),
    ConformRule("consistency.messages", "error", frozenset({"assistants"}),
                "Every message the stream ended with equals messages.list (run_id) "
                "afterwards, and REST lists no message the stream did not show.",
                "a client that reconciles over REST must see what the stream said", "stream"),
    ConformRule("consistency.response", "error", frozenset({"responses"}),
                "The response the stream ended with equals responses.retrieve afterwards "
                "(null and absent are equal: every client reads both as None).",
                "a client that reconciles over REST must see what the stream said", "stream"),
    ConformRule("consistency.resume", "error", frozenset({"responses"}),
                "A background stream resumed with starting_after=N starts at "
                "sequence_number N+1.", "RESPONSES.md §7: replays start after the cursor",
                "stream"),
)


_WS_OUTCOME = ConformRule(
    "consistency.ws_outcome", "error", frozenset({WEBSOCKET}),
    "WebSocket: a scenario's conversation ends as its source documents (each response's "
    "status, each steer's state and error code, the error event of a refused create).",
    "shared/WEBSOCKET.md and the openai SDK's types")
_WS_SHARED = frozenset({"http.status", "http.error_shape"})
_WS_NOT = frozenset({"payload.response.structured_output"})

RULES: dict[str, ConformRule] = {
    r.id: r for r in (*_HTTP, *_GRAMMAR, *_WS_GRAMMAR, *_PAYLOAD, *_types_rules(), *_ORDER,
                  *_CONSISTENCY, _WS_OUTCOME)
}


def rule(rule_id: str) -> ConformRule:
    return RULES[rule_id]


def summary_for(rule_id: str, protocol: str) -> str:
    """What rule ``rule_id`` means for a server of ``protocol``, in that protocol's words
    only: a grammar rule says the engine's sentence and the protocol's catalogue's
    (:func:`~runflow.protocols.violations.meaning`), a payload rule both definitions
    use its own invariant's; any other rule, or any rule for a protocol not registered,
    its summary (empty for an unknown rule).

    For ``responses-ws``: the connection's own rules in their own words, every other
    rule in the words of :data:`WEBSOCKET_RESPONSES` (the grammar each response on the
    socket runs), and a grammar rule the connection also reports (``sequence_gap``,
    ``truncated``) with what it means on the connection after."""
    found = RULES.get(rule_id)
    if found is None:
        return ""
    if protocol == WEBSOCKET and WEBSOCKET not in found.protocols:
        said = summary_for(rule_id, WEBSOCKET_RESPONSES)
        also = _WS_ALSO.get(rule_id)
        return f"{said} {also}" if also is not None else said
    if protocol not in REGISTRY or WEBSOCKET in found.protocols:
        return found.summary
    own_rows = [row for row in REGISTRY[protocol].invariants if row.id == rule_id]
    if own_rows:
        return " ".join(f"{protocol.capitalize()}: {row.summary}" for row in own_rows)
    code = next((c for c in VIOLATION_RULES if f"grammar.{c.value}" == rule_id), None)
    if code is None:
        return found.summary
    general, own = VIOLATION_RULES[code].summary, meaning(code, protocol)
    return general if own == general else f"{general} {protocol.capitalize()}: {own}"


def rules_for(protocol: str) -> list[ConformRule]:
    """The rules a server of ``protocol`` is graded on: for ``responses-ws``, its own and
    the Responses grammar, payload and order rows (each response on the socket is a
    Responses stream) with the handshake's and error events' http rows. Payload and
    order rows that only SSE captures support are left out: no WebSocket capture shows
    them, and the WebSocket stream is documented to differ (setup events optional)."""
    if protocol != WEBSOCKET:
        return [r for r in RULES.values() if protocol in r.protocols]
    return [r for r in RULES.values() if WEBSOCKET in r.protocols or r.id in _WS_SHARED or (
        WEBSOCKET_RESPONSES in r.protocols and r.layer in ("grammar", "payload", "types",
                                                           "order")
        and r.id not in _WS_NOT and r.source != "captures")]


def rules_markdown() -> str:
    """The catalogue as a Markdown table (for the README)."""
    lines = ["| rule | severity | source | protocols | what it checks |",
             "|---|---|---|---|---|"]
    for r in RULES.values():
        protocols = ", ".join(sorted(r.protocols))
        source = SOURCES[r.source] if r.source is not None else "the grammar"
        lines.append(f"| `{r.id}` | {r.severity} | {source} | {protocols} | {r.summary} |")
    return "\n".join(lines) + "\n"
