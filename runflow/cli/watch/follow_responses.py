"""A live Responses API response for ``runflow watch``: created and streamed, or followed.

* ``--model M --input TEXT`` creates a streamed response with the public
  :func:`runflow.drive_response` loop: a cut stream is resumed with
  ``starting_after`` (``--background``) or read over REST until final; function
  calls named with ``--tool-output NAME=TEXT`` are answered with a continuation
  response (``previous_response_id``), which is watched in a flow of its own.
* ``--response ID`` follows a response someone else created: a background one
  is streamed from its start (``retrieve(stream=True)``, resumed after its last
  sequence number when cut); any other is read over REST until it is final.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from runflow.cli import CommandError
from runflow.cli.tool_answers import function_tools
from runflow.cli.watch.api import FAULT_HEADER, api_errors, client_for

if TYPE_CHECKING:
    import openai

    from runflow import ResponseFlow
    from runflow.cli.watch.views import Watcher

__all__ = ["answering", "create_response", "follow_response"]

_RESUMES = 3
"""Streams in a row that end cut before ``--response`` is read over REST instead."""


def answering(outputs: list[tuple[str, str]], watcher: Watcher
              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``--tool-output NAME=TEXT`` as :func:`runflow.drive_response` tools: a callable
    per name that answers TEXT whatever the arguments (noted on the watch), and
    the definitions the model is shown (any arguments accepted)."""
    answers = dict(outputs)

    def tool(name: str, text: str) -> Any:
        def answer(**arguments: Any) -> str:
            watcher.note(f"answered {name} with {text}")
            return text
        return answer

    tools = {name: tool(name, text) for name, text in answers.items()}
    params = function_tools(answers, "runflow watch")
    return tools, params


def create_response(watcher: Watcher, make_flow: Any, args: argparse.Namespace) -> None:
    """Create the response (and its continuations) with :func:`runflow.drive_response`,
    each response's flow made by ``make_flow`` (which attaches it to ``watcher``)."""
    import openai

    from runflow import DriveError, UnknownTool, drive_response

    tools, params = answering(args.tool_output, watcher)
    extra: dict[str, Any] = {}
    if args.fault:
        extra["extra_headers"] = {FAULT_HEADER: args.fault}
    if args.metadata:
        extra["metadata"] = dict(args.metadata)
    if args.background:
        extra["background"] = True
    client = client_for(args)
    with client, api_errors(args.base_url, "following the response"):
        try:
            result = drive_response(
                client, tools=tools, tool_params=params or None, model=args.model,
                input=args.input, make_flow=make_flow, poll_interval=args.interval,
                poll_timeout=args.timeout, **extra)
            if result.text and result.text != result.flows[-1].text:
                watcher.note(f"answer (read over REST): {result.text}")
        except UnknownTool as exc:
            watcher.note(f"stopped: {exc} (give --tool-output NAME=TEXT)")
        except DriveError as exc:
            if isinstance(exc.__cause__, openai.APIConnectionError):
                raise CommandError(f"cannot reach {args.base_url} (following the response): "
                                   f"{exc}") from None
            raise CommandError(f"following the response: {exc}") from None


def follow_response(flow: ResponseFlow, watcher: Watcher, args: argparse.Namespace) -> None:
    """Follow ``--response`` into ``flow`` (attached to ``watcher``) until it is final or
    ``--timeout`` passes."""
    terminal = flow.protocol.tables[flow.protocol.root].terminal
    client = client_for(args)
    with client, api_errors(args.base_url, "following the response"):
        response = client.responses.retrieve(args.response)
        if response.background:  # its stream can be read again, whole
            _stream(client, flow, args.response)
        deadline = time.monotonic() + args.timeout
        while flow.status not in terminal:
            response = client.responses.retrieve(args.response)
            flow.recover(response)
            watcher.changed()
            if response.status in terminal:
                if response.output_text:
                    watcher.note(f"answer (read over REST): {response.output_text}")
                return
            if time.monotonic() > deadline:
                watcher.note(f"still {response.status} after {args.timeout:g} s; stopped")
                return
            time.sleep(args.interval)


def _stream(client: openai.OpenAI, flow: ResponseFlow, response_id: str) -> None:
    """Stream a background response from its start, resuming after a cut."""
    from runflow.adapters.sdk import consume

    ending = consume(flow, client.responses.retrieve(response_id, stream=True))
    resumes = 0
    while ending != "done" and flow.sequence_number is not None and resumes < _RESUMES:
        resumes += 1
        ending = consume(flow, client.responses.retrieve(
            response_id, stream=True, starting_after=flow.sequence_number))
