"""Resource limits for remote input.

A stream comes from a server runflow does not control. Each limit has a safe
default; reaching it gives one ``limit_exceeded`` violation for the entity, the
offending entity stops growing, and the flow goes on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    max_event_bytes: int = 16 * 1024 * 1024
    """Bytes of one SSE event; also the most the SSE decoder ever buffers."""
    max_message_chars: int = 8 * 1024 * 1024
    """Characters one message may grow by through deltas: text, refusals,
    annotations, image parts (every string kept, by length). Per message, whatever
    its parts: a Responses message's (or reasoning item's) parts count together."""
    max_tool_chars: int = 8 * 1024 * 1024
    """Characters one tool call may grow by through deltas: for Assistants a
    tool_calls step's arguments, code input, names, outputs and logs; for Responses a
    call item's arguments, input, code, patch diff or shell commands (every string
    kept, by length)."""
    max_index: int = 1024
    """Exclusive bound on content part, tool call, output and annotation indices."""
    max_entities: int = 10_000
    """Steps plus messages in one flow."""
    max_repeated_violations: int = 100
    """Violations stored per (code, entity kind); further ones are only counted in
    ``flow.suppressed``, so a flood of bad events cannot grow memory without bound."""
    max_history: int = 100_000
    """State changes kept in ``flow.history``; later ones are counted in
    ``flow.history_dropped``."""
    max_message_text: int = 1000
    """Characters of a violation's message and event name; longer ones are cut and
    say how long they were."""

    def to_dict(self) -> dict[str, int]:
        return asdict(self)
