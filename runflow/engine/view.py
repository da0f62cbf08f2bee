"""The read side of a flow: states, snapshots and what the run is waiting for.

:class:`FlowView` answers questions about the state a flow has built (one
:class:`runflow.engine.state.FlowState`); :class:`runflow.engine.flow.RunFlow` adds the input
side. The generic questions take an entity kind (:meth:`entities`,
:meth:`state_of`); the Assistants ones are named after its entities (``run``,
``steps``, ``messages``). Snapshots are the openai SDK's own pydantic types, built
on first access and cached until the entity changes again; treat them as
read-only (edit a ``model_copy()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from openai.types.beta import Thread
from openai.types.beta.threads import Message, RequiredActionFunctionToolCall, Run
from openai.types.beta.threads.runs import RunStep
from pydantic import BaseModel

from runflow.engine.definition import UNSEEN
from runflow.engine.state import Ending, FlowState, StateChange
from runflow.engine.violations import Violation

if TYPE_CHECKING:
    from runflow.engine.machines import Compiled

__all__ = ["Ending", "FlowView", "RunView", "StateChange"]

_STEP = "step"
_MESSAGE = "message"


class FlowView:
    """States and snapshots of one flow (read-only API), for any protocol."""

    _s: FlowState
    _c: Compiled

    # -- generic -------------------------------------------------------- #
    @property
    def violations(self) -> list[Violation]:
        """Every violation so far, in input order."""
        return self._s.violations

    @property
    def history(self) -> list[StateChange]:
        """Every accepted state change, in order: the path the run took (up to
        ``Limits.max_history``; see :attr:`history_dropped`)."""
        return self._s.history

    @property
    def history_dropped(self) -> int:
        """State changes not kept in :attr:`history` because it was full."""
        return self._s.history_dropped

    @property
    def suppressed(self) -> dict[str, int]:
        """Violations counted but not stored, by code (``Limits.max_repeated_violations``)."""
        return self._s.suppressed

    @property
    def expected(self) -> dict[str, int]:
        """Violations the flow's profile expects from this server, counted by code
        instead of reported (:mod:`runflow.engine.profiles`)."""
        return self._s.expected

    @property
    def event_count(self) -> int:
        """Events received so far (the index the next one will get)."""
        return self._s.index

    @property
    def ending(self) -> Ending | None:
        """How the last stream ended, or None while it is open."""
        return self._c.endings[self._s.stream]  # type: ignore[return-value]

    @property
    def stream_state(self) -> str:
        """The stream machine's state (see ``diagrams/stream.mmd``)."""
        return self._s.stream

    def entities(self, kind: str) -> list[BaseModel]:
        """Snapshots of every entity of ``kind``, in the order first seen."""
        state = self._s
        if kind == self._c.root:
            return [state.root.snapshot()] if state.root is not None else []
        if kind == self._c.scope:
            return [state.scope.snapshot()] if state.scope is not None else []
        return [t.snapshot() for t in state.children.get(kind, {}).values()]

    def state_of(self, kind: str, entity_id: str | None = None) -> str:
        """The state of an entity (``"unseen"`` if the flow never saw it)."""
        state = self._s
        tracker: Any = (state.root if kind == self._c.root else
                        state.scope if kind == self._c.scope else
                        state.children.get(kind, {}).get(entity_id or ""))
        if tracker is None or (entity_id is not None and tracker.id != entity_id):
            return UNSEEN
        return str(tracker.state)

    def states(self, kind: str) -> dict[str, str]:
        """Id -> state of every child entity of ``kind``."""
        return {k: t.state for k, t in self._s.children.get(kind, {}).items()}

    @property
    def root_kind(self) -> str:
        """The kind of entity the flow follows: ``"run"``, ``"response"``."""
        return self._c.root

    @property
    def root_id(self) -> str | None:
        """The id of the entity the flow follows (the run, the response), once known."""
        return self._s.root_id

    @property
    def root_state(self) -> str:
        """The state of the entity the flow follows (``"unseen"`` before its first event)."""
        root = self._s.root
        return root.state if root is not None else UNSEEN

    @property
    def errors(self) -> list[Violation]:
        """The error-severity violations."""
        return [v for v in self._s.violations if v.severity == "error"]

    @property
    def ok(self) -> bool:
        """No error-severity violation so far."""
        return not any(v.severity == "error" for v in self._s.violations)



class RunView(FlowView):
    """The Assistants read API: the run, its steps and messages, by their names."""

    # -- Assistants snapshots ------------------------------------------- #
    @property
    def run(self) -> Run | None:
        """The run's snapshot, or None before any run event."""
        root = self._s.root
        return cast(Run, root.snapshot()) if root is not None else None

    @property
    def thread(self) -> Thread | None:
        """The thread's snapshot, when the stream created one (create-and-run)."""
        scope = self._s.scope
        return cast(Thread, scope.snapshot()) if scope is not None else None

    @property
    def messages(self) -> list[Message]:
        """Every message of the run, in the order the flow first saw them."""
        return cast("list[Message]", self.entities(_MESSAGE))

    @property
    def steps(self) -> list[RunStep]:
        """Every run step, in the order the flow first saw them."""
        return cast("list[RunStep]", self.entities(_STEP))

    def message(self, message_id: str) -> Message:
        """The snapshot of one message; ``KeyError`` if the flow never saw it."""
        tracker = self._s.children[_MESSAGE].get(message_id)
        if tracker is None:
            raise KeyError(f"no message {message_id!r} in this flow")
        return cast(Message, tracker.snapshot())

    def step(self, step_id: str) -> RunStep:
        """The snapshot of one run step; ``KeyError`` if the flow never saw it."""
        tracker = self._s.children[_STEP].get(step_id)
        if tracker is None:
            raise KeyError(f"no step {step_id!r} in this flow")
        return cast(RunStep, tracker.snapshot())

    @property
    def text(self) -> str:
        """The assistant's text so far: text parts joined per message, messages by a
        blank line."""
        out = []
        for tracker in self._s.children[_MESSAGE].values():
            if tracker.raw.get("role", "assistant") != "assistant":
                continue
            text = tracker.acc.text()
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

    # -- Assistants states ---------------------------------------------- #
    @property
    def run_status(self) -> str:
        """The run's state: a run status, or ``"unseen"`` before any run event."""
        root = self._s.root
        return root.state if root is not None else UNSEEN

    @property
    def run_id(self) -> str | None:
        return self._s.root_id

    @property
    def thread_id(self) -> str | None:
        return self._s.scope_id

    def step_state(self, step_id: str) -> str:
        """The state of a step by id (``"unseen"`` if the flow never saw it)."""
        return self.state_of(_STEP, step_id)

    def message_state(self, message_id: str) -> str:
        """The state of a message by id (``"unseen"`` if the flow never saw it)."""
        return self.state_of(_MESSAGE, message_id)

    @property
    def step_states(self) -> dict[str, str]:
        return self.states(_STEP)

    @property
    def message_states(self) -> dict[str, str]:
        return self.states(_MESSAGE)
