"""Cross-entity rules checked after an accepted status event.

The table (:mod:`runflow.protocol`) decides whether an event is allowed; these
rules look across entities once it was: what a run that ends leaves open, whether
``requires_action`` lists exactly the calls that were streamed, and whether the
snapshot rebuilt from deltas matches the server's final object. They report; they
never reject.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .content import JSON
from .divergence import MISSING, diff_message, diff_step, shorten
from .entities import Tracker
from .objects import dig
from .protocol import PROTOCOL, Entity
from .violations import Code, Severity

if TYPE_CHECKING:
    from .flow import RunFlow

__all__ = ["after_run", "after_step", "check_divergence", "check_required_action"]

_RUN_TERMINAL = PROTOCOL.tables[Entity.RUN].terminal
_STEP_TERMINAL = PROTOCOL.tables[Entity.STEP].terminal


def after_step(flow: RunFlow, step: Tracker, name: str, index: int) -> None:
    """Steps never overlap, and a message lives inside its message_creation step."""
    if name == "thread.run.step.created":
        for other in flow._steps.values():
            if other is not step and other.state == "in_progress":
                flow._violate(
                    Code.OUT_OF_ORDER, index, name, step.label,
                    f"{step.label} was created while {other.label} is still in_progress; "
                    "steps never overlap",
                )
    elif step.state in _STEP_TERMINAL and step.step_type == "message_creation":
        message_id = dig(step.raw, "step_details", "message_creation", "message_id")
        message = flow._messages.get(message_id) if isinstance(message_id, str) else None
        if message is not None and message.state == "in_progress":
            severity: Severity = "error" if step.state == "completed" else "warning"
            flow._violate(
                Code.CHILDREN_OPEN_AT_TERMINAL, index, name, message.label,
                f"{step.label} ended {step.state!r} while its {message.label} is still "
                "in_progress",
                severity,
            )


def after_run(flow: RunFlow, run: Tracker, name: str, index: int) -> None:
    raw = run.raw
    state = run.state
    if state == "requires_action":
        check_required_action(flow, run, name, index)
    elif state in _RUN_TERMINAL:
        severity: Severity = "error" if state == "completed" else "warning"
        for child in (*flow._steps.values(), *flow._messages.values()):
            if child.state == "in_progress":
                flow._violate(
                    Code.CHILDREN_OPEN_AT_TERMINAL, index, name, child.label,
                    f"the run ended {state!r} while {child.label} is still in_progress",
                    severity,
                )
        if state == "completed" and raw.get("incomplete_details"):
            flow._violate(
                Code.INCOMPLETE_DETAILS_ON_COMPLETED, index, name, run.label,
                f"{name} carries incomplete_details {raw['incomplete_details']!r}",
            )

def check_required_action(flow: RunFlow, run: Tracker, name: str, index: int) -> None:
    listed: dict[str, JSON] = {}
    action = run.raw.get("required_action")
    calls = dig(action, "submit_tool_outputs", "tool_calls")
    for call in calls if isinstance(calls, list) else ():
        if isinstance(call, dict) and isinstance(call.get("id"), str):
            listed[call["id"]] = call
    streamed: dict[str, Any] = {}
    for step in flow._steps.values():
        if step.state == "in_progress" and step.step_type == "tool_calls":
            for c in step.calls:
                if c.type == "function" and c.id:
                    streamed[c.id] = c
    problems = []
    if set(listed) != set(streamed):
        problems.append(
            f"requires_action lists {sorted(listed)} but the open tool_calls steps "
            f"streamed {sorted(streamed)}"
        )
    for cid, call in listed.items():
        fn = call.get("function")
        if not isinstance(fn, dict):
            fn = {}
        ours = streamed.get(cid)
        if ours is not None and fn.get("arguments") != ours.text:
            problems.append(
                f"call {cid} arguments {shorten(fn.get('arguments'))} differ from the "
                f"streamed {shorten(ours.text)}"
            )
        if ours is not None and fn.get("name") != ours.name:
            problems.append(f"call {cid} name {fn.get('name')!r} differs from {ours.name!r}")
        try:
            json.loads(fn.get("arguments") or "")
        except (TypeError, ValueError):
            flow._violate(
                Code.INVALID_TOOL_ARGUMENTS, index, name, f"tool call {cid}",
                f"the arguments of {cid} are not JSON: {shorten(fn.get('arguments'))}",
            )
    if problems:
        flow._violate(Code.TOOL_CALLS_MISMATCH, index, name, run.label, "; ".join(problems))

def check_divergence(flow: RunFlow, tracker: Tracker, obj: JSON, name: str, index: int) -> None:
    if tracker.entity is Entity.MESSAGE:
        diffs = diff_message(tracker.parts, obj)
    else:
        diffs = diff_step(tracker.calls, obj)
    for path, ours, theirs in diffs:
        kept = "the rebuilt value is kept" if theirs == MISSING else "the server's value is kept"
        flow._violate(
            Code.SNAPSHOT_DIVERGENCE, index, name, tracker.label,
            f"{path}: rebuilt from deltas {shorten(ours)} but the server sent "
            f"{shorten(theirs)}; {kept}",
        )

