"""The tool runner of the drive loops: call the tools a model asked for, turn each
result into the output string that is sent back.

Protocol-neutral: a :class:`ToolCall` is the id, name and JSON arguments of one
call, whatever the wire called them (an Assistants ``tool_call.id``, a Responses
``call_id``); each loop builds its own output items from the strings returned.

A result is sent as is when it is a ``str``, decoded as UTF-8 when ``bytes``, and
written as JSON otherwise (objects JSON cannot hold via ``str()``). A tool that
raises, times out (async only: ``timeout``), or whose result cannot be sent (a
circular structure, a ``__str__`` that raises, a lone surrogate, bytes that are
not UTF-8, NaN) follows the policy: ``"submit_error"`` sends ``{"error": ...}``
as its output, ``"cancel"`` answers nothing (the loop cancels), ``"raise"``
raises :class:`ToolError`. A call of a tool not given raises
:class:`UnknownTool` before any tool runs.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from runflow.adapters.drive.errors import ToolError, UnknownTool, describe
from runflow.engine.jsonparse import JSONError, parse_json

__all__ = ["Tool", "ToolCall", "ToolPolicy", "ToolRunner", "output_text"]

Tool = Callable[..., Any]
ToolPolicy = Literal["submit_error", "cancel", "raise"]


@dataclass(frozen=True)
class ToolCall:
    """One call a model asked for."""

    call_id: str
    name: str
    arguments: str | None
    """The JSON arguments as sent (a tool gets them as keyword arguments; text that
    is not a JSON object is passed as the one positional argument)."""


class BadResult(Exception):
    """A tool's result that cannot be submitted as an output string."""


def output_text(result: Any) -> str:
    """The output string for a tool's result, or :class:`BadResult` saying why
    there is none."""
    if isinstance(result, str):
        text = str.__str__(result)  # a str subclass's own __str__ is not called
    elif isinstance(result, bytes | bytearray):
        try:
            text = bytes(result).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadResult(f"returned bytes that are not UTF-8 ({exc.reason} at byte "
                            f"{exc.start})") from None
    else:
        try:
            text = json.dumps(result, ensure_ascii=False, allow_nan=False, default=str)
        except Exception as exc:  # circular, NaN, a __str__ that raises, too deep...
            raise BadResult(f"returned a {type(result).__name__} that cannot be written "
                            f"as JSON ({describe(exc)})") from exc
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadResult(f"returned text with a lone surrogate at position {exc.start}, "
                        "which is not valid UTF-8") from None
    return text


def _invoke(tool: Tool, args: Any) -> Any:
    return tool(**args) if isinstance(args, dict) else tool(args)


@dataclass(frozen=True)
class ToolRunner:
    """The tools given to a drive loop, how their errors are answered, and (async)
    how long each may run."""

    tools: Mapping[str, Tool]
    on_error: ToolPolicy = "submit_error"
    timeout: float | None = None
    """Seconds each tool may run in :meth:`arun` (a sync call cannot be stopped)."""

    def _lookup(self, call: ToolCall) -> tuple[Tool, Any]:
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            raise UnknownTool(f"the model asked for tool {call.name!r} (call {call.call_id}); "
                              f"tools given: {known}")
        try:
            args = parse_json(call.arguments or "{}")
        except JSONError:
            args = call.arguments
        return tool, args

    def _output(self, call: ToolCall, result: Any) -> str | None:
        """The output for ``result`` -- a value, or the exception the tool raised --
        under the policy (None = cancel)."""
        if not isinstance(result, BaseException):
            try:
                return output_text(result)
            except BadResult as exc:
                result = exc
        bad = isinstance(result, BadResult)
        why = str(result) if bad else describe(result)
        if self.on_error == "raise":
            verb = "returned a result that cannot be submitted" if bad else "failed"
            raise ToolError(f"tool {call.name!r} (call {call.call_id}) {verb}: {why}"
                            ) from result
        if self.on_error == "cancel":
            return None
        return json.dumps({"error": why}, ensure_ascii=False)

    def run(self, calls: Sequence[ToolCall]) -> list[str] | None:
        """Call the tools one after the other; their outputs in the order of
        ``calls``, or None when the policy is ``"cancel"`` and one failed."""
        looked_up = [(self._lookup(c), c) for c in calls]  # unknown tools fail before any call
        outputs: list[str] = []
        for (tool, args), call in looked_up:
            try:
                result = _invoke(tool, args)
            except Exception as exc:
                result = exc
            output = self._output(call, result)
            if output is None:
                return None
            outputs.append(output)
        return outputs

    async def arun(self, calls: Sequence[ToolCall]) -> list[str] | None:
        """:meth:`run`, the tools concurrently (sync ones in threads, ``async def``
        ones awaited), each under :attr:`timeout` seconds."""
        looked_up = [(self._lookup(c), c) for c in calls]

        async def one(tool: Tool, args: Any) -> Any:
            if inspect.iscoroutinefunction(tool):
                coro: Awaitable[Any] = _invoke(tool, args)
            else:
                coro = asyncio.to_thread(_invoke, tool, args)
            return await asyncio.wait_for(coro, self.timeout)

        results = await asyncio.gather(
            *(one(tool, args) for (tool, args), _ in looked_up), return_exceptions=True
        )
        outputs: list[str] = []
        for result, (_, call) in zip(results, looked_up, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            output = self._output(call, result)
            if output is None:
                return None
            outputs.append(output)
        return outputs
