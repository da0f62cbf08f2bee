"""``--tool-output NAME=TEXT`` for the Responses API: the function tools the model is
offered and the ``function_call_output`` items that answer its calls.

Shared by ``runflow watch`` and ``runflow record`` (a helper of common.py's
:func:`~runflow.cli.common.tool_output`, kept here while common.py is elsewhere
in hand). The tools are the answered names, each taking any arguments: the
answer does not depend on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["function_tools", "outputs_for"]


def function_tools(names: Iterable[str], by: str) -> list[dict[str, Any]]:
    """A ``responses.create`` ``tools=`` entry per name (``by``: who answers it)."""
    return [{"type": "function", "name": name, "strict": False,
             "description": f"{name} (answered by {by} --tool-output)",
             "parameters": {"type": "object", "properties": {},
                            "additionalProperties": True}}
            for name in dict.fromkeys(names)]


def outputs_for(calls: Iterable[Any], answers: Mapping[str, str]) -> tuple[
        list[dict[str, Any]], list[str]]:
    """The ``function_call_output`` items answering ``calls`` (the SDK's function call
    items) by name, and the names not answered."""
    items: list[dict[str, Any]] = []
    missing: list[str] = []
    for call in calls:
        if call.name in answers:
            items.append({"type": "function_call_output", "call_id": call.call_id,
                          "output": answers[call.name]})
        elif call.name not in missing:
            missing.append(call.name)
    return items, missing
