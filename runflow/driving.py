"""How a flow is driven asynchronously and from the openai SDK (a mixin of RunFlow).

The core is synchronous; driving it asynchronously only changes *when* callbacks
run: every queued callback of an event is awaited before the next event is
processed, so ``async def`` callbacks see the flow exactly as sync ones do.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .view import Ending
from .violations import Violation

if TYPE_CHECKING:
    from openai.types.beta.threads import Message, Run
    from openai.types.beta.threads.runs import RunStep

    from .flow import RunFlow
    from .hooks import Hooks
    from .sse import RawEvent, SSEDecoder

__all__ = ["Driving"]

_T = TypeVar("_T")


class Driving:
    """``afeed``, ``afeed_sse``, ``aclose``, ``consume``, ``aconsume``, ``recover``."""

    if TYPE_CHECKING:
        violations: list[Violation]
        _decoder: SSEDecoder
        _backlog: list[RawEvent]
        _deferred: bool
        _hooks: Hooks | None

        def feed(self, event: Any) -> list[Violation]: ...
        def close(self) -> Ending: ...
        def _feed_block(self, raw: RawEvent) -> None: ...

    async def afeed(self, event: Any) -> list[Violation]:
        """:meth:`feed`, then await the callbacks it queued (``async def`` ones too)."""
        return await self._async(self.feed, event)

    async def afeed_sse(self, chunk: bytes) -> list[Violation]:
        """:meth:`feed_sse` event by event, awaiting each event's callbacks."""
        start = len(self.violations)
        events = self._decoder.feed(chunk)
        if self._backlog:
            events, self._backlog = self._backlog + events, []
        for i, raw in enumerate(events):
            try:
                await self._async(self._feed_block, raw)
            except BaseException:
                self._backlog = events[i + 1 :]
                raise
        return self.violations[start:]

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
                await self._hooks.aflush(cast("RunFlow", self))
            raise
        self._deferred = False
        if self._hooks is not None:
            await self._hooks.aflush(cast("RunFlow", self))
        return result

    def recover(self, obj: Run | RunStep | Message) -> bool:
        """Apply a full object read over REST after a cut (see :mod:`runflow.recovery`);
        return True when the entity changed state."""
        from .recovery import recover

        return recover(cast("RunFlow", self), obj)

    def consume(self, stream: Iterable[Any]) -> Ending:
        """Feed a whole stream and close it: an openai ``Stream`` (read as raw SSE,
        so ``done``, cuts and bad JSON are seen exactly), or any iterable of SDK
        events or ``{"event", "data"}`` mappings. Returns the ending."""
        from .sdk import consume

        return consume(cast("RunFlow", self), stream)

    async def aconsume(self, stream: AsyncIterable[Any] | Iterable[Any]) -> Ending:
        """Async :meth:`consume`: an ``AsyncStream`` or any (async) iterable."""
        from .sdk import aconsume

        return await aconsume(cast("RunFlow", self), stream)
