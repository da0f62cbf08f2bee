"""``runflow replay FILE``: the timeline of a recorded run and its final snapshots."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runflow.cli import EXIT_OK, EXIT_VIOLATIONS, CommandError
from runflow.cli.common import add_protocol_options, load_replay, where, write_json
from runflow.cli.output import Output

if TYPE_CHECKING:
    from openai.types.beta.threads import Message
    from openai.types.beta.threads.runs import RunStep

    from runflow.adapters.recording import Replay

EPILOG = """\
The timeline lists every accepted state change (event index, entity, source -> dest,
event) with violations at the index where they happened; a status event repeated
in a row (a self-loop, e.g. thread.message.in_progress again and again) is one line
at its first index with its count (×20,000). --json prints the final
snapshots instead: {"run": ..., "messages": [...], "steps": [...]} in the order the
flow first saw them, as the openai SDK's types dump them; for a Responses stream,
{"response": ...} with its output rebuilt from the streamed items.

A WebSocket-mode transcript (.har with _webSocketMessages, or JSONL frames; detected
or --protocol responses-ws) lists each frame that changed a lane, response or steer
state, with its violations, then each response's final status; --json prints
{"connections": [{"state", "lanes", "responses": [{"id", "lane", "status",
"response"}]}]}.

exit codes: 0 no error-severity violation, 1 violations found, 2 unreadable input
or not a recording, 130 interrupted
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("file", metavar="FILE", help="a recording (.jsonl or .sse); '-' for stdin")
    parser.add_argument("--json", action="store_true", help="print the final snapshots as JSON")
    parser.add_argument(
        "--path-diagram", metavar="OUT.mmd",
        help="write a Mermaid state diagram of the path this run took ('-': stdout)",
    )
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line (shown only on a terminal anyway)")
    add_protocol_options(parser)


def run(args: argparse.Namespace, out: Output) -> int:
    if args.json and args.path_diagram == "-":
        raise CommandError("--path-diagram - and --json would both write to stdout")
    if args.quiet:
        out.quiet()
    out.status(args.file)
    from runflow.cli.transcripts import read_transcript, replay_transcript

    transcript = read_transcript(args.file, args)
    if transcript is not None:
        return replay_transcript(args.file, transcript, args, out)
    replay = load_replay(args.file, args, out)
    flow = replay.flow
    if args.json:
        write_json(out, snapshots(replay), indent=2)
        if flow.violations:
            out.warn(f"{len(flow.violations)} violation(s); see `runflow check {args.file}`")
    else:
        _print_timeline(replay, out)
        out.print()
        _print_snapshots(replay, out)
    if args.path_diagram:
        _write_path_diagram(replay, args.path_diagram, out)
    return EXIT_OK if flow.ok else EXIT_VIOLATIONS


def snapshots(replay: Replay) -> dict[str, Any]:
    """The ``--json`` document: the final run, messages and steps (Assistants), or
    the final response with its rebuilt output (Responses)."""
    flow = replay.flow
    if flow.root_kind == "response":
        response = flow.response
        return {"response": response.model_dump(mode="json", warnings=False)
                if response is not None else None}
    run = flow.run
    return {
        "run": run.model_dump(mode="json", warnings=False) if run is not None else None,
        "messages": [m.model_dump(mode="json", warnings=False) for m in flow.messages],
        "steps": [s.model_dump(mode="json", warnings=False) for s in flow.steps],
    }


def _write_path_diagram(replay: Replay, target: str, out: Output) -> None:
    from runflow.diagrams import path_mermaid

    text = path_mermaid(replay.flow.history)
    if target == "-":
        out.print(text.rstrip("\n"))
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from None


def _print_timeline(replay: Replay, out: Output) -> None:
    flow = replay.flow
    pending = sorted(flow.violations, key=lambda v: v.index)
    shown = 0
    out.print(out.style(f"{replay.recording.name}: {flow.event_count} events", "bold"))
    for change in flow.history:
        while shown < len(pending) and pending[shown].index <= change.index:
            _print_violation(replay, pending[shown], out)
            shown += 1
        arrow = f"{change.source} -> {out.style(change.dest, 'cyan')}"
        times = f"  {out.style(f'×{change.count:,}', 'bold')}" if change.count > 1 else ""
        out.print(
            f"  #{change.index:<4} {change.entity:<7} {change.id:<32} "
            f"{arrow}  {out.style(change.event, 'dim')}{times}"
        )
    for violation in pending[shown:]:
        _print_violation(replay, violation, out)
    out.print(f"ended: {replay.ending}")


def _print_violation(replay: Replay, violation: Any, out: Output) -> None:
    colour = "red" if violation.severity == "error" else "yellow"
    out.print(out.style(
        f"  {where(replay, violation)} {violation.severity} {violation.code.value}: "
        f"{violation.message}", colour,
    ))


def _print_snapshots(replay: Replay, out: Output) -> None:
    flow = replay.flow
    if flow.root_kind == "response":
        _print_response(flow, out)
        return
    run = flow.run
    if run is None:
        out.print("run: none seen")
    else:
        out.print(f"run {run.id}: {out.style(flow.run_status, 'bold')}")
        for call in flow.pending_tool_calls:
            out.print(f"  waiting for output of {call.id}: "
                      f"{call.function.name}({call.function.arguments})")
    for message in flow.messages:
        out.print(f"message {message.id} ({message.status}):")
        for line in _message_text(message).splitlines() or [""]:
            out.print(f"    {line}")
    for step in flow.steps:
        out.print(f"step {step.id} ({step.type}, {step.status}):")
        for line in _step_lines(step):
            out.print(f"    {line}")


def _print_response(flow: Any, out: Output) -> None:
    if flow.response_id is None:
        out.print("response: none seen")
        return
    out.print(f"response {flow.response_id}: {out.style(flow.status, 'bold')}")
    for item in flow.output:
        status = getattr(item, "status", None) or "-"
        out.print(f"{item.type} {getattr(item, 'id', None)} ({status}):")
        for line in _item_lines(item):
            out.print(f"    {line}")


def _item_lines(item: Any) -> Iterable[str]:
    if item.type == "message":
        for part in item.content or ():
            text = getattr(part, "text", None) or getattr(part, "refusal", None) or ""
            yield from (text.splitlines() or [""]) if part.type in ("output_text", "refusal") \
                else [f"[{part.type}]"]
    elif item.type == "function_call":
        yield f"{item.call_id} {item.name}({item.arguments})"
    elif item.type == "reasoning":
        for part in item.summary or ():
            yield f"summary: {part.text[:200]}"
    elif item.type == "code_interpreter_call":
        yield f"{len(item.code or '')} chars of code"


def _message_text(message: Message) -> str:
    parts = []
    for part in message.content:
        if part.type == "text":
            parts.append(part.text.value)
        elif part.type == "image_file":
            parts.append(f"[image_file {part.image_file.file_id}]\n")
        else:
            parts.append(f"[{part.type}]\n")
    return "".join(parts)


def _step_lines(step: RunStep) -> Iterable[str]:
    details = step.step_details
    if details.type == "message_creation":
        yield f"message {details.message_creation.message_id}"
        return
    for call in details.tool_calls:
        if call.type == "function":
            fn = call.function
            result = f" -> {fn.output}" if fn.output is not None else ""
            yield f"{call.id} function {fn.name}({fn.arguments}){result}"
        elif call.type == "code_interpreter":
            ci = call.code_interpreter
            yield f"{call.id} code_interpreter: {len(ci.input)} chars of input, " \
                  f"{len(ci.outputs)} output(s)"
        else:
            yield f"{call.id} {call.type}"
