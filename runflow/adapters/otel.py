"""OpenTelemetry spans for a flow: the run, its steps and messages, as they change.

Needs the ``otel`` extra (``pip install 'runflow-sse[otel]'``)::

    from opentelemetry import trace
    from runflow.adapters.otel import trace_flow

    flow = RunFlow()
    tracing = trace_flow(flow, trace.get_tracer("my-agent"))
    ...                      # feed / consume / recover as usual
    tracing.finish()         # only needed for a run that never reached a final state

What is emitted, all from the flow's public callbacks and view:

* one span per run (``invoke_agent <assistant id>``), started when the flow first
  sees the run (under whatever span is current then) and ended when the run reaches
  a terminal state -- across streams: a ``requires_action`` stream and its
  tool-output continuation are one span;
* one child span per step (``step <type>``) and per message (``message <role>``;
  under its ``message_creation`` step when that step is open), ended at their
  terminal state;
* a ``runflow.state_change`` span event per state change, on the entity's span,
  with the event that caused it (``recovered`` for objects read over REST);
* a ``runflow.violation`` event per violation (on the entity's span when it has
  one, else the run's) and a ``runflow.stream.end`` event per stream with its ending.

Attributes follow the OpenTelemetry GenAI semantic conventions where they fit
(``gen_ai.operation.name``, ``gen_ai.system`` / ``gen_ai.provider.name``,
``gen_ai.agent.id``, ``gen_ai.conversation.id``, ``gen_ai.request.model``,
``gen_ai.response.id``, ``gen_ai.usage.*``, ``gen_ai.tool.*``) and runflow's own
``runflow.*`` namespace where they do not (states, endings, violation codes).
No message text is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from runflow.protocols import PROTOCOL, UNSEEN, Entity

if TYPE_CHECKING:
    from openai.types.beta.threads import Message, Run
    from openai.types.beta.threads.runs import RunStep

    from runflow.engine.flow import RunFlow
    from runflow.engine.view import Ending
    from runflow.engine.violations import Violation

__all__ = ["FlowTracer", "format_span_tree", "trace_flow"]

AttrValue = str | bool | int | float | Sequence[str]

_TERMINAL = {e: PROTOCOL.tables[e].terminal for e in Entity}
_FAILED = {"failed", "cancelled", "expired", "incomplete"}


def trace_flow(flow: RunFlow, tracer: Tracer, *, system: str = "openai") -> FlowTracer:
    """Emit spans for ``flow`` through ``tracer``; returns the :class:`FlowTracer`."""
    tracing = FlowTracer(flow, tracer, system=system)
    tracing.attach()
    return tracing


@dataclass
class _Open:
    span: Span
    entity: Entity
    oid: str
    ended: bool = False

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.span.end()


@dataclass
class FlowTracer:
    """Turns one flow's state changes into spans (see the module docstring)."""

    flow: RunFlow
    tracer: Tracer
    system: str = "openai"
    _spans: dict[tuple[Entity, str], _Open] = field(default_factory=dict)
    _run: _Open | None = None
    _seen: int = 0
    _pending: list[Violation] = field(default_factory=list)
    _streams: int = 0
    _run_over: str | None = None  # the run's terminal state, its span ends with the stream

    @property
    def run_span(self) -> Span | None:
        """The run's span, from when the flow first sees the run."""
        return self._run.span if self._run is not None else None

    def attach(self) -> None:
        """Register the callbacks on the flow (``trace_flow`` does it)."""
        registrars: dict[Entity, Any] = {Entity.RUN: self.flow.on_run,
                                         Entity.STEP: self.flow.on_step,
                                         Entity.MESSAGE: self.flow.on_message}
        for entity, register in registrars.items():
            for state in PROTOCOL.tables[entity].states:
                if state != UNSEEN:
                    register(state)(self._changed)
        self.flow.on_violation(self._violated)
        self.flow.on_end(self._ended)

    # -- callbacks ------------------------------------------------------ #
    def _changed(self, obj: Any) -> None:
        self._drain()

    def _drain(self) -> None:
        """Turn every state change since the last call into span events and spans."""
        history = self.flow.history
        while self._seen < len(history):
            change = history[self._seen]
            self._seen += 1
            if change.source == change.dest or change.entity is Entity.THREAD:
                continue
            entity = Entity(change.entity)
            opened = self._span_for(entity, change.id)
            opened.span.add_event("runflow.state_change", {
                "runflow.entity": entity.value, "runflow.id": change.id,
                "runflow.event": change.event, "runflow.event.index": change.index,
                "runflow.state.from": change.source, "runflow.state.to": change.dest,
            })
            if change.dest not in _TERMINAL[entity]:
                continue
            if change.entity is Entity.RUN and self.flow.ending is None:
                self._run_over = change.dest  # a stream is open: end with it (done, ...)
            else:
                self._close(opened, change.dest)

    def _violated(self, violation: Violation) -> None:
        self._drain()
        attrs: dict[str, AttrValue] = {
            "runflow.violation.code": violation.code.value,
            "runflow.violation.severity": violation.severity,
            "runflow.violation.index": violation.index,
            "runflow.violation.message": violation.message,
        }
        if violation.event:
            attrs["runflow.event"] = violation.event
        if violation.entity:
            attrs["runflow.violation.entity"] = str(violation.entity)
        label = str(violation.entity) if violation.entity is not None else None
        target = self._span_named(label) or self._run
        if target is None or target.ended:
            self._pending.append(violation)
            return
        target.span.add_event("runflow.violation", attrs)

    def _ended(self, ending: Ending) -> None:
        self._drain()
        self._streams += 1
        if self._run is None or self._run.ended:
            return
        self._run.span.add_event("runflow.stream.end", {
            "runflow.ending": ending, "runflow.stream": self._streams,
            "runflow.events": self.flow.event_count})
        self._run.span.set_attribute("runflow.ending", ending)
        if self._run_over is not None:
            self._close(self._run, self._run_over)

    # -- spans ---------------------------------------------------------- #
    def _span_named(self, label: str | None) -> _Open | None:
        """The open span of ``"message msg_x"`` / ``"step step_x"`` / ``"run run_x"``."""
        if not label or " " not in label:
            return None
        kind, oid = label.split(" ", 1)
        try:
            return self._spans.get((Entity(kind), oid))
        except ValueError:
            return None

    def _span_for(self, entity: Entity, oid: str) -> _Open:
        opened = self._spans.get((entity, oid))
        if opened is not None:
            return opened
        if entity is Entity.RUN:
            if self._run is not None and not self._run.oid and not self._run.ended:
                self._run.oid = oid  # started for a step or violation seen first
                self._run.span.set_attribute("runflow.run.id", oid)
                self._run.span.set_attribute("gen_ai.response.id", oid)
                self._spans[(Entity.RUN, oid)] = self._run
                return self._run
            return self._start_run(oid)
        parent = self._parent(entity, oid)
        if entity is Entity.STEP:
            step = self.flow.step(oid)
            name, attrs = f"step {step.type}", {"runflow.step.id": oid,
                                                "runflow.step.type": step.type}
        else:
            message = self.flow.message(oid)
            name, attrs = f"message {message.role}", {"runflow.message.id": oid,
                                                      "runflow.message.role": message.role}
        span = self.tracer.start_span(name, context=trace.set_span_in_context(parent),
                                      attributes=attrs)
        opened = self._spans[(entity, oid)] = _Open(span, entity, oid)
        return opened

    def _parent(self, entity: Entity, oid: str) -> Span:
        run = self._run if self._run is not None else self._start_run(self.flow.run_id or "")
        if entity is Entity.MESSAGE:
            for (kind, step_id), opened in self._spans.items():
                if kind is Entity.STEP and _creates(self.flow.step(step_id), oid):
                    return opened.span
        return run.span

    def _start_run(self, oid: str) -> _Open:
        run = self.flow.run
        attrs: dict[str, AttrValue] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.system": self.system,
            "gen_ai.provider.name": self.system,
        }
        if oid:
            attrs["gen_ai.response.id"] = oid
            attrs["runflow.run.id"] = oid
        if run is not None:
            attrs["gen_ai.agent.id"] = run.assistant_id
            attrs["gen_ai.conversation.id"] = run.thread_id
            attrs["gen_ai.request.model"] = run.model
        agent = run.assistant_id if run is not None else "run"
        span = self.tracer.start_span(f"invoke_agent {agent}", attributes=attrs)
        self._run = _Open(span, Entity.RUN, oid)
        if oid:
            self._spans[(Entity.RUN, oid)] = self._run
        pending, self._pending = self._pending, []
        for violation in pending:
            self._violated(violation)
        return self._run

    def _close(self, opened: _Open, state: str) -> None:
        span = opened.span
        if opened.entity is Entity.RUN:
            self._finish_run(span, self.flow.run, state)
        elif opened.entity is Entity.STEP:
            _finish_step(span, self.flow.step(opened.oid), state)
        else:
            _finish_message(span, self.flow.message(opened.oid), state)
        opened.end()
        del self._spans[(opened.entity, opened.oid)]

    def _finish_run(self, span: Span, run: Run | None, state: str) -> None:
        span.set_attribute("runflow.run.status", state)
        span.set_attribute("gen_ai.response.finish_reasons", [state])
        span.set_attribute("runflow.violations", len(self.flow.violations))
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

    def finish(self) -> None:
        """End the spans still open (a run that never reached a terminal state, e.g.
        a cut stream that was not recovered), marking them as errors."""
        self._drain()
        if self._run is None and self._pending:
            self._start_run(self.flow.run_id or "")
        for opened in sorted(self._spans.values(), key=lambda o: o.entity is Entity.RUN):
            state = _state(self.flow, opened)
            opened.span.set_attribute(f"runflow.{opened.entity.value}.status", state)
            if opened.entity is Entity.RUN:
                opened.span.set_attribute("runflow.violations", len(self.flow.violations))
            opened.span.set_status(Status(StatusCode.ERROR, f"unfinished: still {state}"))
            opened.end()
        self._spans.clear()
        if self._run is not None:  # a run span that never learnt its run
            self._run.end()


def _state(flow: RunFlow, opened: _Open) -> str:
    if opened.entity is Entity.RUN:
        return flow.run_status
    if opened.entity is Entity.STEP:
        return flow.step_state(opened.oid)
    return flow.message_state(opened.oid)


def _creates(step: RunStep, message_id: str) -> bool:
    details = step.step_details
    return details.type == "message_creation" and (
        details.message_creation.message_id == message_id)


def _tool_names(step: RunStep) -> tuple[list[str], list[str], list[str]]:
    """(names, types, ids) of a tool_calls step's calls."""
    details = step.step_details
    if details.type != "tool_calls":
        return [], [], []
    names = [c.function.name if c.type == "function" else c.type for c in details.tool_calls]
    types = ["function" if c.type == "function" else "extension" for c in details.tool_calls]
    return names, types, [c.id for c in details.tool_calls]


def _finish_step(span: Span, step: RunStep, state: str) -> None:
    span.set_attribute("runflow.step.status", state)
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


def _finish_message(span: Span, message: Message, state: str) -> None:
    span.set_attribute("runflow.message.status", state)
    span.set_attribute("runflow.message.parts", len(message.content))
    if message.incomplete_details is not None:
        span.set_attribute("runflow.message.incomplete_reason",
                           message.incomplete_details.reason)


# --------------------------------------------------------------------------- #
# reading spans back (tests, README)
# --------------------------------------------------------------------------- #
def _event_word(event: Any) -> str:
    attrs = event.attributes or {}
    if event.name == "runflow.state_change":
        recovered = " (recovered)" if attrs.get("runflow.event") == "recovered" else ""
        return f"{attrs.get('runflow.state.to')}{recovered}"
    if event.name == "runflow.stream.end":
        return f"stream.end {attrs.get('runflow.ending')}"
    if event.name == "runflow.violation":
        code, index = attrs.get("runflow.violation.code"), attrs.get("runflow.violation.index")
        return f"violation {code} #{index}"
    return str(event.name)


def _span_line(span: Any) -> str:
    attrs = span.attributes or {}
    words = [span.name]
    oid = next((attrs[k] for k in ("runflow.run.id", "runflow.step.id", "runflow.message.id")
                if k in attrs), None)
    status = next((attrs[k] for k in ("runflow.run.status", "runflow.step.status",
                                      "runflow.message.status") if k in attrs), None)
    if oid or status:
        words.append(" ".join(str(w) for w in (oid, status) if w))
    if "runflow.tool.names" in attrs:
        words.append("tools " + ", ".join(attrs["runflow.tool.names"]))
    if "gen_ai.usage.input_tokens" in attrs:
        words.append(f"tokens {attrs['gen_ai.usage.input_tokens']} in / "
                     f"{attrs['gen_ai.usage.output_tokens']} out")
    if span.status.status_code is StatusCode.ERROR:
        words.append(f"ERROR {span.status.description}")
    return "  ".join(words)


def _wrap(items: list[str], head: str, width: int = 88) -> list[str]:
    """``head`` + the items joined by commas, wrapped between items."""
    lines, line = [], head
    for k, item in enumerate(items):
        piece = item + ("," if k < len(items) - 1 else "")
        if line.strip() and line != head and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = " " * len(head) + piece
        else:
            line = line + ("" if line == head else " ") + piece
    return [*lines, line]


def format_span_tree(spans: Sequence[Any]) -> str:
    """Finished SDK spans (``InMemorySpanExporter().get_finished_spans()``) as an
    indented tree: one line per span (name, id, status, tools, usage, error), then
    its events in order (states, stream ends, violations), wrapped at 88 columns."""
    ids = {s.context.span_id for s in spans}
    children: dict[int | None, list[Any]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in sorted(children.get(parent, []), key=lambda s: s.start_time or 0):
            pad = "  " * depth
            lines.append(pad + _span_line(span))
            if span.events:
                lines.extend(_wrap([_event_word(e) for e in span.events], f"{pad}  events: "))
            walk(span.context.span_id, depth + 1)

    walk(None, 0)
    return "\n".join(lines) + "\n"
