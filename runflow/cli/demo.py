"""``runflow demo``: a real tool-calling run, end to end, offline.

It starts runflow's own server (:class:`runflow.testing.Server`) on a free
loopback port and drives a question that needs two function calls through the
real openai client:

* by default over the **Responses API**, with the public
  :func:`runflow.drive_response` loop: a response asks for ``get_weather`` and
  ``get_time`` (the ``parallel_functions`` scenario), the tools are called, and
  the continuation response (``previous_response_id``) streams the answer;
* with ``--protocol assistants``, as an Assistants run with :func:`runflow.drive`:
  ``requires_action``, tool outputs submitted, the continuation stream.

The state changes are shown live (response and output items; or run, steps and
messages), the answer streams in, and the Mermaid diagram of the path taken is
written. ``--cut-after N`` cuts the first stream after N events to show the
recovery (over REST; ``--background`` responses are resumed with
``starting_after``). No network, no API key.
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

    from runflow.cli.watch.lens import Lens
    from runflow.engine.flow import Flow


EPILOG = """\
The demo needs the 'server' extra: pip install 'runflow-sse[server]'.

examples:
  runflow demo                          a Responses API tool-calling run
  runflow demo --protocol assistants    the same as an Assistants run
  runflow demo --cut-after 5            the first stream cut after 5 events: recovery

exit codes: 0 the run completed with no error-severity violation, 1 otherwise (a cut
stream is one: truncated, as runflow watch reports it), 2 usage error, or the drive
loop stopped (e.g. a response cut before it named itself cannot be followed up)
"""

_CITY_WEATHER = {"Paris": "sunny, 21 °C", "London": "light rain, 14 °C"}
MODEL = "gpt-4o"
"""The model the Responses demo names (the local server answers for any)."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("--protocol", choices=("responses", "assistants"), default="responses",
                        help="the API to drive: responses (default) or assistants")
    parser.add_argument(
        "--path-diagram", metavar="OUT.mmd", default="runflow-demo-path.mmd",
        help="where to write the Mermaid diagram of the run's path (default: %(default)s)",
    )
    parser.add_argument("--question", default="What should I wear in Paris right now?",
                        help="the user message that starts the run")
    parser.add_argument("--cut-after", type=non_negative, metavar="N",
                        help="cut the first stream after N events, to watch runflow "
                             "recover and finish the run")
    parser.add_argument("--background", action="store_true",
                        help="responses only: create them in the background, so a cut "
                             "stream is resumed with starting_after")


def get_weather(city: str) -> str:
    """The demo's first tool."""
    return f"{city}: {_CITY_WEATHER.get(city, 'clear skies, 18 °C')}"


def get_time(timezone: str) -> str:
    """The demo's second tool."""
    return f"{timezone}: 14:05"


TOOLS = {"get_weather": get_weather, "get_time": get_time}


def run(args: argparse.Namespace, out: Output) -> int:
    if args.background and args.protocol != "responses":
        raise CommandError("--background goes with --protocol responses")
    try:
        import openai
        from rich.console import Console

        from runflow.testing import Server
    except ImportError as exc:  # the server extra is missing
        raise CommandError(f"the demo needs the server extra ({exc.name} is missing): "
                           "pip install 'runflow-sse[server]'") from exc
    from runflow.cli.watch.lens import lens_for

    console = Console(file=out.out, highlight=False, soft_wrap=True,
                      force_terminal=out.color, no_color=not out.color)
    lens = lens_for(args.protocol)
    shown = _Shown(lens, console)
    with Server() as server:
        api = "Responses" if args.protocol == "responses" else "Assistants"
        console.print(f"runflow demo: local {api} server at {server.base_url}",
                      style="dim", markup=False)
        client = openai.OpenAI(base_url=server.base_url, api_key="demo-no-key-needed",
                               max_retries=0)
        console.print(f"user: {args.question}", markup=False)
        if args.cut_after is not None:
            server.inject(f"cut_after={args.cut_after}")
            console.print(f"(the first stream will be cut after {args.cut_after} events)",
                          style="dim", markup=False)
        from runflow import DriveError

        with client:
            try:
                if args.protocol == "responses":
                    answer = _drive_responses(client, shown, args)
                else:
                    answer = _drive_assistants(client, shown, args)
            except (DriveError, openai.APIError) as exc:  # e.g. --cut-after 0: nothing named
                shown.end_line()
                raise CommandError(f"the demo's run stopped: {exc}") from None
    shown.end_line()
    console.print()
    console.print("answer: " + answer, style="bold", markup=False)
    return _summary(shown.flows, lens, Path(args.path_diagram), console)


def _drive_responses(client: Any, shown: _Shown, args: argparse.Namespace) -> str:
    from runflow import drive_response

    extra: dict[str, Any] = {"background": True} if args.background else {}
    result = drive_response(client, tools=shown.tools(), model=MODEL, input=args.question,
                            metadata={"scenario": "parallel_functions"},
                            make_flow=lambda: shown.attach(shown.lens.new_flow()), **extra)
    return result.text


def _drive_assistants(client: Any, shown: _Shown, args: argparse.Namespace) -> str:
    from runflow import drive

    flow: Any = shown.attach(shown.lens.new_flow())
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread.id, role="user", content=args.question)
    drive(client, thread_id=thread.id, assistant_id="asst_parallel_functions",
          tools=shown.tools(), flow=flow)
    return str(flow.text)


def _summary(flows: list[Flow], lens: Lens, path: Path, console: Console) -> int:
    from runflow.diagrams import path_mermaid

    history = [change for flow in flows for change in flow.history]
    try:
        path.write_text(path_mermaid(history, flows[-1].protocol), encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror}") from exc
    last = flows[-1]
    ok = all(flow.ok for flow in flows) and last.root_state == "completed"
    recovered = sum(1 for change in history if change.event == "recovered")
    count = f"{len(flows)} responses, " if len(flows) > 1 else ""
    summary = (f"{lens.noun} {last.root_id} {last.root_state}; {count}"
               f"{sum(flow.event_count for flow in flows)} events"
               f"{f', {recovered} change(s) recovered over REST' if recovered else ''}; "
               f"{sum(len(flow.violations) for flow in flows)} violation(s); "
               f"path diagram: {path}")
    console.print(summary, style="green" if ok else "red", markup=False)
    return EXIT_OK if ok else EXIT_VIOLATIONS


class _Shown:
    """Prints each flow's state changes, tool calls, text and violations as they
    happen (what :class:`~runflow.cli.watch.lens.Lens` says of the protocol)."""

    def __init__(self, lens: Lens, console: Console) -> None:
        self.lens, self.console = lens, console
        self.flows: list[Flow] = []
        self._mid_line = False  # streamed text is waiting for its line's end

    def attach(self, flow: Flow) -> Any:
        from runflow.cli.watch.lens import on_every_state

        self.flows.append(flow)
        on_every_state(flow, lambda kind, state, obj: self._entered(flow, kind, state, obj))
        self.lens.on_text(flow, self._text)
        flow.on_violation(lambda v: self._line(
            f"  ! {v}", "red" if v.severity == "error" else "yellow"))
        return flow

    def tools(self) -> dict[str, Any]:
        """:data:`TOOLS`, each printing the output it gives."""
        def shown(name: str, tool: Any) -> Any:
            def call(**arguments: Any) -> Any:
                output = tool(**arguments)
                self._line(f"    {name} answered: {output}", "yellow")
                return output
            return call
        return {name: shown(name, tool) for name, tool in TOOLS.items()}

    def _entered(self, flow: Flow, kind: str, state: str, obj: Any) -> None:
        if not self.lens.headline(flow, kind):
            return
        last = flow.history[-1] if flow.history else None
        how = " (recovered over REST)" if last is not None and last.event == "recovered" and (
            last.entity, last.dest) == (kind, state) else ""
        self._line(f"  {kind} {getattr(obj, 'id', '?')} → {state}{how}", "cyan")
        for call in self.lens.calls_on_enter(flow, kind, state, obj):
            self._line(f"    tool call {call.name}({call.arguments})", "yellow")

    def _text(self, fragment: str) -> None:
        if fragment:
            self.console.print(fragment, style="bold", end="", markup=False)
            self._mid_line = True

    def _line(self, text: str, style: str) -> None:
        self.end_line()
        self.console.print(text, style=style, markup=False)

    def end_line(self) -> None:
        if self._mid_line:
            self.console.print()
            self._mid_line = False
