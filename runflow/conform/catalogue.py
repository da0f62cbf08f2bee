"""What a scenario is, and what it has to work with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openai

from runflow.adapters.recording import new_flow
from runflow.conform.consistency import compare_lists, compare_one
from runflow.conform.session import Probe, Session

__all__ = ["Context", "Scenario"]


@dataclass
class Context:
    """One scenario's run: the session, the model, the flows it made."""

    session: Session
    model: str
    protocol: str
    scenario: str
    probes: list[Probe] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def client(self) -> openai.OpenAI:
        return self.session.client

    def probe(self, label: str) -> Probe:
        probe = Probe(label, new_flow(self.protocol))
        self.probes.append(probe)
        return probe

    def hint(self, name: str, **more: str) -> dict[str, str]:
        """Metadata naming the scenario: emulators that script by ``metadata.scenario``
        (``runflow serve``) play it; real servers keep it as plain metadata."""
        return {"scenario": name, **more}

    def settled(self, probe: Probe) -> bool:
        """The flow ended cleanly where a stream may end (its objects are final): only
        then are they compared with REST."""
        flow = probe.flow
        return flow.ending == "done" and flow.protocol.root_table.stream_end(
            flow.root_state) is not None

    def compare_root(self, probe: Probe, rule: str, rest: Any) -> None:
        if not self.settled(probe):
            return
        finals = probe.grade.finals.objects
        root = probe.flow.protocol.root
        ours = finals.get(root, {}).get(probe.flow.root_id or "")
        probe.findings.extend(compare_one(rule, root, ours, rest, root))
        probe.checked.add(rule)

    def compare_children(self, probe: Probe, rule: str, kind: str, rest: Any) -> None:
        if not self.settled(probe):
            return
        finals = probe.grade.finals.objects
        probe.findings.extend(compare_lists(rule, kind, finals.get(kind, {}), rest))
        probe.checked.add(rule)


@dataclass(frozen=True)
class Scenario:
    name: str
    protocol: str
    description: str
    run: Callable[[Context], None]
