"""The Responses API's WebSocket mode: the connection definition (:mod:`.definition`),
the sans-I/O :class:`ConnectionFlow` (:mod:`.flow`) and transcripts (:mod:`.transcript`)."""

from runflow.protocols.responses.websocket.definition import WS_RESPONSES, WsCode
from runflow.protocols.responses.websocket.flow import ConnectionFlow
from runflow.protocols.responses.websocket.records import (
    FrameViolation,
    LaneRecord,
    ResponseRecord,
    SteerRecord,
)

__all__ = ["WS_RESPONSES", "ConnectionFlow", "FrameViolation", "LaneRecord",
           "ResponseRecord", "SteerRecord", "WsCode"]
