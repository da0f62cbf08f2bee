"""The Responses stream's spans: the response (``chat <model>``, the GenAI
conventions' name for an inference span) and one child span per output item
(``message``, ``reasoning``, ``function_call <name>``...). Content parts and
summary parts get no span: they are the text of their item, and a violation about
one goes on its item's span.

Attributes: ``gen_ai.operation.name`` ``chat``, ``gen_ai.system`` /
``gen_ai.provider.name``, ``gen_ai.response.id``, ``gen_ai.response.model``,
``gen_ai.response.finish_reasons``, ``gen_ai.usage.input_tokens`` /
``output_tokens`` (left out when the response has no usage, or a usage that is not
numbers), ``error.type`` for a failed, cancelled or incomplete response; on a tool
call item ``gen_ai.tool.name``, ``gen_ai.tool.call.id`` and ``gen_ai.tool.type``.
Every value is read from what the server sent, so each is checked for its type
and left out when it is not that type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from opentelemetry.trace import Span, Status, StatusCode

from runflow.adapters.otel.core import Attrs, Key, SpanMap, as_int, as_str
from runflow.engine.violations import EntityRef
from runflow.protocols.responses.definition import ITEM_KINDS

if TYPE_CHECKING:
    from runflow import ResponseFlow

__all__ = ["RESPONSE_SPANS", "ResponseSpans"]

ROOT = "response"
_FAILED = {"failed", "cancelled", "incomplete"}
TOOL_TYPES = {"function_call": "function", "custom_tool_call": "function",
              "mcp_call": "extension"}
"""Items that call a named tool, and the GenAI ``gen_ai.tool.type`` of that tool
(``function``: run by the caller; ``extension``: run by the provider's side)."""


class ResponseSpans(SpanMap):
    """See the module docstring."""

    labels: ClassVar[Mapping[str, str]] = {
        ROOT: "response", **{kind: "item" for kind in ITEM_KINDS}}

    def register(self, flow: ResponseFlow, kind: str, state: str, callback: Any) -> None:
        if kind == ROOT:
            flow.on_response(state)(callback)  # type: ignore[arg-type]
        else:
            flow.on_item(kind, state)(callback)  # type: ignore[arg-type]

    def root_span(self, flow: ResponseFlow, oid: str, system: str) -> tuple[str, Attrs]:
        attrs: Attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": system,
            "gen_ai.provider.name": system,
        }
        if oid:
            attrs.update(self.root_named(oid))
        response = flow.response
        model = as_str(getattr(response, "model", None))
        if model is not None:
            attrs["gen_ai.response.model"] = model
        return (f"chat {model}" if model else "chat"), attrs

    def root_named(self, oid: str) -> Attrs:
        return {"gen_ai.response.id": oid, "runflow.response.id": oid}

    def child_span(self, flow: ResponseFlow, kind: str, oid: str) -> tuple[str, Attrs]:
        attrs: Attrs = {"runflow.item.id": oid, "runflow.item.type": kind}
        tool = _tool_attrs(kind, _item(flow, oid))
        attrs.update(tool)
        name = tool.get("gen_ai.tool.name")
        return (f"{kind} {name}" if name else kind), attrs

    def owner(self, ref: EntityRef, open_keys: Sequence[Key]) -> Key | None:
        """A part's id is its item's id, ``:``, its index (``msg_1:0``)."""
        item_id = ref.id.rpartition(":")[0]
        return next((key for key in open_keys if key[1] == item_id and key[0] != ROOT), None)

    def finish(self, flow: ResponseFlow, span: Span, kind: str, oid: str, state: str,
               root: bool) -> None:
        if root:
            _finish_response(span, flow.response, state)
            return
        span.set_attributes(_tool_attrs(kind, _item(flow, oid)))  # the final name and call id
        if state == "failed":
            span.set_status(Status(StatusCode.ERROR, f"{kind} {state}"))


RESPONSE_SPANS = ResponseSpans()


def _item(flow: ResponseFlow, oid: str) -> Any:
    try:
        return flow.item(oid)
    except KeyError:
        return None


def _tool_attrs(kind: str, item: Any) -> Attrs:
    tool_type = TOOL_TYPES.get(kind)
    name = as_str(getattr(item, "name", None))
    if tool_type is None or name is None:
        return {}
    attrs: Attrs = {"gen_ai.tool.name": name, "gen_ai.tool.type": tool_type}
    call_id = as_str(getattr(item, "call_id", None))
    if call_id is not None:
        attrs["gen_ai.tool.call.id"] = call_id
    return attrs


def _finish_response(span: Span, response: Any, state: str) -> None:
    span.set_attribute("gen_ai.response.finish_reasons", [state])
    model = as_str(getattr(response, "model", None))
    if model is not None:
        span.set_attribute("gen_ai.response.model", model)
    usage = getattr(response, "usage", None)
    tokens = {"gen_ai.usage.input_tokens": as_int(getattr(usage, "input_tokens", None)),
              "gen_ai.usage.output_tokens": as_int(getattr(usage, "output_tokens", None))}
    if None not in tokens.values():
        span.set_attributes(tokens)
    if state not in _FAILED:
        return
    error = getattr(response, "error", None)
    details = getattr(response, "incomplete_details", None)
    reason = (as_str(getattr(error, "code", None)) or as_str(getattr(details, "reason", None))
              or state)
    span.set_attribute("error.type", reason)
    span.set_status(Status(StatusCode.ERROR, f"response {state}"))
