"""The Responses API's WebSocket mode: the connection definition (:mod:`.definition`),
the sans-I/O :class:`ConnectionFlow` (:mod:`.flow`), its checkpoints (:mod:`.checkpoint`)
and transcripts (:mod:`.transcript`).

The names below load on first use: importing any module of this package runs this
one first, and ``runflow check`` of every file asks :mod:`.transcript` whether it
is a transcript, which must not build the Responses flow for an Assistants stream."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runflow.protocols.responses.websocket.checkpoint import dump_connection, load_connection
    from runflow.protocols.responses.websocket.definition import WS_RESPONSES, WsCode
    from runflow.protocols.responses.websocket.flow import ConnectionFlow
    from runflow.protocols.responses.websocket.records import (
        FrameViolation,
        LaneRecord,
        ResponseRecord,
        SteerRecord,
    )

__all__ = ["WS_RESPONSES", "ConnectionFlow", "FrameViolation", "LaneRecord",
           "ResponseRecord", "SteerRecord", "WsCode", "dump_connection", "load_connection"]

_HOMES = {
    **dict.fromkeys(("dump_connection", "load_connection"), "checkpoint"),
    **dict.fromkeys(("WS_RESPONSES", "WsCode"), "definition"),
    "ConnectionFlow": "flow",
    **dict.fromkeys(("FrameViolation", "LaneRecord", "ResponseRecord", "SteerRecord"),
                    "records"),
}


def __getattr__(name: str) -> Any:
    """One of the package's names, imported now from its module (and kept)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
