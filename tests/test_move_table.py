"""The hot path moves entities through a table read off the ``transitions``
machines: it must be the machines' moves exactly, for every shipped definition."""

from __future__ import annotations

from typing import Any

import pytest

from runflow.engine.definition import Protocol
from runflow.engine.machines import build_machine, compiled, move_table, trigger_name
from runflow.protocols.assistants.flow import RunFlow
from runflow.protocols.responses.flow import ResponseFlow


class _Model:
    def __init__(self, state: str) -> None:
        self.state = state
        self.entered: list[str] = []

    def _entered(self, tracker: Any, state: str) -> None:  # the EnterListener
        self.entered.append(state)


@pytest.mark.parametrize("protocol", [RunFlow().protocol, ResponseFlow().protocol],
                         ids=["assistants", "responses"])
def test_the_move_table_is_every_move_of_the_machines(protocol: Protocol) -> None:
    c = compiled(protocol)
    checked = 0
    for kind, table in protocol.tables.items():
        moves = c.moves[kind]
        assert moves is not None
        expected: dict[tuple[str, str], str] = {}
        for t in table.transitions:
            for source in t.sources:
                for dest in t.dests:
                    if dest == source:
                        continue  # internal: the flow runs nothing
                    trigger = trigger_name(t.event, dest, t.dest)
                    model = _Model(source)
                    c.machines[kind].events[trigger].trigger(model, model)
                    assert (model.state, model.entered) == (dest, [dest])
                    expected[(source, trigger)] = dest
                    checked += 1
        assert moves == expected, kind
    assert checked > 20


def test_a_machine_with_other_enter_hooks_keeps_its_triggers() -> None:
    protocol = RunFlow().protocol
    table = next(iter(protocol.tables.values()))
    machine = build_machine(table, on_enter=lambda event: None)
    assert move_table(machine) is None
