"""Finished spans read back as an indented text tree (tests, README)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import StatusCode

__all__ = ["format_span_tree"]


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


def _own(attrs: Any, suffix: str) -> Any:
    """The value of the span's ``runflow.<word>.<suffix>`` (``run.id``, ``item.status``)."""
    return next((v for k, v in attrs.items() if k.startswith("runflow.")
                 and k.endswith(f".{suffix}") and k.count(".") == 2), None)


def _span_line(span: Any) -> str:
    attrs = span.attributes or {}
    words = [span.name]
    oid, status = _own(attrs, "id"), _own(attrs, "status")
    if oid or status:
        words.append(" ".join(str(w) for w in (oid, status) if w))
    if "runflow.tool.names" in attrs:
        words.append("tools " + ", ".join(attrs["runflow.tool.names"]))
    if "gen_ai.usage.input_tokens" in attrs:
        words.append(f"tokens {attrs['gen_ai.usage.input_tokens']} in / "
                     f"{attrs.get('gen_ai.usage.output_tokens')} out")
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
