"""The emulator's backend: the shared core (:mod:`.core`) with the protocol modules'
endpoints plugged in (:mod:`.assistants`, :mod:`.responses`) and the REST breaks
wrapped around them (:mod:`.rest_breaks`).

Each Assistants endpoint is also an attribute of the backend
(``backend.create_run``), looked up per request: a test may wrap one to spy on it.
The Responses endpoints are ``backend.responses.<name>``.
"""

from __future__ import annotations

from runflow.server.assistants import ROUTES, AssistantsApi, assistants_routes
from runflow.server.bodies import MAX_BODY_BYTES
from runflow.server.core import ACTIVE, BackendCore, RouteSet
from runflow.server.responses import ResponsesApi, responses_routes
from runflow.server.rest_breaks import rest_breaks
from runflow.server.scenarios import ScenarioOptions
from runflow.server.store import Store
from runflow.server.websocket import WebSocketMode

__all__ = ["ACTIVE", "Backend", "RouteSet"]


class Backend(BackendCore):
    """The core plus every protocol's endpoints; see the module docstring."""

    def __init__(self, store: Store | None = None, *,
                 options: ScenarioOptions | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES) -> None:
        super().__init__(store, options=options, max_body_bytes=max_body_bytes)
        self.assistants = AssistantsApi(self)
        for _method, _path, name, _kind in ROUTES:
            setattr(self, name, getattr(self.assistants, name))
        self.responses = ResponsesApi(self)
        self.websocket = WebSocketMode()
        """WebSocket mode on ``/v1/responses`` (replace it for another time limit)."""
        self.route_sets += [assistants_routes, lambda _core: responses_routes(self.responses),
                            lambda core: self.websocket.routes(core)]
        rest_breaks(self)  # the REST answers an X-Runflow-Break: rest.* header changes
