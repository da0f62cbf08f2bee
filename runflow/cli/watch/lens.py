"""What a watch shows of each protocol: a :class:`Lens` per grammar.

The views (:mod:`.views`, :mod:`.live`) and the demo are protocol-blind; a lens
tells them, for the flow of its protocol, where to register (every entity's
every state, the text as it streams), which tool calls an entered state asks
for, which text a finished entity holds, the rows of the live table and the
one-line outcome. The kinds and states come from the flow's definition
(``flow.protocol.tables``); only the read API a protocol's flow offers differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from runflow import ResponseFlow, RunFlow
from runflow.engine.state import RECOVERED, StateChange

if TYPE_CHECKING:
    from runflow.engine.flow import Flow

__all__ = ["ASSISTANTS_LENS", "LENSES", "RESPONSES_LENS", "Call", "Lens", "lens_for",
           "on_every_state"]

Entered = Callable[[str, str, Any], None]
"""``(kind, state, snapshot)``: an entity entered a state."""


@dataclass(frozen=True)
class Call:
    """A function call the flow asks the caller to answer."""

    call_id: str
    name: str
    arguments: str


def on_every_state(flow: Flow, cb: Entered) -> None:
    """Register ``cb`` for every state of every entity kind of ``flow``'s protocol."""
    protocol = flow.protocol
    for kind, table in protocol.tables.items():
        for state in table.states:
            if state != table.initial:
                _register(flow, kind, state)(lambda obj, k=kind, s=state: cb(k, s, obj))


def _register(flow: Flow, kind: str, state: str) -> Callable[[Any], Any]:
    """The flow's own typed registration for ``kind`` entering ``state``."""
    if isinstance(flow, ResponseFlow):
        from runflow.protocols.responses.definition import ITEM_KINDS

        if kind == flow.protocol.root:
            return flow.on_response(cast(Any, state))
        if kind in ITEM_KINDS:
            return flow.on_item(cast(Any, kind), cast(Any, state))
        return flow.on_part(cast(Any, kind), cast(Any, state))
    run_flow = cast(RunFlow, flow)
    registrars: dict[str, Callable[[Any], Callable[[Any], Any]]] = {
        "run": run_flow.on_run, "step": run_flow.on_step, "message": run_flow.on_message,
        "thread": run_flow.on_thread}
    return registrars[kind](state)


class Lens:
    """How one protocol's flow is shown; subclassed per protocol."""

    protocol: str
    noun: str
    """What the flow follows, as the summary names it: ``run``, ``response``."""

    def new_flow(self, profile: Any = None) -> Flow:
        from runflow.adapters.recording import new_flow

        return new_flow(self.protocol, profile=profile)

    def on_text(self, flow: Flow, cb: Callable[[str], None]) -> None:
        """Call ``cb(fragment)`` for each fragment of answer text as it streams."""
        raise NotImplementedError

    def calls_on_enter(self, flow: Flow, kind: str, state: str, obj: Any) -> list[Call]:
        """The function calls that entering ``state`` asks the caller to answer."""
        return []

    def headline(self, flow: Flow, kind: str) -> bool:
        """Whether a short account (the demo) shows the states of ``kind``."""
        return True

    def finished_text(self, flow: Flow, change: StateChange) -> str | None:
        """The answer text an entity holds once ``change`` finished it, else None."""
        return None

    def rows(self, flow: Flow) -> list[tuple[str, str, str, str]]:
        """``(kind, id, state, detail)`` for the live table, root first."""
        raise NotImplementedError

    def outcome(self, flows: Sequence[Flow], streams: int) -> str:
        """One line: where the watched flows ended."""
        if not flows:
            return f"no {self.noun} seen"
        last = flows[-1]
        recovered = sum(1 for f in flows for c in f.history if c.event == RECOVERED)
        violations = sum(len(f.violations) for f in flows)
        return (f"{self.noun} {last.root_id or '-'} {last.root_state}: "
                f"{sum(f.event_count for f in flows)} events, {self._count(flows)}"
                f"{streams} stream(s), {recovered} change(s) recovered over REST, "
                f"{violations} violation(s)")

    def _count(self, flows: Sequence[Flow]) -> str:
        return ""


class AssistantsLens(Lens):
    protocol = "assistants"
    noun = "run"

    def on_text(self, flow: Flow, cb: Callable[[str], None]) -> None:
        cast(RunFlow, flow).on_text("delta")(lambda delta, _snapshot: cb(delta.value or ""))

    def calls_on_enter(self, flow: Flow, kind: str, state: str, obj: Any) -> list[Call]:
        if kind != flow.protocol.root or state != "requires_action":
            return []
        return [Call(c.id, c.function.name, c.function.arguments)
                for c in cast(RunFlow, flow).pending_tool_calls]

    def headline(self, flow: Flow, kind: str) -> bool:
        return kind != "thread"  # the scope, created once

    def finished_text(self, flow: Flow, change: StateChange) -> str | None:
        tables = flow.protocol.tables
        if change.entity != "message" or change.dest not in tables["message"].terminal:
            return None
        message = cast(RunFlow, flow).message(change.id)
        text = "".join(p.text.value for p in message.content if p.type == "text")
        return text if text and message.role == "assistant" else None

    def rows(self, flow: Flow) -> list[tuple[str, str, str, str]]:
        run_flow = cast(RunFlow, flow)
        rows: list[tuple[str, str, str, str]] = []
        if run_flow.run_id is not None:
            rows.append(("run", run_flow.run_id, run_flow.run_status, ""))
        for step in run_flow.steps:
            rows.append(("step", step.id, run_flow.step_state(step.id), step.type))
        for message in run_flow.messages:
            rows.append(("message", message.id, run_flow.message_state(message.id),
                         message.role))
        return rows


class ResponsesLens(Lens):
    protocol = "responses"
    noun = "response"
    SHOWN_TEXT = frozenset({"output_text", "refusal"})
    """The value kinds streamed as the answer (reasoning is not the answer)."""

    def on_text(self, flow: Flow, cb: Callable[[str], None]) -> None:
        shown = self.SHOWN_TEXT
        cast(ResponseFlow, flow).on_text_delta(
            lambda delta: cb(delta.delta) if delta.kind in shown else None)

    def calls_on_enter(self, flow: Flow, kind: str, state: str, obj: Any) -> list[Call]:
        if kind != "function_call" or state != "completed":  # as flow.function_calls
            return []
        return [Call(str(getattr(obj, "call_id", "")), str(getattr(obj, "name", "")),
                     str(getattr(obj, "arguments", "")))]

    def headline(self, flow: Flow, kind: str) -> bool:
        from runflow.protocols.responses.definition import ITEM_KINDS

        return kind == flow.protocol.root or kind in ITEM_KINDS  # not the parts

    def finished_text(self, flow: Flow, change: StateChange) -> str | None:
        tables = flow.protocol.tables
        if change.entity != "message" or change.dest not in tables["message"].terminal:
            return None
        try:
            item = cast(ResponseFlow, flow).item(change.id)
        except KeyError:
            return None
        content = getattr(item, "content", None)
        parts = content if isinstance(content, list) else []
        text = "".join(str(getattr(p, "text", "")) for p in parts
                       if getattr(p, "type", None) == "output_text")
        return text or None

    def rows(self, flow: Flow) -> list[tuple[str, str, str, str]]:
        response_flow = cast(ResponseFlow, flow)
        rows: list[tuple[str, str, str, str]] = []
        if response_flow.response_id is not None:
            rows.append(("response", response_flow.response_id, response_flow.status, ""))
        for kind, item_id, state in response_flow.item_states:
            rows.append(("item", item_id, state, kind))
        return rows

    def _count(self, flows: Sequence[Flow]) -> str:
        return f"{len(flows)} response(s), "


ASSISTANTS_LENS = AssistantsLens()
RESPONSES_LENS = ResponsesLens()
LENSES: dict[str, Lens] = {lens.protocol: lens for lens in (ASSISTANTS_LENS, RESPONSES_LENS)}


def lens_for(protocol: str) -> Lens:
    return LENSES[protocol]
