"""A WebSocket-mode response's copy on the REST side of the local server.

The real service persists a response created with ``store`` left true (openai-python's
``lib/responses_websocket/README.md``: "With ``store=True``, an older response may be
loaded from persisted state"), and shows it ``in_progress`` while it runs, as it shows
any response (RESPONSES.md: ``response.created`` carries status ``in_progress``). So
the copy is put in the REST store at the response's ``response.created`` -- a *live*
:class:`~runflow.server.responses_store.StoredResponse` -- and the connection writes
each later event to it as it sends it: ``GET /v1/responses/{id}`` shows the status and
the output so far, and the response is finished (a REST create may continue from it)
when a terminal event ends it.
"""

from __future__ import annotations

from typing import Protocol

from runflow.server.responses import input_items
from runflow.server.responses_store import ResponseStore, StoredResponse
from runflow.server.store import JSON

__all__ = ["rest_copy"]


class Running(Protocol):
    """What is read of a running WebSocket response."""

    @property
    def body(self) -> JSON: ...

    @property
    def scenario(self) -> str: ...

    @property
    def input(self) -> list[JSON]: ...


def rest_copy(store: ResponseStore | None, created: JSON,
              running: Running) -> StoredResponse | None:
    """Put the response that ``created`` (its ``response.created`` event) starts in
    ``store``, live; None when there is no store or its create said ``store: false``."""
    if store is None or running.body.get("store") is False:
        return None
    listed = [item for item in running.input  # a type REST's listing can name
              if isinstance(item.get("type", "message"), str)]
    return store.live(created, scenario=running.scenario,
                      input_items=input_items({"input": listed}))
