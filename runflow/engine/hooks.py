"""The callbacks registered on a flow, and the queue of calls waiting to fire.

The core tells :class:`Hooks` what happened (an entity entered a state, a delta
was merged, a violation, the end of a stream); Hooks turns that into queued calls
and fires them when the event is fully applied (:meth:`Hooks.flush`). So an
enter callback always sees a snapshot that includes the event that caused the
transition, and a callback that raises never leaves the flow half-updated.

This is the generic registry: enter callbacks by (entity kind, state),
violations, the end of a stream. A protocol's own callbacks (the Assistants text
and tool-call hooks, the Responses value deltas) live in a subclass in its
package, which overrides :meth:`Hooks.entered` and :meth:`Hooks.delta`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, TypeVar

from pydantic import BaseModel

from runflow.engine.accumulator import JSON
from runflow.engine.entities import Tracker, copy_model, copy_of
from runflow.engine.state import Ending, FlowState
from runflow.engine.violations import Violation

__all__ = ["AnyCallback", "CallbackFailure", "Hooks", "Host", "detached", "detaching"]

AnyCallback = Callable[..., Any]


@dataclass(frozen=True)
class CallbackFailure:
    """A callback that raised, recorded when ``callback_errors="collect"``."""

    callback: str
    """The callback's qualified name."""
    index: int
    """The input position of the event that triggered it."""
    error: BaseException


class Host(Protocol):
    """What firing callbacks reads of the flow they belong to."""

    @property
    def callback_errors(self) -> Literal["raise", "collect"]: ...
    @property
    def callback_failures(self) -> list[CallbackFailure]: ...
    @property
    def event_count(self) -> int: ...


class Hooks:
    """Registered callbacks plus the calls queued for the current event."""

    __slots__ = ("detaches", "end", "enter", "pending", "snapshot", "violated")

    def __init__(self, snapshot: Callable[[Tracker], Any] = Tracker.snapshot) -> None:
        self.snapshot = snapshot
        """What an enter callback receives for a tracker (the flow's read layer)."""
        self.detaches: bool = getattr(snapshot, DETACHES, False) is True
        """``snapshot`` was marked :func:`detaching`: what it returns is copied no more."""
        self.enter: dict[tuple[str, str], list[AnyCallback]] = {}
        self.violated: list[AnyCallback] = []
        self.end: list[AnyCallback] = []
        self.pending: list[tuple[AnyCallback, tuple[Any, ...]]] = []

    # -- what the core reports -------------------------------------------- #
    def entered(self, flow: FlowState, tracker: Tracker, state: str) -> None:
        """``tracker`` entered ``state``: queue its enter callbacks."""
        callbacks = self.enter.get((tracker.entity, state))
        if callbacks:
            # The object shares nothing with the flow down to the leaves (a
            # validated model keeps the server's nested dicts: vendor fields,
            # annotations, logprobs), so a callback that edits what it receives
            # cannot change the flow. A snapshot function marked @detaching builds
            # such an object itself (from a copy of the wire object: cheaper than
            # copying the typed one); any other's result is copied here, and the
            # flow lets go of the cached object. One copy per state entered that
            # has callbacks; deltas never pay it.
            if self.detaches:
                snapshot = self.snapshot(tracker)
            else:
                snapshot = detached(self.snapshot(tracker))
                tracker.typed = None
            for cb in callbacks:
                self.pending.append((cb, (snapshot,)))

    def delta(self, flow: FlowState, tracker: Tracker, delta: JSON) -> None:
        """A delta was merged into ``tracker`` (a protocol's hooks tell of it)."""

    def entered_at(self, flow: FlowState, staged: list[tuple[Tracker, str, int]]) -> None:
        """:meth:`entered` for each ``(tracker, state, position)``, its callbacks
        queued at the position the queue had when the entity entered the state, so
        they keep their order with the violation callbacks of the same event."""
        shift = 0
        pending = self.pending
        for tracker, state, position in staged:
            start = len(pending)
            self.entered(flow, tracker, state)
            added = pending[start:]
            if added:
                del pending[start:]
                pending[position + shift:position + shift] = added
                shift += len(added)

    def violation(self, violation: Violation) -> None:
        for cb in self.violated:
            self.pending.append((cb, (violation,)))

    def ended(self, ending: Ending) -> None:
        for cb in self.end:
            self.pending.append((cb, (ending,)))

    # -- firing ----------------------------------------------------------- #
    def flush(self, host: Host) -> None:
        """Fire the queued calls (sync mode). Async results are an error here."""
        if not self.pending:
            return
        calls, self.pending = self.pending, []
        first: BaseException | None = None
        for cb, args in calls:
            try:
                result = cb(*args)
                if result is not None and inspect.isawaitable(result):
                    if inspect.iscoroutine(result):
                        result.close()
                    raise TypeError(
                        f"callback {_name(cb)} is async; drive the flow asynchronously "
                        "(await flow.afeed(...), flow.afeed_sse(...), "
                        "runflow.adapters.sdk.aconsume(...))"
                    )
            except Exception as exc:
                first = first or _failed(host, cb, exc)
        if first is not None:
            raise first

    async def aflush(self, host: Host) -> None:
        """Fire the queued calls, awaiting async ones, in order."""
        while self.pending:
            calls, self.pending = self.pending, []
            first: BaseException | None = None
            for cb, args in calls:
                try:
                    result = cb(*args)
                    if inspect.isawaitable(result):
                        await _await(result)
                except Exception as exc:
                    first = first or _failed(host, cb, exc)
            if first is not None:
                raise first


DETACHES: Final = "_runflow_detaches"
SnapshotFn = TypeVar("SnapshotFn", bound=Callable[..., Any])


def detaching(snapshot: SnapshotFn) -> SnapshotFn:
    """Mark a snapshot function (a flow's ``_snapshot_of``) whose every result shares
    nothing with the flow, so that :class:`Hooks` does not copy it again. An override
    in a subclass is a new function, unmarked: its results are copied."""
    setattr(snapshot, DETACHES, True)
    return snapshot


def detached(value: Any) -> Any:
    """``value`` sharing nothing mutable with the flow: a pydantic model copied down
    to its leaves, JSON-shaped data copied; anything else (strings, numbers) as it is."""
    if isinstance(value, BaseModel):
        return copy_model(value)
    return copy_of(value)


def _failed(host: Host, cb: AnyCallback, exc: Exception) -> Exception | None:
    if host.callback_errors == "collect":
        host.callback_failures.append(CallbackFailure(_name(cb), host.event_count - 1, exc))
        return None
    return exc


async def _await(result: Awaitable[Any]) -> None:
    await result


def _name(cb: AnyCallback) -> str:
    return getattr(cb, "__qualname__", None) or repr(cb)
