"""``runflow demo``: a real run, end to end, offline.

It starts runflow's own Assistants-compatible server on a free loopback port,
then drives a run with two parallel tool calls and a streamed answer through the
real openai client (:func:`runflow.adapters.drive`): the state transitions are shown live,
the answer streams in, and the Mermaid diagram of the path the run took is written.
No network, no API key.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runflow.cli import EXIT_OK, EXIT_VIOLATIONS, CommandError
from runflow.cli.common import non_negative
from runflow.cli.output import Output

if TYPE_CHECKING:
    from rich.console import Console

    from runflow import RunFlow, TextDelta, TextSnapshot, Violation

HELP = "run a tool-calling assistant against the embedded local server, live"

EPILOG = """\
The demo needs the 'server' extra: pip install 'runflow-sse[server]'.

exit codes: 0 the run completed with no error-severity violation, 1 otherwise
"""

_CITY_WEATHER = {"Paris": "sunny, 21 °C", "London": "light rain, 14 °C"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument(
        "--path-diagram", metavar="OUT.mmd", default="runflow-demo-path.mmd",
        help="where to write the Mermaid diagram of the run's path (default: %(default)s)",
    )
    parser.add_argument("--question", default="What should I wear in Paris right now?",
                        help="the user message that starts the run")
    parser.add_argument("--cut-after", type=non_negative, metavar="N",
                        help="cut the first stream after N events, to watch runflow "
                             "recover over REST and finish the run")


def get_weather(city: str) -> str:
    """The demo's first tool."""
    return f"{city}: {_CITY_WEATHER.get(city, 'clear skies, 18 °C')}"


def get_time(timezone: str) -> str:
    """The demo's second tool."""
    return f"{timezone}: 14:05"


def run(args: argparse.Namespace, out: Output) -> int:
    try:
        import openai
        from rich.console import Console

        from runflow.testing import Server
    except ImportError as exc:  # the server extra is missing
        raise CommandError(f"the demo needs the server extra ({exc.name} is missing): "
                           "pip install 'runflow-sse[server]'") from exc
    from runflow import RunFlow, drive
    from runflow.diagrams import path_mermaid

    console = Console(file=out.out, highlight=False, soft_wrap=True,
                      force_terminal=out.color, no_color=not out.color)
    flow = RunFlow()
    _show_live(flow, console)
    with Server() as server:
        console.print(f"runflow demo: local Assistants server at {server.base_url}",
                      style="dim", markup=False)
        client = openai.OpenAI(base_url=server.base_url, api_key="demo-no-key-needed",
                               max_retries=0)
        thread = client.beta.threads.create()
        client.beta.threads.messages.create(thread.id, role="user", content=args.question)
        console.print(f"user: {args.question}", markup=False)
        if args.cut_after is not None:
            server.inject(f"cut_after={args.cut_after}")
            console.print(f"(the first stream will be cut after {args.cut_after} events)",
                          style="dim", markup=False)
        drive(client, thread_id=thread.id, assistant_id="asst_parallel_functions",
              tools={"get_weather": get_weather, "get_time": get_time}, flow=flow)
    console.print()
    console.print("answer: " + flow.text, style="bold", markup=False)
    path = Path(args.path_diagram)
    try:
        path.write_text(path_mermaid(flow.history), encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from exc
    expected = {"truncated"} if args.cut_after is not None else set()
    errors = [v for v in flow.violations if v.severity == "error" and v.code not in expected]
    recovered = sum(1 for c in flow.history if c.event == "recovered")
    summary = (f"run {flow.run_id} {flow.run_status}; {flow.event_count} events"
               f"{f', {recovered} change(s) recovered over REST' if recovered else ''}; "
               f"{len(flow.violations)} violation(s); path diagram: {path}")
    console.print(summary, style="green" if not errors else "red", markup=False)
    return EXIT_OK if flow.run_status == "completed" and not errors else EXIT_VIOLATIONS


def _show_live(flow: RunFlow, console: Console) -> None:
    """Print each state change and the streamed text as they happen."""
    from runflow.protocols import PROTOCOL, UNSEEN, Entity

    def show(entity: Entity, state: str) -> Any:
        def cb(obj: Any) -> None:
            console.print(f"  {entity.value} {obj.id} → {state}", style="cyan", markup=False)
            if entity is Entity.RUN and state == "requires_action":
                for call in obj.required_action.submit_tool_outputs.tool_calls:
                    console.print(f"    tool call {call.function.name}({call.function.arguments})",
                                  style="yellow", markup=False)
        return cb

    registrars: dict[Entity, Any] = {Entity.RUN: flow.on_run, Entity.STEP: flow.on_step,
                                     Entity.MESSAGE: flow.on_message}
    for entity, register in registrars.items():
        for state in PROTOCOL.tables[entity].states:
            if state != UNSEEN:
                register(state)(show(entity, state))

    @flow.on_text("delta")
    def stream_text(delta: TextDelta, snapshot: TextSnapshot) -> None:
        if delta.value:
            console.print(delta.value, style="bold", end="", markup=False)

    @flow.on_text("done")
    def text_done(snapshot: TextSnapshot) -> None:
        console.print()

    @flow.on_violation
    def violation(v: Violation) -> None:
        console.print(f"  ! {v}", style="red" if v.severity == "error" else "yellow",
                      markup=False)
