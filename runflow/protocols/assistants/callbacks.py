"""The Assistants callbacks, typed: decorators on the flow, and handler classes.

Two ways to register, both checked by ``mypy --strict``:

* decorators on the flow, with ``Literal`` state names::

      @flow.on_run("requires_action")
      def act(run: Run) -> None: ...

* a :class:`Handler` subclass whose methods are named ``on_<entity>_<state>``
  (plus the SDK-style text and tool-call hooks); a method name that matches no
  state raises ``TypeError`` when the class is created, naming the closest one.

Callbacks may be ``async def`` when the flow is driven asynchronously
(``await flow.afeed(...)``); sync callbacks work in both modes.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast, get_args, overload

from runflow.engine.callbacks import Callbacks, Result
from runflow.engine.definition import UNSEEN, Protocol, ProtocolDefinitionError
from runflow.engine.hooks import Hooks
from runflow.engine.state import Ending
from runflow.engine.violations import Violation
from runflow.protocols.assistants.definition import ASSISTANTS, Entity
from runflow.protocols.assistants.hooks import RunHooks
from runflow.protocols.assistants.parts import (
    TextDelta,
    TextSnapshot,
    ToolCallDelta,
    ToolCallSnapshot,
)

if TYPE_CHECKING:  # the SDK's types load with the first snapshot, not to check a stream
    from openai.types.beta import Thread
    from openai.types.beta.threads import Message, Run
    from openai.types.beta.threads.runs import RunStep

__all__ = [
    "Handler",
    "MessageState",
    "RunCallbacks",
    "RunState",
    "StepState",
    "ThreadState",
]

RunState = Literal[
    "queued", "in_progress", "requires_action", "cancelling",
    "cancelled", "failed", "completed", "incomplete", "expired",
]
StepState = Literal["in_progress", "completed", "failed", "cancelled", "expired"]
MessageState = Literal["in_progress", "completed", "incomplete"]
ThreadState = Literal["created"]
STATE_TYPES: dict[Entity, Any] = {
    Entity.RUN: RunState,
    Entity.STEP: StepState,
    Entity.MESSAGE: MessageState,
    Entity.THREAD: ThreadState,
}
"""The ``Literal`` of each entity's states (for mypy), checked against the table."""


def check_state_literals(protocol: Protocol = ASSISTANTS) -> None:
    """Raise :class:`ProtocolDefinitionError` when a state ``Literal`` above and the
    definition disagree: the literals exist for type checkers, the table rules."""
    problems = []
    for entity, literal in STATE_TYPES.items():
        table = protocol.tables[entity]
        declared = set(get_args(literal))
        actual = set(table.states) - {table.initial}
        for state in sorted(actual - declared):
            problems.append(f"{entity.value} state {state!r} is missing from "
                            f"{entity.value.capitalize()}State in "
                            "runflow/protocols/assistants/callbacks.py")
        for state in sorted(declared - actual):
            problems.append(f"{entity.value.capitalize()}State names {state!r}, which is not "
                            f"a {entity.value} state of the table")
    if problems:
        raise ProtocolDefinitionError(
            "callback literals disagree with the protocol:\n"
            + "\n".join(f"  - {p}" for p in problems))


check_state_literals()

RunCb = TypeVar("RunCb", bound="Callable[[Run], Result]")
StepCb = TypeVar("StepCb", bound="Callable[[RunStep], Result]")
MessageCb = TypeVar("MessageCb", bound="Callable[[Message], Result]")
ThreadCb = TypeVar("ThreadCb", bound="Callable[[Thread], Result]")
TextCb = TypeVar("TextCb", bound=Callable[[TextSnapshot], Result])
TextDeltaCb = TypeVar("TextDeltaCb", bound=Callable[[TextDelta, TextSnapshot], Result])
ToolCb = TypeVar("ToolCb", bound=Callable[[ToolCallSnapshot], Result])
ToolDeltaCb = TypeVar("ToolDeltaCb", bound=Callable[[ToolCallDelta, ToolCallSnapshot], Result])
Phase = Literal["created", "delta", "done"]


class RunCallbacks(Callbacks):
    """The Assistants callbacks: run, step, message, thread, text and tool calls."""

    def registry(self) -> RunHooks:
        """The flow's callback registry, with the text and tool-call hooks."""
        return cast(RunHooks, super().registry())  # made by new_registry below

    def new_registry(self) -> Hooks:
        return RunHooks(self._snapshot_of)

    def on_run(self, state: RunState) -> Callable[[RunCb], RunCb]:
        """Call the decorated function with the ``Run`` when the run enters ``state``."""
        return self._on_enter(Entity.RUN, state)

    def on_step(self, state: StepState) -> Callable[[StepCb], StepCb]:
        """Call the decorated function with the ``RunStep`` when a step enters ``state``."""
        return self._on_enter(Entity.STEP, state)

    def on_message(self, state: MessageState) -> Callable[[MessageCb], MessageCb]:
        """Call the decorated function with the ``Message`` when a message enters ``state``."""
        return self._on_enter(Entity.MESSAGE, state)

    def on_thread(self, state: ThreadState) -> Callable[[ThreadCb], ThreadCb]:
        """Call the decorated function with the ``Thread`` when the thread is created."""
        return self._on_enter(Entity.THREAD, state)

    @overload
    def on_text(self, phase: Literal["created", "done"]) -> Callable[[TextCb], TextCb]: ...
    @overload
    def on_text(self, phase: Literal["delta"]) -> Callable[[TextDeltaCb], TextDeltaCb]: ...
    def on_text(self, phase: Phase) -> Callable[[Any], Any]:
        """Text part hooks: ``created(snapshot)``, ``delta(delta, snapshot)``,
        ``done(snapshot)``."""
        return self._on_phase("text", phase)

    @overload
    def on_tool_call(self, phase: Literal["created", "done"]) -> Callable[[ToolCb], ToolCb]: ...
    @overload
    def on_tool_call(self, phase: Literal["delta"]) -> Callable[[ToolDeltaCb], ToolDeltaCb]: ...
    def on_tool_call(self, phase: Phase) -> Callable[[Any], Any]:
        """Tool call hooks: ``created(snapshot)``, ``delta(delta, snapshot)``,
        ``done(snapshot)``."""
        return self._on_phase("tool_call", phase)

    def _on_phase(self, kind: str, phase: str) -> Callable[[Any], Any]:
        if phase not in get_args(Phase):
            raise ValueError(f"{kind} phase must be created, delta or done, not {phase!r}")

        def register(cb: Any) -> Any:
            hooks = self.registry()
            table = hooks.text if kind == "text" else hooks.tool_call
            table.setdefault(phase, []).append(cb)
            return cb

        return register

    def add_handler(self, handler: Handler) -> None:
        """Register every ``on_*`` method that ``handler``'s class overrides."""
        for name, register in _handler_registrations(self).items():
            method = getattr(type(handler), name, None)
            if method is not None and method is not getattr(Handler, name, None):
                register(getattr(handler, name))


def _handler_registrations(flow: RunCallbacks) -> dict[str, Callable[[Any], Any]]:
    out: dict[str, Callable[[Any], Any]] = {}
    for entity, table in flow.protocol.tables.items():
        for state in table.states:
            if state != UNSEEN:
                out[f"on_{entity}_{state}"] = flow._on_enter(entity, state)
    for kind in ("text", "tool_call"):
        for phase in get_args(Phase):
            out[f"on_{kind}_{phase}"] = flow._on_phase(kind, phase)
    out["on_violation"] = flow.on_violation
    out["on_end"] = flow.on_end
    return out


def handler_method_names(protocol: Protocol = ASSISTANTS) -> frozenset[str]:
    """Every method name a :class:`Handler` may define, from the table."""
    probe = RunCallbacks()
    probe.protocol = protocol
    return frozenset(_handler_registrations(probe))


class Handler:
    """Subclass and define ``on_<entity>_<state>`` methods; pass an instance to
    ``flow.add_handler``. Misspelled ``on_*`` names raise at class creation,
    checked against the class attribute ``protocol`` (the default definition
    unless a subclass sets another)."""

    protocol: ClassVar[Protocol] = ASSISTANTS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        valid = handler_method_names(cls.protocol)
        for name in vars(cls):
            if name.startswith("on_") and name not in valid:
                close = difflib.get_close_matches(name, sorted(valid), n=1, cutoff=0.5)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TypeError(f"{cls.__name__}.{name} matches no runflow callback{hint}")

    # run
    def on_run_queued(self, run: Run) -> Result: ...
    def on_run_in_progress(self, run: Run) -> Result: ...
    def on_run_requires_action(self, run: Run) -> Result: ...
    def on_run_cancelling(self, run: Run) -> Result: ...
    def on_run_cancelled(self, run: Run) -> Result: ...
    def on_run_failed(self, run: Run) -> Result: ...
    def on_run_completed(self, run: Run) -> Result: ...
    def on_run_incomplete(self, run: Run) -> Result: ...
    def on_run_expired(self, run: Run) -> Result: ...
    # step
    def on_step_in_progress(self, step: RunStep) -> Result: ...
    def on_step_completed(self, step: RunStep) -> Result: ...
    def on_step_failed(self, step: RunStep) -> Result: ...
    def on_step_cancelled(self, step: RunStep) -> Result: ...
    def on_step_expired(self, step: RunStep) -> Result: ...
    # message
    def on_message_in_progress(self, message: Message) -> Result: ...
    def on_message_completed(self, message: Message) -> Result: ...
    def on_message_incomplete(self, message: Message) -> Result: ...
    # thread
    def on_thread_created(self, thread: Thread) -> Result: ...
    # SDK-style hooks
    def on_text_created(self, text: TextSnapshot) -> Result: ...
    def on_text_delta(self, delta: TextDelta, snapshot: TextSnapshot) -> Result: ...
    def on_text_done(self, text: TextSnapshot) -> Result: ...
    def on_tool_call_created(self, tool_call: ToolCallSnapshot) -> Result: ...
    def on_tool_call_delta(self, delta: ToolCallDelta, snapshot: ToolCallSnapshot) -> Result: ...
    def on_tool_call_done(self, tool_call: ToolCallSnapshot) -> Result: ...
    def on_violation(self, violation: Violation) -> Result: ...
    def on_end(self, ending: Ending) -> Result: ...
