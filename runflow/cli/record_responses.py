"""``runflow record`` of a Responses API response: its options and its request.

``--model M --input TEXT`` creates the streamed response
(``responses.create(stream=True)``); ``--tool-output NAME=TEXT`` offers each NAME
as a function tool. A recording holds one response -- a flow is one response,
and ``runflow check`` judges one -- so a response that asks for function calls
ends the recording, with a note saying how to record the continuation:
``--previous-response-id ID`` reads that response's calls over REST and answers
each by name with ``--tool-output`` (``function_call_output`` items, plus
``--input`` as a user message if given).
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING, Any

from runflow.cli import CommandError
from runflow.cli.tool_answers import function_tools, outputs_for

if TYPE_CHECKING:
    import openai

    from runflow import ResponseFlow

__all__ = ["check_responses_args", "configure_responses", "start_response", "stopped"]


def configure_responses(group: Any) -> None:
    """The Responses options, in their own ``--help`` group."""
    group.add_argument("--model", metavar="M", help="create a streamed response with it")
    group.add_argument("--input", metavar="TEXT", help="the input of that response")
    group.add_argument("--metadata", action="append", default=[], type=_pair,
                       metavar="KEY=VALUE", help="metadata of the response (repeatable; "
                       "runflow's server picks a scenario with scenario=NAME)")
    group.add_argument("--previous-response-id", metavar="ID",
                       help="continue this response: its function calls are answered "
                            "with --tool-output")


def _pair(value: str) -> tuple[str, str]:
    key, sep, text = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return key, text


def check_responses_args(args: argparse.Namespace) -> None:
    if not args.model:
        raise CommandError("a Responses recording needs --model M")
    if args.input is None and not args.previous_response_id:
        raise CommandError("--model needs its --input (or --previous-response-id)")


def start_response(client: openai.OpenAI, args: argparse.Namespace) -> Any:
    """Create the streamed response (the SDK's errors propagate)."""
    answers = dict(args.tool_output)
    params: dict[str, Any] = {"model": args.model, "stream": True}
    user = [{"role": "user", "content": args.input}] if args.input is not None else []
    if args.previous_response_id:
        previous = client.responses.retrieve(args.previous_response_id)
        calls = [item for item in previous.output if item.type == "function_call"]
        items, missing = outputs_for(calls, answers)
        if missing:
            raise CommandError(f"response {previous.id} asks for {', '.join(missing)}: give "
                               "--tool-output NAME=TEXT for each")
        params["input"] = [*items, *user]
        params["previous_response_id"] = previous.id
    else:
        params["input"] = args.input
    if answers:
        params["tools"] = function_tools(answers, "runflow record")
    if args.metadata:
        params["metadata"] = dict(args.metadata)
    return client.responses.create(**params)


def stopped(flow: ResponseFlow, args: argparse.Namespace) -> list[str]:
    """Notes on a response that asks for function calls: what, and how to record the
    continuation."""
    calls = flow.function_calls
    if not calls or flow.response_id is None:
        return []
    names = list(dict.fromkeys(call.name for call in calls))
    answers = dict(args.tool_output)
    command = ["runflow", "record", "--base-url", args.base_url, "--model", args.model,
               "--previous-response-id", flow.response_id,
               *[f"--tool-output={n}={answers.get(n, 'TEXT')}" for n in names],
               "-o", "NEXT.sse"]
    return [f"the response asks for {len(calls)} function call(s): "
            + ", ".join(f"{c.name}({c.arguments})" for c in calls),
            "a recording holds one response; record its continuation with: "
            + shlex.join(command)]
