"""The Responses API's WebSocket mode: the connection definition (:mod:`.definition`),
the sans-I/O :class:`ConnectionFlow` (:mod:`.flow`), its checkpoints (:mod:`.checkpoint`)
and transcripts (:mod:`.transcript`)."""

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
