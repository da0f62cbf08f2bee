"""The SDK's event handler with runflow's enter hooks: one class, the shape the
Assistants documentation teaches.

:class:`FlowEventHandler` / :class:`AsyncFlowEventHandler` are the openai SDK's
``AssistantEventHandler`` / ``AsyncAssistantEventHandler`` for ``event_handler=``
in ``runs.stream``, ``threads.create_and_run_stream`` and
``runs.submit_tool_outputs_stream``, feeding every event into ``handler.flow``
(a :class:`runflow.RunFlow`). Subclass one and write

* ``on_<entity>_<state>`` -- ``on_run_completed``, ``on_run_requires_action``,
  ``on_step_completed``, ``on_message_incomplete``, ``on_thread_created``: one per
  entity kind and state of the definition (:mod:`runflow.adapters.hooknames`),
  called once when such an entity enters that state, with the SDK object
  (``Run``, ``RunStep``, ``Message``, ``Thread``) as it stands after the event, or
  with nothing when the method takes only ``self``;
* the SDK's own hooks (``on_text_delta(delta, snapshot)``, ``on_text_created``,
  ``on_tool_call_delta``, ``on_message_done``, ``on_event``, ``on_end``,
  ``on_exception``...), called by the SDK with its meaning and signatures;
* ``on_violation(violation)``, for each protocol violation the flow finds.

Any other ``on_*`` name raises ``TypeError`` when the class is created, naming
the closest hooks. ``on_event``, ``on_exception`` and ``on_end`` may be
overridden without ``super()``: runflow's part (feed the event, the error, close
the flow) runs first, so ``self.flow`` is up to date inside them.

The SDK takes one handler per stream; a run that continues after tool outputs is
one flow. ``handler.next()`` is the handler for the next stream: a fresh SDK
handler with the same flow and a copy of your attributes, which receives the
hooks from then on::

    with client.beta.threads.runs.stream(..., event_handler=handler) as stream:
        stream.until_done()
    with client.beta.threads.runs.submit_tool_outputs_stream(
            ..., event_handler=handler.next()) as stream:
        stream.until_done()
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from openai import AssistantEventHandler, AsyncAssistantEventHandler
from openai.types.beta import AssistantStreamEvent
from typing_extensions import Self

from runflow.adapters.hooknames import Relay, check_handler_class, enter_hooks, relay_for
from runflow.adapters.sdk import error_event, watch_done
from runflow.engine.definition import Protocol
from runflow.protocols import ASSISTANTS
from runflow.protocols.assistants.flow import RunFlow

__all__ = ["AsyncFlowEventHandler", "FlowEventHandler"]

SDK_HOOKS = frozenset(name for name in dir(AssistantEventHandler) if name.startswith("on_"))
"""The SDK's hooks: called by the SDK, with its meaning (they win over a state of
the same name)."""
RUNFLOW_HOOKS = frozenset({"on_violation"})
DONE = {"event": "done", "data": "[DONE]"}
"""What the SDK swallows, fed at the end of a stream that had it."""
_FINISHERS = ("on_event", "on_exception", "on_end")
"""SDK hooks where runflow does its part before the subclass's method."""


class _Feeding:
    """What both twins share: the class check, the flow and its relay, and
    whether the stream ended with ``done`` (the SDK swallows it;
    :func:`~runflow.adapters.sdk.watch_done` notices it)."""

    protocol: ClassVar[Protocol] = ASSISTANTS
    """The definition the flow validates with and the hooks are read from."""
    _enters: ClassVar[dict[str, bool]] = {}
    """Enter hooks defined on the class or its bases -> whether they take the object."""
    flow: RunFlow
    _relay: Relay

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__module__ == __name__:
            return  # one of the two twins below, not a user's handler
        enters = {n: e for n, e in enter_hooks(cls.protocol).items() if n not in SDK_HOOKS}
        own = check_handler_class(cls, "FlowEventHandler", enters, SDK_HOOKS | RUNFLOW_HOOKS)
        _check_colour(cls, issubclass(cls, AsyncAssistantEventHandler))
        for name in own:  # the flow registers an entity's hooks with on_<entity>(state)
            entity = enters[name][0]
            if not callable(getattr(RunFlow, f"on_{entity}", None)):
                raise TypeError(f"{cls.__name__}.{name}: RunFlow has no on_{entity}(state) "
                                f"to register it with")
        cls._enters = {**cls._enters, **own}
        for name in _FINISHERS:
            if name in vars(cls):
                setattr(cls, name, cls._runflow_first(getattr(cls, f"_{name}"), vars(cls)[name]))

    @staticmethod
    def _runflow_first(ours: Callable[..., Any], theirs: Callable[..., Any]) -> Callable[..., Any]:
        raise NotImplementedError

    def _bind(self, flow: RunFlow | None) -> None:
        self.flow = flow if flow is not None else RunFlow(protocol=self.protocol)
        self._relay = relay_for(self.flow, self, self._register)
        self._reset()

    def _register(self, relay: Relay) -> None:
        """Register the class's hooks on the flow (once per flow and class)."""
        for name, takes_object in self._enters.items():
            entity, state = enter_hooks(self.protocol)[name]
            getattr(self.flow, f"on_{entity}")(state)(relay.enter(name, takes_object))
        if hasattr(self, "on_violation"):
            self.flow.on_violation(relay.call("on_violation"))

    def _reset(self) -> None:
        self._done = False
        self._spied = False
        self._finished = False
        self._last: object = None

    def next(self) -> Self:
        """The handler for the next stream of the same run (the SDK takes one handler
        per stream): same flow, a shallow copy of this handler's attributes, fresh
        SDK state; the flow's hooks call it from now on."""
        fresh = copy.copy(self)
        fresh._sdk_reset()
        fresh._reset()
        self._relay.current = fresh
        return fresh

    def _init(self, stream: Any) -> None:
        """The SDK hands the handler its stream (through its private ``_init(stream)``
        hook, which tests/test_sdk.py checks): a new stream of the same flow."""
        super()._init(stream)  # type: ignore[misc]
        self.flow.begin_stream()
        self._spied = watch_done(stream, self._saw_done)

    def _saw_done(self) -> None:
        self._done = True

    def _fresh(self, event: object) -> bool:
        """Whether ``event`` is not fed yet (a subclass's hook may call ``super()``)."""
        if event is self._last:
            return False
        self._last = event
        return True

    def _sdk_reset(self) -> None:
        """Start the SDK's own state afresh (its stream, snapshots, iterator)."""
        raise NotImplementedError

    def _closes(self) -> bool:
        """True once per stream, at its end (a subclass's ``on_end`` may call
        ``super()``)."""
        if self._finished:
            return False
        self._finished = True
        return True

    def _ended_with_done(self) -> bool:
        """Feed ``done`` at the end? When it was seen -- or, where the SDK's decoder
        could not be watched, when the stream ended without an error."""
        return self._done or (not self._spied and self.flow.ending is None)


def _check_colour(cls: type, asynchronous: bool) -> None:
    """Sync and async hooks where each can run: the sync handler calls every hook
    without awaiting it (an ``async def`` hook would never run); the async one
    awaits the SDK's hooks (each must be ``async def``), and takes either kind of
    enter hook and ``on_violation``."""
    for name, value in vars(cls).items():
        if not name.startswith("on_") or not callable(value):
            continue
        is_async = inspect.iscoroutinefunction(value)
        if is_async and not asynchronous:
            raise TypeError(f"{cls.__name__}.{name} is async def, but FlowEventHandler calls "
                            "its hooks without awaiting them: subclass AsyncFlowEventHandler")
        if asynchronous and not is_async and name in SDK_HOOKS:
            raise TypeError(f"{cls.__name__}.{name} must be async def: the SDK awaits the "
                            "hooks of an AsyncAssistantEventHandler")


class FlowEventHandler(_Feeding, AssistantEventHandler):
    """An ``AssistantEventHandler`` that feeds every event into ``self.flow`` (a
    :class:`runflow.RunFlow`) and calls its ``on_<entity>_<state>`` methods when an
    entity enters a state. See :mod:`runflow.adapters.handlers`."""

    def __init__(self, flow: RunFlow | None = None) -> None:
        super().__init__()
        self._bind(flow)

    @staticmethod
    def _runflow_first(ours: Callable[..., Any], theirs: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(theirs)
        def hook(self: FlowEventHandler, *args: Any) -> Any:
            ours(self, *args)
            return theirs(self, *args)
        return hook

    def on_event(self, event: AssistantStreamEvent) -> None:
        self._on_event(event)

    def on_exception(self, exception: Exception) -> None:
        self._on_exception(exception)

    def on_end(self) -> None:
        self._on_end()

    def _on_event(self, event: AssistantStreamEvent) -> None:
        if self._fresh(event):
            self.flow.feed(event)

    def _on_exception(self, exception: Exception) -> None:
        error = error_event(exception)
        if error is not None and self._fresh(exception):
            self.flow.feed(error)

    def _on_end(self) -> None:
        if not self._closes():
            return
        if self._ended_with_done():
            self.flow.feed(DONE)
        self.flow.close()

    def _sdk_reset(self) -> None:
        AssistantEventHandler.__init__(self)


class AsyncFlowEventHandler(_Feeding, AsyncAssistantEventHandler):
    """The async twin of :class:`FlowEventHandler`; hooks may be ``async def``."""

    def __init__(self, flow: RunFlow | None = None) -> None:
        super().__init__()
        self._bind(flow)

    @staticmethod
    def _runflow_first(ours: Callable[..., Awaitable[Any]],
                       theirs: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        @functools.wraps(theirs)
        async def hook(self: AsyncFlowEventHandler, *args: Any) -> Any:
            await ours(self, *args)
            return await theirs(self, *args)
        return hook

    async def on_event(self, event: AssistantStreamEvent) -> None:
        await self._on_event(event)

    async def on_exception(self, exception: Exception) -> None:
        await self._on_exception(exception)

    async def on_end(self) -> None:
        await self._on_end()

    async def _on_event(self, event: AssistantStreamEvent) -> None:
        if self._fresh(event):
            await self.flow.afeed(event)

    async def _on_exception(self, exception: Exception) -> None:
        error = error_event(exception)
        if error is not None and self._fresh(exception):
            await self.flow.afeed(error)

    async def _on_end(self) -> None:
        if not self._closes():
            return
        if self._ended_with_done():
            await self.flow.afeed(DONE)
        await self.flow.aclose()

    def _sdk_reset(self) -> None:
        AsyncAssistantEventHandler.__init__(self)
