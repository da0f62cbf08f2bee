"""The Assistants stream's spans: the run (``invoke_agent <assistant id>``), its steps
(``step <type>``) and messages (``message <role>``, under the ``message_creation``
step that made them when that step is open). The thread gets no span.

Attributes: ``gen_ai.operation.name`` ``invoke_agent``, ``gen_ai.system`` /
``gen_ai.provider.name``, ``gen_ai.agent.id``, ``gen_ai.conversation.id`` (the
thread), ``gen_ai.request.model`` / ``gen_ai.response.model``,
``gen_ai.response.id`` (the run), ``gen_ai.usage.*`` of the run and of each step,
``gen_ai.tool.*`` of a tool_calls step with one call (``runflow.tool.names`` /
``call_ids`` for any number).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from opentelemetry.trace import Span, Status, StatusCode

from runflow.adapters.otel.core import Attrs, Key, SpanMap

if TYPE_CHECKING:
    from openai.types.beta.threads import Message, Run
    from openai.types.beta.threads.runs import RunStep

    from runflow import RunFlow

__all__ = ["ASSISTANT_SPANS", "AssistantSpans"]

_FAILED = {"failed", "cancelled", "expired", "incomplete"}


class AssistantSpans(SpanMap):
    """See the module docstring."""

    labels: ClassVar[Mapping[str, str]] = {"run": "run", "step": "step", "message": "message"}
    registrars: ClassVar[Mapping[str, str]] = {
        "run": "on_run", "step": "on_step", "message": "on_message"}

    def register(self, flow: RunFlow, kind: str, state: str, callback: Any) -> None:
        getattr(flow, self.registrars[kind])(state)(callback)

    def root_span(self, flow: RunFlow, oid: str, system: str) -> tuple[str, Attrs]:
        run = flow.run
        attrs: Attrs = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.system": system,
            "gen_ai.provider.name": system,
        }
        if oid:
            attrs.update(self.root_named(oid))
        if run is not None:
            attrs["gen_ai.agent.id"] = run.assistant_id
            attrs["gen_ai.conversation.id"] = run.thread_id
            attrs["gen_ai.request.model"] = run.model
        agent = run.assistant_id if run is not None else "run"
        return f"invoke_agent {agent}", attrs

    def root_named(self, oid: str) -> Attrs:
        return {"gen_ai.response.id": oid, "runflow.run.id": oid}

    def child_span(self, flow: RunFlow, kind: str, oid: str) -> tuple[str, Attrs]:
        if kind == "step":
            step = flow.step(oid)
            return f"step {step.type}", {"runflow.step.id": oid, "runflow.step.type": step.type}
        message = flow.message(oid)
        return f"message {message.role}", {"runflow.message.id": oid,
                                           "runflow.message.role": message.role}

    def parent(self, flow: RunFlow, kind: str, oid: str, open_keys: Sequence[Key]) -> Key | None:
        if kind != "message":
            return None
        for open_kind, step_id in open_keys:
            if open_kind == "step" and _creates(flow.step(step_id), oid):
                return (open_kind, step_id)
        return None

    def finish(self, flow: RunFlow, span: Span, kind: str, oid: str, state: str,
               root: bool) -> None:
        if root:
            _finish_run(span, flow.run, state)
        elif kind == "step":
            _finish_step(span, flow.step(oid), state)
        else:
            _finish_message(span, flow.message(oid))


ASSISTANT_SPANS = AssistantSpans()


def _creates(step: RunStep, message_id: str) -> bool:
    details = step.step_details
    return details.type == "message_creation" and (
        details.message_creation.message_id == message_id)


def _finish_run(span: Span, run: Run | None, state: str) -> None:
    span.set_attribute("gen_ai.response.finish_reasons", [state])
    if run is None:
        return
    span.set_attribute("gen_ai.response.model", run.model)
    if run.usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", run.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", run.usage.completion_tokens)
    if state in _FAILED:
        error = run.last_error.code if run.last_error is not None else state
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR, f"run {state}"))


def _tool_names(step: RunStep) -> tuple[list[str], list[str], list[str]]:
    """(names, types, ids) of a tool_calls step's calls."""
    details = step.step_details
    if details.type != "tool_calls":
        return [], [], []
    names = [c.function.name if c.type == "function" else c.type for c in details.tool_calls]
    types = ["function" if c.type == "function" else "extension" for c in details.tool_calls]
    return names, types, [c.id for c in details.tool_calls]


def _finish_step(span: Span, step: RunStep, state: str) -> None:
    names, types, ids = _tool_names(step)
    if names:
        span.set_attribute("runflow.tool.names", names)
        span.set_attribute("runflow.tool.call_ids", ids)
        if len(names) == 1:
            span.set_attribute("gen_ai.tool.name", names[0])
            span.set_attribute("gen_ai.tool.type", types[0])
            span.set_attribute("gen_ai.tool.call.id", ids[0])
    if step.usage is not None:
        span.set_attribute("gen_ai.usage.input_tokens", step.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", step.usage.completion_tokens)
    if state != "completed":
        if step.last_error is not None:
            span.set_attribute("error.type", step.last_error.code)
        span.set_status(Status(StatusCode.ERROR, f"step {state}"))


def _finish_message(span: Span, message: Message) -> None:
    span.set_attribute("runflow.message.parts", len(message.content))
    if message.incomplete_details is not None:
        span.set_attribute("runflow.message.incomplete_reason",
                           message.incomplete_details.reason)
