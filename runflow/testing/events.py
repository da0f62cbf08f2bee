"""Builders of small synthetic Assistants events in the shape of the real captures,
for tests and the hostile-input catalogue: one run, its steps and messages."""

from __future__ import annotations

from typing import Any

__all__ = ["RUN", "THREAD", "Event", "message_delta", "message_event", "run_event",
           "step_delta", "step_event"]

Event = dict[str, Any]
RUN, THREAD = "run_hostile", "thread_hostile"


def run_event(name: str, status: str, **extra: Any) -> Event:
    return {"event": name, "data": {"id": RUN, "object": "thread.run", "thread_id": THREAD,
                                    "status": status, **extra}}


def step_event(name: str, sid: str, status: str, *, mid: str | None = None,
               calls: list[Any] | None = None) -> Event:
    """A message_creation step naming ``mid``, or a tool_calls step with ``calls``."""
    if mid is not None:
        details: dict[str, Any] = {"type": "message_creation",
                                   "message_creation": {"message_id": mid}}
    else:
        details = {"type": "tool_calls", "tool_calls": calls or []}
    return {"event": name, "data": {"id": sid, "object": "thread.run.step", "run_id": RUN,
                                    "thread_id": THREAD, "status": status,
                                    "step_details": details}}


def message_event(name: str, mid: str, status: str, content: list[Any] | None = None) -> Event:
    return {"event": name, "data": {"id": mid, "object": "thread.message", "run_id": RUN,
                                    "thread_id": THREAD, "role": "assistant", "status": status,
                                    "content": content or []}}


def message_delta(mid: str, part: dict[str, Any]) -> Event:
    return {"event": "thread.message.delta",
            "data": {"id": mid, "object": "thread.message.delta",
                     "delta": {"content": [part]}}}


def step_delta(sid: str, call: dict[str, Any]) -> Event:
    return {"event": "thread.run.step.delta",
            "data": {"id": sid, "object": "thread.run.step.delta",
                     "delta": {"step_details": {"type": "tool_calls", "tool_calls": [call]}}}}
