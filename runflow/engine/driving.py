"""How a flow is driven asynchronously (a mixin of the engine's flow).

The core is synchronous; driving it asynchronously only changes *when* callbacks
run: every queued callback of an event is awaited before the next event is
processed, so ``async def`` callbacks see the flow exactly as sync ones do. The
openai SDK adapters (:mod:`runflow.adapters.sdk`) and the orchestrator
(:mod:`runflow.adapters.drive`) are outside the core and use only its public methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from runflow.engine.hooks import CallbackFailure, Hooks
from runflow.engine.sse import RawEvent
from runflow.engine.state import Ending, FlowState
from runflow.engine.violations import Violation

__all__ = ["AsyncDriving"]

_T = TypeVar("_T")


class AsyncDriving:
    """``afeed``, ``afeed_sse``, ``aclose``."""

    if TYPE_CHECKING:
        _deferred: bool
        _hooks: Hooks | None
        callback_errors: Literal["raise", "collect"]
        callback_failures: list[CallbackFailure]

        @property
        def event_count(self) -> int: ...
        @property
        def state(self) -> FlowState: ...

        def feed(self, event: Any, *, finite: bool = False) -> list[Violation]: ...
        def close(self) -> Ending: ...
        def _feed_block(self, raw: RawEvent) -> None: ...

    async def afeed(self, event: Any) -> list[Violation]:
        """:meth:`feed`, then await the callbacks it queued (``async def`` ones too)."""
        return await self._async(self.feed, event)

    async def afeed_sse(self, chunk: bytes) -> list[Violation]:
        """:meth:`feed_sse` event by event, awaiting each event's callbacks."""
        state = self.state
        start = len(state.violations)
        events = state.decoder.feed(chunk)
        if state.backlog:
            events, state.backlog = state.backlog + events, []
        for i, raw in enumerate(events):
            try:
                await self._async(self._feed_block, raw)
            except BaseException:
                state.backlog = events[i + 1 :]
                raise
        return state.violations[start:]

    async def aclose(self) -> Ending:
        """:meth:`close`, awaiting the callbacks it queued."""
        return await self._async(self.close)

    async def _async(self, method: Callable[..., _T], *args: Any) -> _T:
        self._deferred = True
        try:
            result = method(*args)
        except BaseException:
            self._deferred = False
            if self._hooks is not None:
                await self._hooks.aflush(self)
            raise
        self._deferred = False
        if self._hooks is not None:
            await self._hooks.aflush(self)
        return result
