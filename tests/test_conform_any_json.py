"""The payload and order layers take any JSON value in any field without raising:
a status (or any field the rows read) that is an object, a list, a number..."""

from __future__ import annotations

from typing import Any

import pytest

from runflow.conform.events import TappedEvent, carried
from runflow.conform.order import check_order
from runflow.conform.payload import check_payloads
from runflow.engine.definition import EventKind, Protocol
from runflow.engine.flow import Flow
from runflow.protocols.assistants.flow import RunFlow
from runflow.protocols.responses.flow import ResponseFlow

VALUES: list[Any] = [{"a": [1]}, [1, {"b": None}], 3, 2.5, True, None, "x", ""]


def _events(protocol: Protocol, value: Any) -> list[TappedEvent]:
    """Every event of the protocol, its object's every field (and the data's) set to
    ``value``, each alone."""
    events: list[TappedEvent] = []
    fields = {"status", "type", "id", "object", "sequence_number", "output_index",
              "item_id", "content_index", "role", "last_error", "required_action",
              "incomplete_details", "error", "usage", "completed_at", "created_at"}
    for name, (kind, _) in protocol.routes.items():
        if kind is EventKind.IGNORED:
            continue
        where = protocol.carries.get(name) if kind is EventKind.STATUS else None
        for field in sorted(fields):
            obj = {"id": "x_1", "status": "in_progress", "type": "message", field: value}
            data: Any = {where: obj, "type": name} if where else obj
            events.append(TappedEvent(len(events), 0, name, data, None))
        events.append(TappedEvent(len(events), 0, name, value, None))
    return events


@pytest.mark.parametrize("flow", [RunFlow(), ResponseFlow()], ids=["assistants", "responses"])
@pytest.mark.parametrize("value", VALUES, ids=[type(v).__name__ for v in VALUES])
def test_payload_and_order_take_any_json(flow: Flow, value: Any) -> None:
    protocol = flow.protocol
    events = _events(protocol, value)
    assert events
    for event in events:
        found = carried(protocol, event)
        assert found is None or isinstance(found.state, str)
    payload = list(check_payloads(protocol, events))
    order = list(check_order(protocol, events))
    assert all(f.index is not None for f in payload + order)
