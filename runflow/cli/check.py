"""``runflow check FILE...``: validate recordings and list their violations."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from runflow.cli import EXIT_OK, EXIT_USAGE, EXIT_VIOLATIONS, CommandError
from runflow.cli.common import add_protocol_options, load_replay, write_json
from runflow.cli.output import Output

if TYPE_CHECKING:
    from runflow.adapters.recording import Replay
    from runflow.conform.findings import Group
    from runflow.conform.recorded import Grader

EPILOG = """\
A file is not ok when it has an error-severity violation (with --strict: any
violation). Formats come from the extension (.jsonl, .sse) or are sniffed; '-'
reads standard input.

exit codes: 0 all files ok, 1 violations found, 2 a file could not be read or is
not a recording, 130 interrupted

Besides the grammar (the violation codes), each file is checked on the payload
invariants and order expectations of `runflow conform` (rule ids payload.*,
order.*: an error-severity payload finding makes a file not ok), and what was
found is grouped by root cause: a cascade (a lost event and the unknown_entity of
each later event of that entity) is printed as one finding with its consequences
under it.

--json prints one object per file per line:
  {"file", "ok", "events", "ending", "protocol", "status", "run_status" (Assistants),
   "expected": {code: count} (quirks the --profile expects),
   "violations": [{"index", "line", "event", "code", "severity", "entity", "message",
                   "path"}],
   "findings": [{"rule", "severity", "index", "event", "entity", "message",
                 "consequences": [...]}] (every layer, grouped by root cause)}

A WebSocket-mode transcript (a .har file with _webSocketMessages, or JSONL frames
{"type": "send"|"receive", "data": ...}) is detected, or chosen with --protocol
responses-ws; its --json object is {"file", "ok", "protocol", "frames",
"connections": [{"frames", "state", "ending", "lanes", "responses", "steers"}],
"violations": [{"connection", "index" (the frame), "direction", "event", "code",
"severity", "lane", "response_id", "source", "message"}],
"findings": [{"connection", "response_id", "rule", "severity", "index", "event",
"entity", "message", "consequences": [...]}] (each response's layers, its grammar
among them, grouped by root cause)}.

--protocol picks the grammar (default: from the stream's event names); --profile
names the server, whose known quirks it then judges as that server's profile says
(e.g. azure: web search items that end 'searching' are expected).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("files", nargs="+", metavar="FILE", help="recordings; '-' for stdin")
    parser.add_argument("--json", action="store_true", help="one JSON object per file per line")
    parser.add_argument("--strict", action="store_true", help="count warnings as errors")
    parser.add_argument("--types", action="store_true",
                        help="also check every field of every object an event carries, "
                             "and of every delta and value event, against the openai "
                             "SDK's types (types.* warnings); loads "
                             "the SDK's types, about half a second more start-up")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="print only files that are not ok, and no progress line (shown "
                             "only on a terminal anyway)")
    add_protocol_options(parser)


def run(args: argparse.Namespace, out: Output) -> int:
    if args.files.count("-") > 1:
        raise CommandError("'-' (stdin) can be given only once")
    if args.quiet:
        out.quiet()
    from runflow.cli.transcripts import read_transcript
    from runflow.conform.findings import others_ok
    from runflow.conform.recorded import Grader  # noqa: F401 - imported before the freeze

    # What the imports made lives as long as the process: the cyclic collector need
    # not walk it again and again while the files are graded (about 5% of the time).
    gc.freeze()

    code = EXIT_OK
    total = len(args.files)
    bad = 0
    for number, path in enumerate(args.files, start=1):
        label = f"[{number}/{total}] {path}" if total > 1 else path
        out.status(label)
        try:
            transcript = read_transcript(path, args)
            if transcript is not None:
                ok = _check_transcript(path, transcript, args, out)
                bad += not ok
                code = code if ok else max(code, EXIT_VIOLATIONS)
                continue
            graders: list[Grader] = []
            replay = load_replay(path, args, out, label,
                                 listener=partial(_grader, made=graders, path=path,
                                                  types=args.types))
        except CommandError as exc:
            out.error(str(exc))
            if args.json:
                write_json(out, {"file": path, "ok": False, "error": str(exc)})
            code = EXIT_USAGE
            bad += 1
            continue
        out.status(f"{label}: grading {replay.flow.event_count:,} events")
        groups = graders[0].groups()
        ok = is_ok(replay, strict=args.strict) and others_ok(groups, strict=args.strict)
        if not ok:
            bad += 1
            code = max(code, EXIT_VIOLATIONS)
        if args.json:
            write_json(out, report(replay, ok, groups))
        elif not (args.quiet and ok):
            _print_human(replay, ok, out, groups)
    out.clear_progress()
    if total > 1 and not args.json:
        summary = f"{total} files: {total - bad} ok, {bad} not ok"
        out.print(out.style(summary, "bold", "green" if bad == 0 else "red"))
    return code


def _check_transcript(path: str, connections: Any, args: argparse.Namespace,
                      out: Output) -> bool:
    """One WebSocket transcript: its verdict, printed or as JSON."""
    from runflow.cli.transcripts import check_report, print_check

    ok, report_json, flows = check_report(path, connections, strict=args.strict,
                                          types=args.types)
    if args.json:
        write_json(out, report_json)
    elif not (args.quiet and ok):
        print_check(path, ok, flows, out)
    return ok


def is_ok(replay: Replay, *, strict: bool) -> bool:
    """No error-severity violation (with ``strict``: no violation at all)."""
    violations = replay.flow.violations
    return not violations if strict else all(v.severity != "error" for v in violations)


def _grader(flow: Any, feeder: Any, made: list[Grader], path: str, types: bool) -> Grader:
    """The graders of one file, fed as it is read (:class:`runflow.conform.recorded.Grader`).
    A file (not standard input) is read again for the lines of what was found
    (:meth:`~runflow.adapters.recording_feed.Feeder.lines_later`)."""
    from runflow.conform.recorded import Grader

    if path != "-":
        feeder.lines_later(partial(_read_again, path))
    made.append(Grader(flow, feeder, types=types))
    return made[-1]


def _read_again(path: str) -> Iterator[bytes]:
    """The bytes of the file at ``path``, from its start, a read at a time."""
    from runflow.adapters.recording import CHUNK

    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            yield chunk


def grade_replay(replay: Replay) -> list[Group]:
    """The findings of a replay of a recording held in memory."""
    from runflow.conform.recorded import grade_replay as grade

    return grade(replay)


def report(replay: Replay, ok: bool, groups: list[Group] | None = None) -> dict[str, Any]:
    """The ``--json`` object of one file."""
    flow = replay.flow
    if groups is None:
        groups = grade_replay(replay)
    return {
        "file": replay.recording.name,
        "ok": ok,
        "events": flow.event_count,
        "ending": replay.ending,
        "protocol": flow.protocol.name,
        "status": flow.root_state,
        **({"run_status": flow.root_state} if flow.root_kind == "run" else {}),
        "expected": dict(flow.expected),
        "violations": [
            {
                "index": v.index,
                "line": replay.line(v.index),
                "event": v.event,
                "code": v.code.value,
                "severity": v.severity,
                "entity": str(v.entity) if v.entity else None,
                "message": v.message,
                "path": v.path,
            }
            for v in flow.violations
        ],
        "findings": [_group_json(replay, g) for g in groups],
    }


def _group_json(replay: Replay, group: Group) -> dict[str, Any]:
    def one(f: Any) -> dict[str, Any]:
        return {"rule": f.rule, "severity": f.severity, "index": f.index,
                "line": replay.line(f.index) if f.index is not None else None,
                "event": f.event, "entity": f.entity, "message": f.message}

    return {**one(group.root), "consequences": [one(f) for f in group.consequences]}


def _print_human(replay: Replay, ok: bool, out: Output, groups: list[Group]) -> None:
    from runflow.conform.report_text import consequence_lines

    flow = replay.flow
    every = [f for g in groups for f in g.members]
    errors = sum(f.severity == "error" for f in every)
    warnings = len(every) - errors
    verdict = out.style("ok", "green") if ok else out.style("NOT OK", "red", "bold")
    counts = f", {errors} error(s), {warnings} warning(s)" if every else ""
    if every and len(groups) < len(every):
        counts += f", {len(groups)} root cause(s)"
    expected = sum(flow.expected.values())
    if expected:
        counts += f", {expected} expected quirk(s)"
    out.print(
        f"{replay.recording.name}: {verdict} ({flow.event_count} events, ended {replay.ending}, "
        f"{flow.root_kind} {flow.root_state}{counts})"
    )
    for group in sorted(groups, key=lambda g: g.severity != "error"):  # errors first
        f = group.root
        severity = out.style(f.severity, "red" if f.severity == "error" else "yellow")
        entity = f" {f.entity}" if f.entity else ""
        name = f.rule.removeprefix("grammar.")  # a violation code, as before
        place = f"#{f.index}" if f.index is not None else "-"
        line = replay.line(f.index) if f.index is not None else None
        place += f" line {line}" if line is not None else ""
        out.print(f"  {place} {severity} {out.style(name, 'bold')}{entity}: {f.message}")
        for said in consequence_lines(group.consequences):
            out.print(f"      ↳ {said.replace('grammar.', '')}")
