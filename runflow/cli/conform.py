"""``runflow conform --base-url URL``: grade a server rule by rule."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from runflow.cli import EXIT_VIOLATIONS, CommandError
from runflow.cli.common import write_json
from runflow.cli.output import Output

EPILOG = """\
Drives a catalogue of scenarios through the real openai client (it creates the
assistants and threads it needs), checks every answer on five layers of rules with
stable ids -- http, grammar, payload, order (warnings), consistency -- and reports
the findings grouped by root cause. A scenario the server cannot be made to do is
not applicable, not failed. Runs carry metadata.scenario naming the scenario, which
`runflow serve` plays.

exit codes: 0 conformant (no error finding), 1 findings (with --strict: warnings
too), 2 could not run (unreachable server, no scenario could run, bad arguments,
unwritable report file)

examples:
  runflow serve --port 8000 &
  runflow conform --base-url http://127.0.0.1:8000/v1
  runflow conform --base-url http://127.0.0.1:8000/v1 --protocol responses \\
      --header 'X-Runflow-Break: response.usage' --html report.html
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


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("--base-url", required=True, metavar="URL",
                        help="the API root the openai client takes (ending in /v1)")
    parser.add_argument("--api-key", metavar="KEY",
                        help="API key (default: $OPENAI_API_KEY, else a placeholder)")
    parser.add_argument("--model", default="gpt-4o-mini", metavar="M",
                        help="model for assistants and responses (default: gpt-4o-mini)")
    parser.add_argument("--protocol", choices=("assistants", "responses"),
                        default="assistants", help="the API to grade (default: assistants)")
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help="run only this scenario (repeatable; default: all)")
    parser.add_argument("--header", action="append", type=_header, default=[],
                        metavar="'NAME: VALUE'", help="an extra header on every request")
    parser.add_argument("--timeout", type=_seconds, default=60.0, metavar="S",
                        help="seconds per request (default 60)")
    parser.add_argument("--strict", action="store_true", help="count warnings as findings")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write a JUnit XML report")
    parser.add_argument("--html", type=Path, metavar="FILE",
                        help="write a self-contained HTML report")


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise CommandError(f"{path}: cannot write the report ({exc.strerror or exc})") from None


def run(args: argparse.Namespace, out: Output) -> int:
    from runflow.conform import conform
    from runflow.conform.report_data import junit_xml, report_json
    from runflow.conform.report_html import report_html
    from runflow.conform.report_text import print_report

    api_key = args.api_key or os.environ.get("OPENAI_API_KEY") or "runflow-conform"
    try:
        report = conform(args.base_url, protocol=args.protocol, api_key=api_key,
                         model=args.model, scenarios=args.scenario, headers=dict(args.header),
                         timeout=args.timeout)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.junit is not None:
        _write(args.junit, junit_xml(report))
    if args.html is not None:
        _write(args.html, report_html(report).encode("utf-8"))
    if args.json:
        write_json(out, report_json(report), indent=2)
    else:
        print_report(report, out.out, color=out.color)
    if report.could_not_run is not None:
        out.error(f"could not run: {report.could_not_run}")
    code = report.exit_code
    if code == 0 and args.strict and report.findings:
        return EXIT_VIOLATIONS
    return code
