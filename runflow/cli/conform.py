"""``runflow conform --base-url URL``: grade a server rule by rule."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from runflow.cli import EXIT_VIOLATIONS, CommandError
from runflow.cli.common import write_json
from runflow.cli.output import Output

if TYPE_CHECKING:
    from runflow.conform.runner import Report

MIB = 1 << 20

EPILOG = """\
Drives a catalogue of scenarios through the real openai client (it creates the
assistants and threads it needs), checks every answer on five layers of rules with
stable ids -- http, grammar, payload, order (warnings), consistency -- and reports
the findings grouped by root cause. A scenario the server cannot be made to do is
not applicable, not failed. Runs carry metadata.scenario naming the scenario, which
`runflow serve` plays. --protocol responses-ws grades the WebSocket mode at
/responses under --base-url (ws:// from http://): turns, lanes, steering, warm-up,
each conversation recorded frame by frame and checked as `runflow check` checks a
transcript; --max-body-bytes caps one frame, --max-stream-bytes one connection.

Everything read is bounded: --timeout (connect, and each answer and each frame
of a stream), --scenario-timeout (a scenario in all), --max-body-bytes and
--max-stream-bytes. A bound passed is an http.status finding naming the flag, and
what was read until then is graded; messages quote excerpts, never whole bodies.
The first request that gets no answer stops the grade with one line naming the
URL and the cause; when every answer is 404, a hint says where the API usually is
(/v1).

Each stream is graded as its events arrive, in memory that does not grow with
the stream. Of its events the report keeps the first 100, the last 100 and up to
1000 that a finding names, by name and place, never their payloads (the HTML
timeline counts the others in one row); of one rule, at most 100 findings per
flow (the others are counted in a note).

exit codes: 0 conformant (no error finding), 1 findings (with --strict: warnings
too), 2 could not run (unreachable server, no scenario could run, bad arguments,
unwritable report file), 130 interrupted

examples:
  runflow serve --port 8000 &
  runflow conform --base-url http://127.0.0.1:8000/v1
  runflow conform --base-url http://127.0.0.1:8000/v1 --protocol responses \\
      --header 'X-Runflow-Break: response.usage' --html report.html
  runflow conform --base-url http://127.0.0.1:8000/v1 --protocol responses-ws
"""


def _header(value: str) -> tuple[str, str]:
    name, sep, text = value.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {value!r}")
    return name.strip(), text.strip()


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"expected 0 < seconds <= 3600, got {value!r}")
    return seconds


def _mib(value: str) -> int:
    try:
        mib = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MiB, got {value!r}") from None
    if not 0 < mib <= 4096:
        raise argparse.ArgumentTypeError(f"expected 0 < MiB <= 4096, got {value!r}")
    return int(mib * MIB)


def _base_url(value: str) -> str:
    """An argparse type: an http(s) URL with a host (a usage error otherwise)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(
            f"expected an http:// or https:// URL with a host, got {value!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    from runflow.conform.session import Bounds

    defaults = Bounds()
    parser.epilog = EPILOG
    parser.add_argument("--base-url", required=True, metavar="URL", type=_base_url,
                        help="the API root the openai client takes (ending in /v1)")
    parser.add_argument("--api-key", metavar="KEY",
                        help="API key (default: $OPENAI_API_KEY, else a placeholder)")
    parser.add_argument("--model", default="gpt-4o-mini", metavar="M",
                        help="model for assistants and responses (default: gpt-4o-mini)")
    from runflow.protocols.registry import REGISTRY
    from runflow.protocols.responses.websocket.definition import WS_RESPONSES

    parser.add_argument("--protocol", choices=[*(n for n, e in REGISTRY.items() if e.scenarios),
                                               WS_RESPONSES.name],
                        default="assistants", help="the API to grade (default: assistants; "
                                                   "responses-ws: its WebSocket mode)")
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help="run only this scenario (repeatable; default: all)")
    parser.add_argument("--header", action="append", type=_header, default=[],
                        metavar="'NAME: VALUE'", help="an extra header on every request")
    parser.add_argument("--timeout", type=_seconds, default=defaults.timeout, metavar="S",
                        help="seconds to connect, and to wait for each answer and each "
                             f"frame of a stream (default: {defaults.timeout:g})")
    parser.add_argument("--scenario-timeout", type=_seconds,
                        default=defaults.scenario_seconds, metavar="S",
                        help="seconds one scenario may take in all, a trickling stream "
                             f"included (default: {defaults.scenario_seconds:g})")
    parser.add_argument("--max-body-bytes", type=_mib, default=defaults.body_bytes,
                        metavar="MIB", help="MiB read of an answer that is not a stream "
                                            f"(default: {defaults.body_bytes // MIB})")
    parser.add_argument("--max-stream-bytes", type=_mib, default=defaults.stream_bytes,
                        metavar="MIB", help="MiB read of one stream "
                                            f"(default: {defaults.stream_bytes // MIB})")
    parser.add_argument("--strict", action="store_true", help="count warnings as findings")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="write a self-contained HTML report")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress line (it shows only on a terminal anyway)")


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CommandError(f"{path}: cannot write the report ({exc.strerror or exc})") from None


def run(args: argparse.Namespace, out: Output) -> int:
    from runflow.conform.report_data import junit_xml, report_json
    from runflow.conform.report_html import report_html
    from runflow.conform.report_text import print_report

    report = _grade(args, out)
    if report.could_not_run is not None and not report.scenarios:
        raise CommandError(f"could not run: {report.could_not_run}")  # one line, no table
    if args.junit is not None:
        _write(args.junit, junit_xml(report))
    if args.html is not None:
        _write(args.html, report_html(report).encode("utf-8"))
    if args.json:
        write_json(out, report_json(report), indent=2)
    else:
        print_report(report, out.out, color=out.color)
    hint = _v1_hint(report)
    if hint:
        out.warn(hint)
    if report.could_not_run is not None:
        out.error(f"could not run: {report.could_not_run}")
    code = report.exit_code
    if code == 0 and args.strict and report.findings:
        return EXIT_VIOLATIONS
    return code


def _grade(args: argparse.Namespace, out: Output) -> Report:
    """Grade scenario by scenario (progress on a terminal; each scenario's deadline
    starts with it), stopping at the first request the server does not answer."""
    from runflow.conform.rules import WEBSOCKET
    from runflow.conform.runner import Report, conform, scenario_names
    from runflow.conform.session import Bounds, bounded_client

    catalogue = scenario_names(args.protocol)
    unknown = [n for n in args.scenario or () if n not in catalogue]
    if unknown:
        raise CommandError(f"unknown scenario(s) {', '.join(unknown)}; known: "
                           f"{', '.join(catalogue)}")
    chosen = [name for name in catalogue if not args.scenario or name in args.scenario]
    bounds = Bounds(timeout=args.timeout, scenario_seconds=args.scenario_timeout,
                    body_bytes=args.max_body_bytes, stream_bytes=args.max_stream_bytes)
    api_key = args.api_key or os.environ.get("OPENAI_API_KEY") or "runflow-conform"
    client, transport = None, None
    if args.protocol != WEBSOCKET:  # a WebSocket grade opens its own sockets, as bounded
        try:
            client, transport = bounded_client(args.base_url, api_key=api_key,
                                               headers=dict(args.header), bounds=bounds)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
    whole = Report(args.base_url, args.protocol, args.model, [], 0.0)
    for number, name in enumerate(chosen, start=1):
        if not args.quiet:
            out.progress(number, len(chosen), f"{args.protocol} {name}")
        if transport is not None:
            transport.restart()
        part = conform(args.base_url, protocol=args.protocol, model=args.model,
                       scenarios=[name], client=client, api_key=api_key,
                       headers=dict(args.header), bounds=bounds)
        whole.scenarios += part.scenarios
        whole.seconds += part.seconds
        if part.could_not_run is not None:
            whole.could_not_run = part.could_not_run
            break
    out.clear_progress()
    return whole


def _v1_hint(report: Report) -> str | None:
    """A base URL without ``/v1`` whose every answer was 404: say where the API
    usually is."""
    statuses = [e.status for s in report.scenarios for e in s.exchanges]
    path = urlsplit(report.base_url).path.rstrip("/")
    if not statuses or any(code != 404 for code in statuses) or path.endswith("/v1"):
        return None
    root = report.base_url.rstrip("/")
    return (f"hint: every request was answered 404 at {root}; the API is usually under /v1 "
            f"(--base-url {root}/v1)")
