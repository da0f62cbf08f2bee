"""The read side of a flow: states, snapshots and what the run is waiting for.

:class:`FlowView` holds the state a flow has built and answers questions about
it; :class:`runflow.flow.RunFlow` adds the input side. Snapshots are the openai
SDK's own pydantic types, built on first access and cached until the entity
changes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

from openai.types.beta import Thread
from openai.types.beta.threads import Message, RequiredActionFunctionToolCall, Run
from openai.types.beta.threads.runs import RunStep
from openai.types.shared import ErrorObject

from .entities import Tracker
from .protocol import UNSEEN, Entity
from .violations import Violation

__all__ = ["Ending", "FlowView", "StateChange"]

Ending = Literal["done", "error", "truncated"]


@dataclass(frozen=True, slots=True)
class StateChange:
    """One accepted status event: which entity went from which state to which."""

    index: int
    """Position of the event in the flow's input."""
    entity: Entity
    id: str
    event: str
    source: str
    dest: str


class FlowView:
    """States and snapshots of one run's flow (read-only API)."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        """Every violation so far, in input order."""
        self.error: ErrorObject | None = None
        """The error object of an ``error`` event, when the stream ended with one."""
        self._index = 0
        self._thread: Tracker | None = None
        self._run: Tracker | None = None
        self._run_id: str | None = None
        self._thread_id: str | None = None
        self._steps: dict[str, Tracker] = {}  # insertion order = order first seen
        self._messages: dict[str, Tracker] = {}
        self._ending: Ending | None = None
        self.history: list[StateChange] = []
        """Every accepted status event, in order: the path the run took."""

    # -- snapshots ------------------------------------------------------ #
    @property
    def run(self) -> Run | None:
        """The run's snapshot, or None before any run event."""
        return cast(Run, self._run.snapshot()) if self._run is not None else None

    @property
    def thread(self) -> Thread | None:
        """The thread's snapshot, when the stream created one (create-and-run)."""
        return cast(Thread, self._thread.snapshot()) if self._thread is not None else None

    @property
    def messages(self) -> list[Message]:
        """Every message of the run, in the order the flow first saw them."""
        return [cast(Message, t.snapshot()) for t in self._messages.values()]

    @property
    def steps(self) -> list[RunStep]:
        """Every run step, in the order the flow first saw them."""
        return [cast(RunStep, t.snapshot()) for t in self._steps.values()]

    def message(self, message_id: str) -> Message:
        """The snapshot of one message; ``KeyError`` if the flow never saw it."""
        tracker = self._messages.get(message_id)
        if tracker is None:
            raise KeyError(f"no message {message_id!r} in this flow")
        return cast(Message, tracker.snapshot())

    def step(self, step_id: str) -> RunStep:
        """The snapshot of one run step; ``KeyError`` if the flow never saw it."""
        tracker = self._steps.get(step_id)
        if tracker is None:
            raise KeyError(f"no step {step_id!r} in this flow")
        return cast(RunStep, tracker.snapshot())

    @property
    def text(self) -> str:
        """The assistant's text so far: text parts joined per message, messages by a
        blank line."""
        out = []
        for tracker in self._messages.values():
            if tracker.raw.get("role", "assistant") != "assistant":
                continue
            text = "".join(p.value for p in tracker.parts if p.type == "text")
            if text:
                out.append(text)
        return "\n\n".join(out)

    @property
    def pending_tool_calls(self) -> list[RequiredActionFunctionToolCall]:
        """The function calls awaiting outputs while the run is in requires_action."""
        run = self.run
        if run is None or self.run_status != "requires_action" or run.required_action is None:
            return []
        return list(run.required_action.submit_tool_outputs.tool_calls)

    # -- states --------------------------------------------------------- #
    # ------------------------------------------------------------------ #
    @property
    def events(self) -> int:
        """Events received so far (the index the next one will get)."""
        return self._index

    @property
    def ending(self) -> Ending | None:
        """How the last stream ended, or None while it is open."""
        return self._ending

    @property
    def run_status(self) -> str:
        """The run's state: a run status, or ``"unseen"`` before any run event."""
        return self._run.state if self._run is not None else UNSEEN

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def thread_id(self) -> str | None:
        return self._thread_id

    def step_state(self, step_id: str) -> str:
        """The state of a step by id (``"unseen"`` if the flow never saw it)."""
        tracker = self._steps.get(step_id)
        return tracker.state if tracker is not None else UNSEEN

    def message_state(self, message_id: str) -> str:
        """The state of a message by id (``"unseen"`` if the flow never saw it)."""
        tracker = self._messages.get(message_id)
        return tracker.state if tracker is not None else UNSEEN

    @property
    def step_states(self) -> dict[str, str]:
        return {k: t.state for k, t in self._steps.items()}

    @property
    def message_states(self) -> dict[str, str]:
        return {k: t.state for k, t in self._messages.items()}

    @property
    def errors(self) -> list[Violation]:
        """The error-severity violations."""
        return [v for v in self.violations if v.severity == "error"]

    @property
    def ok(self) -> bool:
        """No error-severity violation so far."""
        return not any(v.severity == "error" for v in self.violations)
