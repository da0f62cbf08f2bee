"""The hostile table's data model (a case, its outcome, its memory bound) and the
small synthetic runs the cases are built from (:mod:`runflow.testing.hostile`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runflow import RunFlow
from runflow.testing.events import (
    Event,
    message_event,
    run_event,
    step_event,
)

MiB = 1024 * 1024
KiB = 1024

WHY: dict[str, str] = {
    "types": "Wrong types inside valid JSON",
    "nesting": "Deeply nested JSON",
    "memory": "Memory that `Limits` does not count",
    "sse": "The SSE decoder",
    "encoding": "Output and encoding",
    "cli": "CLI tracebacks",
    "callbacks": "Callbacks can corrupt the flow",
    "ids": "Ids colliding across kinds",
    "checkpoints": "Checkpoints",
    "orchestrator": "The orchestrator",
    "layers": "`check`, `conform` and `watch` around the flow",
    "work": "Work that grows faster than the input",
}
"""The bullets under "Why" in issue 12 (and issue 24's layers around the flow, and the
work a rule does per event), by key."""


# --------------------------------------------------------------------------- #
# the data model
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Bound:
    """A memory bound for a case: ``limit`` bytes, said as ``text``."""

    limit: int
    text: str


@dataclass(frozen=True)
class Outcome:
    """What runflow answered, rendered deterministically from the flow."""

    answer: str


@dataclass(frozen=True)
class Case:
    name: str
    why: str
    """A key of :data:`WHY`."""
    input: str
    """The hostile input, in a few words (Markdown)."""
    expect: str
    """The answer runflow must give (compared with :attr:`Outcome.answer`)."""
    feed: Callable[[], Outcome]
    bound: Bound | None = None


@dataclass(frozen=True)
class Result:
    case: Case
    outcome: Outcome
    peak: int | None
    """Peak traced memory in bytes, for cases with a bound."""

    @property
    def answered(self) -> bool:
        return self.outcome.answer == self.case.expect

    @property
    def bounded(self) -> bool:
        bound = self.case.bound
        return bound is None or (self.peak is not None and self.peak < bound.limit)

    @property
    def ok(self) -> bool:
        return self.answered and self.bounded


@dataclass(frozen=True)
class Proof:
    """A row proved by a test elsewhere (processes, servers)."""

    why: str
    name: str
    input: str
    answer: str
    test: str
    """``tests/FILE.py::test_function``."""


# --------------------------------------------------------------------------- #
# stream builders: small synthetic runs in the shape of the real captures
# --------------------------------------------------------------------------- #
PROLOGUE: list[Event] = [run_event("thread.run.created", "queued"),
                         run_event("thread.run.queued", "queued"),
                         run_event("thread.run.in_progress", "in_progress")]
MID, SID, MSTEP = "msg_hostile", "step_hostile", "step_hostile_message"


def with_message() -> list[Event]:
    """The prologue, a message_creation step and its message (5 events)."""
    return [*PROLOGUE, step_event("thread.run.step.created", MSTEP, "in_progress", mid=MID),
            message_event("thread.message.created", MID, "in_progress")]


def with_tool_step() -> list[Event]:
    """The prologue and a tool_calls step (4 events)."""
    return [*PROLOGUE, step_event("thread.run.step.created", SID, "in_progress")]


def sse(event: Event) -> bytes:
    """One SSE block as a server sends it."""
    return (f"event: {event['event']}\ndata: ".encode()
            + json.dumps(event["data"], ensure_ascii=False).encode("utf-8", "surrogatepass")
            + b"\n\n")


def fed(events: list[Event], flow: RunFlow | None = None, **options: Any) -> RunFlow:
    flow = flow if flow is not None else RunFlow(**options)
    for event in events:
        flow.feed(event)
    return flow


def said(flow: RunFlow) -> str:
    """The flow's violations as ``code @ index``, or "no violation"."""
    if not flow.violations:
        return "no violation"
    return ", ".join(f"`{v.code.value}` @ {v.index}" for v in flow.violations)


