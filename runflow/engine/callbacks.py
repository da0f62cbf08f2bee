"""Registering callbacks on a flow: the generic part every protocol's flow shares.

:class:`Callbacks` is a mixin of :class:`runflow.engine.flow.Flow`: enter
callbacks by entity kind and state (checked against the definition's tables),
violations, the end of a stream. Each protocol's flow adds its typed decorators
(``on_run("requires_action")``, ``on_response("completed")``) on top, in its own
package, and may make its own :class:`~runflow.engine.hooks.Hooks` subclass
(:meth:`Callbacks.new_registry`) for callbacks the engine does not know.

Callbacks may be ``async def`` when the flow is driven asynchronously
(``await flow.afeed(...)``); sync callbacks work in both modes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from runflow.engine.definition import Protocol
from runflow.engine.entities import Tracker
from runflow.engine.hooks import Hooks, detaching
from runflow.engine.state import Ending
from runflow.engine.violations import Violation

__all__ = ["Callbacks", "Result"]

Result = Awaitable[None] | None
"""What a callback returns: nothing, or an awaitable when driven asynchronously."""
ViolationCb = TypeVar("ViolationCb", bound=Callable[[Violation], Result])
EndCb = TypeVar("EndCb", bound=Callable[[Ending], Result])


class Callbacks:
    """The registration methods every flow has (a mixin): enter callbacks by entity
    kind and state, violations, the end of a stream."""

    _hooks: Hooks | None = None
    protocol: Protocol

    def registry(self) -> Hooks:
        """The flow's callback registry and queue, made on the first registration."""
        if self._hooks is None:
            self._hooks = self.new_registry()
        return self._hooks

    def new_registry(self) -> Hooks:
        """A new, empty registry (a protocol's flow returns its own subclass)."""
        return Hooks(self._snapshot_of)

    def _on_enter(self, entity: str, state: str) -> Callable[[Any], Any]:
        table = self.protocol.tables.get(entity)
        if table is None:  # mypy catches this too
            raise ValueError(f"the {self.protocol.name} protocol has no {entity!r}; kinds: "
                             f"{', '.join(self.protocol.tables)}")
        valid = [s for s in table.states if s != table.initial]
        if state not in valid:  # mypy catches this; this catches untyped callers
            raise ValueError(f"{entity} has no state {state!r}; states: {', '.join(valid)}")

        def register(cb: Any) -> Any:
            self.registry().enter.setdefault((entity, state), []).append(cb)
            return cb

        return register

    @detaching
    def _snapshot_of(self, tracker: Tracker) -> Any:
        """What an enter callback receives for ``tracker`` (the read layer decides):
        here the SDK object, sharing nothing with the flow. An override's results are
        copied by the hooks (unless it is marked :func:`detaching` too)."""
        return tracker.detached_snapshot()

    def on_violation(self, cb: ViolationCb) -> ViolationCb:
        """Call ``cb(violation)`` for each violation."""
        self.registry().violated.append(cb)
        return cb

    def on_end(self, cb: EndCb) -> EndCb:
        """Call ``cb(ending)`` each time :meth:`close` ends a stream."""
        self.registry().end.append(cb)
        return cb
