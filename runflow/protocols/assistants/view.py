"""The Assistants read API: the run, its steps and messages, by their names.

Built on the engine's generic read side (:class:`runflow.engine.view.FlowView`)
and its read interface (:attr:`~runflow.engine.view.FlowView.state`). Snapshots are
the openai SDK's own pydantic types, built on first access and cached until the
entity changes again; treat them as read-only (edit a ``model_copy()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from runflow.engine.definition import UNSEEN
from runflow.engine.view import FlowView
from runflow.protocols.assistants.accumulators import MessageContent
from runflow.protocols.assistants.definition import Entity

if TYPE_CHECKING:  # the SDK loads with the first snapshot, not to check a stream
    from openai.types.beta import Thread
    from openai.types.beta.threads import Message, RequiredActionFunctionToolCall, Run
    from openai.types.beta.threads.runs import RunStep

__all__ = ["RunView"]

_STEP = Entity.STEP
_MESSAGE = Entity.MESSAGE


class RunView(FlowView):
    """The Assistants read API: the run, its steps and messages, by their names."""

    # -- Assistants snapshots ------------------------------------------- #
    @property
    def run(self) -> Run | None:
        """The run's snapshot, or None before any run event."""
        root = self.state.root
        return cast("Run", root.snapshot()) if root is not None else None

    @property
    def thread(self) -> Thread | None:
        """The thread's snapshot, when the stream created one (create-and-run)."""
        scope = self.state.scope
        return cast("Thread", scope.snapshot()) if scope is not None else None

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
        tracker = self.state.children[_MESSAGE].get(message_id)
        if tracker is None:
            raise KeyError(f"no message {message_id!r} in this flow")
        return cast("Message", tracker.snapshot())

    def step(self, step_id: str) -> RunStep:
        """The snapshot of one run step; ``KeyError`` if the flow never saw it."""
        tracker = self.state.children[_STEP].get(step_id)
        if tracker is None:
            raise KeyError(f"no step {step_id!r} in this flow")
        return cast("RunStep", tracker.snapshot())

    @property
    def text(self) -> str:
        """The assistant's text so far: text parts joined per message, messages by a
        blank line."""
        out = []
        for tracker in self.state.children[_MESSAGE].values():
            if tracker.raw.get("role", "assistant") != "assistant":
                continue
            text = cast(MessageContent, tracker.acc).text()
            if text:
                out.append(text)
        return "\n\n".join(out)

    @property
    def pending_tool_calls(self) -> list[RequiredActionFunctionToolCall]:
        """The function calls awaiting outputs while the run is in requires_action."""
        run = self.run
        if run is None or self.run_status != "requires_action":
            return []
        # the shape lets ``required_action``, ``submit_tool_outputs`` and a call's
        # ``function`` be {} or null, and the SDK's lenient builder then leaves
        # fields out or as dicts: only calls that name a function can be answered
        from openai.types.beta.threads import RequiredActionFunctionToolCall
        from openai.types.beta.threads.required_action_function_tool_call import Function

        outputs = getattr(run.required_action, "submit_tool_outputs", None)
        calls = getattr(outputs, "tool_calls", None)
        if not isinstance(calls, list):
            return []
        return [call for call in calls if isinstance(call, RequiredActionFunctionToolCall)
                and isinstance(call.function, Function)
                and isinstance(getattr(call.function, "name", None), str)]

    # -- Assistants states ---------------------------------------------- #
    @property
    def run_status(self) -> str:
        """The run's state: a run status, or ``"unseen"`` before any run event."""
        root = self.state.root
        return root.state if root is not None else UNSEEN

    @property
    def run_id(self) -> str | None:
        return self.state.root_id

    @property
    def thread_id(self) -> str | None:
        return self.state.scope_id

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
