"""Function tool definitions for the Responses API, read from Python callables."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from runflow.adapters.drive.tools import Tool

__all__ = ["function_tools"]

JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean",
              list: "array", dict: "object"}
"""The JSON Schema type of a parameter annotated with one of these."""


def function_tools(tools: Mapping[str, Tool]) -> list[dict[str, Any]]:
    """Function tool definitions for ``tools``, read from their signatures: one
    property per parameter (typed from ``str``/``int``/``float``/``bool``/``list``/
    ``dict`` annotations), required when it has no default, and the docstring's
    first line as the description. Pass ``tool_params=`` for anything richer."""
    out = []
    for name, tool in tools.items():
        try:
            parameters = inspect.signature(tool, eval_str=True).parameters.values()
        except (TypeError, ValueError, NameError):
            parameters = inspect.signature(tool).parameters.values()
        properties: dict[str, Any] = {}
        required = []
        for p in parameters:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            kind = JSON_TYPES.get(p.annotation) if isinstance(p.annotation, type) else None
            properties[p.name] = {"type": kind} if kind else {}
            if p.default is p.empty:
                required.append(p.name)
        definition: dict[str, Any] = {
            "type": "function", "name": name, "strict": False,
            "parameters": {"type": "object", "properties": properties, "required": required}}
        doc = inspect.getdoc(tool)
        if doc:
            definition["description"] = doc.splitlines()[0]
        out.append(definition)
    return out

