"""A live Assistants run for ``runflow watch``: started and streamed, or polled.

* ``--assistant A`` starts a streamed run (on ``--thread``, else with
  ``create_and_run``); after a cut stream it recovers over REST and keeps
  polling. Function calls named with ``--tool-output NAME=TEXT`` are answered,
  and the continuation stream followed.
* ``--thread T --run R`` follows a run someone else is driving, by polling it
  over REST (run, steps, messages).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from runflow.cli import CommandError
from runflow.cli.watch.api import FAULT_HEADER, api_errors, client_for

if TYPE_CHECKING:
    import openai

    from runflow import RunFlow
    from runflow.cli.watch.views import Watcher

__all__ = ["follow_run"]


def follow_run(flow: RunFlow, watcher: Watcher, args: argparse.Namespace) -> None:
    """Follow the run into ``flow`` (already attached to ``watcher``) until it is final,
    waits for tools nobody answers, or ``--timeout`` passes."""
    from runflow.adapters.sdk import consume

    terminal = flow.protocol.tables[flow.protocol.root].terminal
    client = client_for(args)
    answers: dict[str, str] = dict(args.tool_output)
    submitted: set[str] = set()
    thread_id: str | None = args.thread
    with client, api_errors(args.base_url, "following the run"):
        if args.assistant:
            ending: str = consume(flow, _start(client, args))
            thread_id = thread_id or flow.thread_id
        else:
            ending = "poll"
        deadline = time.monotonic() + args.timeout
        while True:
            if ending != "done":
                _catch_up(client, flow, thread_id, args.run)
                watcher.changed()
            if flow.run_status in terminal:
                return
            calls = [c for c in flow.pending_tool_calls if c.id not in submitted]
            if args.assistant and calls:
                missing = sorted({c.function.name for c in calls} - set(answers))
                if missing:
                    watcher.note(f"stopped in requires_action: {', '.join(missing)} not "
                                 "answered (give --tool-output NAME=TEXT)")
                    return
                submitted.update(c.id for c in calls)
                outputs: Any = [{"tool_call_id": c.id, "output": answers[c.function.name]}
                                for c in calls]
                ending = consume(flow, client.beta.threads.runs.submit_tool_outputs(
                    run_id=str(flow.run_id), thread_id=str(thread_id or flow.thread_id),
                    tool_outputs=outputs, stream=True))
                continue
            if time.monotonic() > deadline:
                watcher.note(f"still {flow.run_status} after {args.timeout:g} s; stopped")
                return
            time.sleep(args.interval)
            ending = "poll"


def _start(client: openai.OpenAI, args: argparse.Namespace) -> Any:
    headers = {FAULT_HEADER: args.fault} if args.fault else {}
    threads = client.beta.threads
    if args.thread:
        return threads.runs.create(thread_id=args.thread, assistant_id=args.assistant,
                                   stream=True, extra_headers=headers)
    return threads.create_and_run(assistant_id=args.assistant, stream=True,
                                  extra_headers=headers)


def _catch_up(client: openai.OpenAI, flow: RunFlow, thread_id: str | None,
              run_id: str | None) -> None:
    """Read the run, its steps and messages over REST into the flow."""
    threads = client.beta.threads
    thread_id = thread_id or flow.thread_id
    if thread_id is None:
        raise CommandError("the stream was cut before it named its thread; give --thread")
    run_id = run_id or flow.run_id
    if run_id is None:
        latest = threads.runs.list(thread_id=thread_id, limit=1).data
        if not latest:
            raise CommandError(f"thread {thread_id} has no run")
        run_id = latest[0].id
    run = threads.runs.retrieve(run_id=run_id, thread_id=thread_id)
    if flow.run_id is None:
        flow.recover(run)
    for step in threads.runs.steps.list(run_id=run_id, thread_id=thread_id, order="asc"):
        flow.recover(step)
    for message in threads.messages.list(thread_id=thread_id, run_id=run_id, order="asc"):
        flow.recover(message)
    flow.recover(run)
