"""A handler class for Responses API streams, in the shape of the Assistants one.

The openai SDK has no event handler class for the Responses API: its users loop
over ``client.responses.stream(...)`` or ``client.responses.create(...,
stream=True)``. :class:`ResponseEventHandler` gives them the handler shape of
:class:`runflow.FlowEventHandler`, on a :class:`runflow.ResponseFlow`::

    class Printer(ResponseEventHandler):
        def on_output_text_delta(self, delta):
            print(delta.delta, end="")

        def on_response_completed(self):
            print("\\nDone!")

    with client.responses.stream(model=..., input=...) as stream:
        Printer().consume(stream)

Hooks, checked when the class is created (any other ``on_*`` name raises
``TypeError`` naming the closest ones):

* ``on_response_<state>`` and ``on_<kind>_<state>`` for every item and part kind of
  the definition (``on_function_call_arguments_done``,
  ``on_function_call_completed``, ``on_message_completed``,
  ``on_output_text_done``...), called once when the entity enters the state with
  the SDK object as it stands after the event (``Response``, the SDK's item type,
  a part as a dict), or with nothing when the method takes only ``self``;
* the delta hooks, named after the SDK's delta events
  (``response.output_text.delta`` -> ``on_output_text_delta``,
  ``response.function_call_arguments.delta`` ->
  ``on_function_call_arguments_delta``...), each given a
  :class:`runflow.ValueDelta` (``.delta`` the fragment, ``.text`` the value so far,
  ``.item_id``, ``.output_index``);
* ``on_violation(violation)`` and ``on_end(ending)``.

Why ``consume(stream)`` rather than an iterator wrapper: the handler reads the
stream's raw bytes (:func:`runflow.consume`), so it sees exactly what the server
sent -- ``[DONE]``, a cut, an ``error`` event with its number, unknown events --
where the SDK's parsed events would hide them; it takes any Responses stream
(``responses.stream(...)``'s manager or stream, ``responses.create(stream=True)``,
``responses.retrieve(id, stream=True, starting_after=N)``) and returns the ending.
A handler is one response: a resumed stream of it (``starting_after=
handler.flow.sequence_number``) is consumed by the same handler, whose flow drops
what is replayed, so every hook still fires once. A tool call's answer is a new
response, and takes a new handler.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any, ClassVar

from openai.lib.streaming.responses import AsyncResponseStreamManager, ResponseStreamManager

from runflow.adapters.hooknames import Relay, check_handler_class, enter_hooks, relay_for
from runflow.adapters.sdk import aconsume, consume
from runflow.engine.definition import Protocol
from runflow.engine.flow import Ending
from runflow.protocols.responses.callbacks import ARGUMENT_KINDS, TEXT_KINDS, ValueDelta
from runflow.protocols.responses.definition import ITEM_KINDS, RESPONSES
from runflow.protocols.responses.flow import ResponseFlow

__all__ = ["ResponseEventHandler", "delta_hooks"]

RUNFLOW_HOOKS = frozenset({"on_violation", "on_end"})


def delta_hooks(protocol: Protocol) -> dict[str, str]:
    """``on_<event>`` -> the kind it grows, for each ``.delta`` event of the
    definition whose value the flow reports (:data:`TEXT_KINDS`,
    :data:`ARGUMENT_KINDS`): ``response.output_text.delta`` ->
    ``on_output_text_delta``."""
    out: dict[str, str] = {}
    for kind, table in protocol.tables.items():
        if kind not in TEXT_KINDS | ARGUMENT_KINDS:
            continue
        for event in table.deltas:
            if event.endswith(".delta"):
                out["on_" + event.split(".", 1)[-1].replace(".", "_")] = kind
    return out


class ResponseEventHandler:
    """Subclass with ``on_*`` hooks; ``handler.consume(stream)`` feeds a Responses
    stream into ``handler.flow`` (a :class:`runflow.ResponseFlow`), calling them.
    See :mod:`runflow.adapters.response_handler`."""

    protocol: ClassVar[Protocol] = RESPONSES
    """The definition the flow validates with and the hooks are read from."""
    _enters: ClassVar[dict[str, bool]] = {}
    """Enter hooks defined on the class or its bases -> whether they take the object."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        others = {*delta_hooks(cls.protocol), *RUNFLOW_HOOKS}
        own = check_handler_class(cls, "ResponseEventHandler", enter_hooks(cls.protocol),
                                  others)
        cls._enters = {**cls._enters, **own}

    def __init__(self, flow: ResponseFlow | None = None) -> None:
        self.flow = flow if flow is not None else ResponseFlow(protocol=self.protocol)
        self._relay = relay_for(self.flow, self, self._register)

    def consume(self, stream: Iterable[Any] | ResponseStreamManager[Any]) -> Ending:
        """Feed ``stream`` into the flow, calling the hooks; return how it ended
        (``done``, ``error``, ``truncated``)."""
        return consume(self.flow, stream)

    async def aconsume(self, stream: AsyncIterable[Any] | Iterable[Any]
                       | AsyncResponseStreamManager[Any]) -> Ending:
        """Async :meth:`consume`: ``async def`` hooks are awaited."""
        return await aconsume(self.flow, stream)

    def _register(self, relay: Relay) -> None:
        """Register the class's hooks on the flow (once per flow and class)."""
        flow = self.flow
        names = enter_hooks(self.protocol)
        for name, takes_object in self._enters.items():
            kind, state = names[name]
            callback = relay.enter(name, takes_object)
            if kind == self.protocol.root:
                flow.on_response(state)(callback)  # type: ignore[arg-type]
            elif kind in ITEM_KINDS:
                flow.on_item(kind, state)(callback)  # type: ignore[arg-type]
            else:
                flow.on_part(kind, state)(callback)  # type: ignore[arg-type]
        for name, kind in delta_hooks(self.protocol).items():
            if hasattr(self, name):
                register = flow.on_text_delta if kind in TEXT_KINDS else flow.on_arguments_delta
                register(_only(kind, relay.call(name)))
        for name in RUNFLOW_HOOKS:
            if hasattr(self, name):
                getattr(flow, name)(relay.call(name))


def _only(kind: str, call: Any) -> Any:
    """A value-delta callback that passes on the fragments of one kind (not the
    empty ones: an annotation added to the text grows it by nothing)."""
    def told(delta: ValueDelta) -> Any:
        return call(delta) if delta.kind == kind and delta.delta else None
    return told
