"""The read side of a flow: states, snapshots, violations, for any protocol.

:class:`FlowView` answers questions about the state a flow has built (one
:class:`runflow.engine.state.FlowState`); :class:`runflow.engine.flow.Flow` adds the
input side. The questions take an entity kind (:meth:`FlowView.entities`,
:meth:`FlowView.state_of`); each protocol's view names its own entities
(``RunFlow.run``, ``ResponseFlow.response``) on top of :attr:`FlowView.state` and
:attr:`FlowView.compiled`, the read interface every view and callback layer uses
instead of the flow's internals. Snapshots are the openai SDK's own pydantic
types, built on first access and cached until the entity changes again; treat
them as read-only (edit a ``model_copy()``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from runflow.engine.definition import UNSEEN, Protocol
from runflow.engine.machines import Compiled
from runflow.engine.state import Ending, FlowState, StateChange
from runflow.engine.violations import Violation

__all__ = ["Ending", "FlowView", "StateChange"]


class FlowView:
    """States and snapshots of one flow (read-only API), for any protocol."""

    _s: FlowState
    _c: Compiled

    # -- the read interface of the layers above --------------------------- #
    @property
    def state(self) -> FlowState:
        """The flow's whole state as one record (:class:`runflow.engine.state.FlowState`):
        what views, callbacks and rules read. Read it; only the engine writes it."""
        return self._s

    @property
    def compiled(self) -> Compiled:
        """The definition the flow runs, with its machines and lookups."""
        return self._c

    @property
    def definition(self) -> Protocol:
        """The protocol definition the flow runs."""
        return self._c.protocol

    # -- generic -------------------------------------------------------- #
    @property
    def violations(self) -> list[Violation]:
        """Every violation so far, in input order."""
        return self.state.violations

    @property
    def history(self) -> list[StateChange]:
        """Every accepted state change, in order: the path the run took (up to
        ``Limits.max_history``; see :attr:`history_dropped`)."""
        return self.state.history

    @property
    def history_dropped(self) -> int:
        """State changes not kept in :attr:`history` because it was full."""
        return self.state.history_dropped

    @property
    def suppressed(self) -> dict[str, int]:
        """Violations counted but not stored, by code (``Limits.max_repeated_violations``)."""
        return self.state.suppressed

    @property
    def expected(self) -> dict[str, int]:
        """Violations the flow's profile expects from this server, counted by code
        instead of reported (:mod:`runflow.engine.profiles`)."""
        return self.state.expected

    @property
    def event_count(self) -> int:
        """Events received so far (the index the next one will get)."""
        return self.state.index

    @property
    def ending(self) -> Ending | None:
        """How the last stream ended, or None while it is open."""
        return self.compiled.endings[self.state.stream]  # type: ignore[return-value]

    @property
    def stream_state(self) -> str:
        """The stream machine's state (see ``diagrams/stream.mmd``)."""
        return self.state.stream

    def entities(self, kind: str) -> list[BaseModel]:
        """Snapshots of every entity of ``kind``, in the order first seen."""
        state = self.state
        if kind == self.compiled.root:
            return [state.root.snapshot()] if state.root is not None else []
        if kind == self.compiled.scope:
            return [state.scope.snapshot()] if state.scope is not None else []
        return [t.snapshot() for t in state.children.get(kind, {}).values()]

    def state_of(self, kind: str, entity_id: str | None = None) -> str:
        """The state of an entity (``"unseen"`` if the flow never saw it)."""
        state = self.state
        tracker: Any = (state.root if kind == self.compiled.root else
                        state.scope if kind == self.compiled.scope else
                        state.children.get(kind, {}).get(entity_id or ""))
        if tracker is None or (entity_id is not None and tracker.id != entity_id):
            return UNSEEN
        return str(tracker.state)

    def states(self, kind: str) -> dict[str, str]:
        """Id -> state of every child entity of ``kind``."""
        return {k: t.state for k, t in self.state.children.get(kind, {}).items()}

    @property
    def root_kind(self) -> str:
        """The kind of entity the flow follows: ``"run"``, ``"response"``."""
        return self.compiled.root

    @property
    def root_id(self) -> str | None:
        """The id of the entity the flow follows (the run, the response), once known."""
        return self.state.root_id

    @property
    def root_state(self) -> str:
        """The state of the entity the flow follows (``"unseen"`` before its first event)."""
        root = self.state.root
        return root.state if root is not None else UNSEEN

    @property
    def errors(self) -> list[Violation]:
        """The error-severity violations."""
        return [v for v in self.state.violations if v.severity == "error"]

    @property
    def ok(self) -> bool:
        """No error-severity violation so far."""
        return not any(v.severity == "error" for v in self.state.violations)
