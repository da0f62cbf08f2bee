"""The stream as a whole: the stream machine, event names and numbers, error events.

Every event tells the stream machine (:attr:`runflow.engine.definition.Protocol.stream`)
what arrived -- an entity event, the end marker, an error event, the end of the
input, the start of a new stream -- and the row for its state, input and guard
says what to report and where to go. An ending is read from the stream's state.
Protocols whose data names the event (``type``) and numbers it
(``sequence_number``) are checked here too: a frame's name against its data, a
replayed number dropped, a jump reported.
"""

from __future__ import annotations

from typing import Any

from runflow.engine.accumulator import shorten
from runflow.engine.core import BadData, FlowCore, Rejected, reject
from runflow.engine.definition import STAY, UNSEEN, EventKind, Guard, StreamInput
from runflow.engine.jsonparse import has_non_finite
from runflow.engine.shapes import Misfit, within
from runflow.engine.state import Ending
from runflow.engine.violations import Code

__all__ = ["StreamSteps"]


class StreamSteps(FlowCore):
    """The stream machine and the checks on the stream's own fields (a mixin of
    :class:`runflow.engine.flow.Flow`)."""

    def _stream(self, inp: StreamInput, event: str | None, index: int) -> None:
        """Tell the stream machine about ``inp``; report what its row says."""
        state = self._s
        guard: Guard = "open"
        root = state.root
        root_state = root.state if root is not None else UNSEEN
        if inp == "done" or inp == "close":
            end = self._c.root_table.stream_end(root_state)
            if end == "final":
                guard = "final"
            elif end == "pause":
                guard = "pause" if state.stream_moves else "stalled"
        row = self._c.stream_lookup[(state.stream, inp, guard)]
        if row.code is not None:
            message = row.say.format(event=event, root_state=root_state, count=state.index,
                                     ended=self._c.endings[state.stream])
            entity = root.ref if root is not None and row.names_root else None
            self._violate(row.code, index, event, entity, message)
        dest = row.dest
        if dest != STAY and dest != state.stream:
            state.stream = dest
            state.stream_moves = 0

    def _ending_or_truncated(self) -> Ending:
        ending = self._c.endings[self._s.stream]
        return ending or "truncated"  # type: ignore[return-value]

    def _on_error(self, name: str, data: Any, index: int) -> None:
        key = self._c.protocol.error_object
        body = data.get(key) if isinstance(data, dict) and key is not None else None
        if not isinstance(body, dict):
            body = data
        shape = self._c.protocol.error_shape
        problem: str | None = None
        if isinstance(body, dict):
            problem = shape.problem(body, "error") if shape is not None else None
            if problem is None and has_non_finite(body):
                problem = "a number is NaN or infinite, which JSON cannot hold"
        if not isinstance(body, dict) or problem is not None:
            self._stream("event", name, index)
            what = data.reason if isinstance(data, BadData) else (
                within(f"the data of {name}: ", problem) if problem is not None else
                f"the data of {name} is {type(data).__name__}, not an error object")
            reject(Code.MALFORMED_EVENT, what)
        self._stream("error", name, index)
        if self._s.error is None:
            self._s.error = body

    def _named(self, name: str | None, data: dict[str, Any], index: int) -> str | None:
        """The event's name where the data names it (Responses ``type``): a frame with
        no ``event:`` line (OpenRouter) takes it; one whose line disagrees is
        reported and the data is followed, as the SDKs do."""
        named = data.get(self._c.type_field)  # type: ignore[arg-type]
        if type(named) is not str or named == name:
            return name
        if name is not None:
            self._violate(Code.EVENT_NAME_MISMATCH, index, named, None,
                          f"the SSE event line says {shorten(name)} but the data's "
                          f"{self._c.type_field} is {shorten(named)}; the data is followed")
        return named

    def _replayed(self, name: str | None, data: dict[str, Any], index: int) -> bool:
        """Check the event's sequence number; True when it is a replay to drop.

        Numbers run 0, 1, 2... A number at or below the last accepted one is an
        event the flow already has (a resumed stream replays from its cursor):
        dropped and counted in :attr:`FlowState.replayed`. A jump is reported and
        the event applied. A flow's first number may be past 0: its stream resumed
        after a cursor."""
        state = self._s
        fld: str = self._c.sequence_field  # type: ignore[assignment]
        seq = data.get(fld)
        last = state.sequence
        if seq is None and fld not in data:
            route = self._c.routes.get(name or "")
            if last is not None and route is not None and route[0] is not EventKind.IGNORED:
                self._violate(Code.SEQUENCE_GAP, index, name, None,
                              f"{shorten(name)} has no {fld}, after {last}")
            return False
        # (past a float's range, a number no checkpoint holds: refused as the parser
        # refuses it in JSON text it reads whole)
        if type(seq) is not int or seq < 0 or has_non_finite(seq):
            raise Rejected(Code.MALFORMED_EVENT, Misfit(
                f"the data of {shorten(name)}: {fld}: expected an integer >= 0, got "
                f"{shorten(seq)}", fld), None)
        if last is not None and seq <= last:
            state.replayed += 1
            return True
        if last is not None and seq != last + 1:
            if self._c.routes.get(name or "", (EventKind.IGNORED,))[0] is EventKind.IGNORED:
                return False  # a heartbeat may count on its own: neither checked nor counted
            self._violate(Code.SEQUENCE_GAP, index, name, None,
                          f"{fld} jumped from {last} to {seq}: {seq - last - 1} event(s) "
                          "missing")
        state.sequence = seq
        return False
