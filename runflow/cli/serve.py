"""``runflow serve``: runflow's local server (Assistants and Responses APIs), in the
foreground."""

from __future__ import annotations

import argparse
import errno
import signal
import socket

from runflow.cli import EXIT_INTERRUPTED, EXIT_OK, CommandError, os_sentence
from runflow.cli.common import port
from runflow.cli.output import Output
from runflow.server.faults import FaultSyntaxError

EPILOG = """\
Point an openai client at http://HOST:PORT/v1 (any api key). Both APIs are served:

Assistants (/v1/assistants, /v1/threads/...): built-in assistants select scenarios:
asst_text, asst_parallel_functions, asst_code_interpreter, asst_file_search,
asst_cancel, asst_failure, asst_incomplete. Any assistant can pick a scenario with
metadata.scenario (on the run or the assistant).

Responses (/v1/responses, any model): metadata.scenario picks text (default),
parallel_functions (function calls for the request's function tools, answered with
function_call_output items via previous_response_id), reasoning, refusal,
incomplete or failed; background=true works with each, and a background response
is resumed with GET /v1/responses/ID?stream=true&starting_after=N.

metadata.text and metadata.chunk_size shape the streamed text (both APIs).
--recording replays recorded streams to streamed Assistants requests.

--fault applies to every streamed response of either API, e.g. cut_after=5, corrupt=3,
duplicate=4, drop=4, swap=4, delay=0.05, error_after=3, unknown=2 (comma-separated;
cut_after=0 and error_after=0 act before the first event). A client can set one
per request with the X-Runflow-Fault header, which replaces --fault for that
request ("X-Runflow-Fault: none" turns it off). SIGINT or SIGTERM stops the
server at once, closing open streams.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=port, default=8000,
                        help="port, 0-65535 (default: %(default)s)")
    parser.add_argument("--recording", action="append", default=[], metavar="FILE",
                        help="serve this recording's streams to the next streamed requests "
                             "(repeatable)")
    parser.add_argument("--fault", default="", help="fault to inject into every stream")


def run(args: argparse.Namespace, out: Output) -> int:
    try:
        from runflow.testing import load_recording, parse_fault, serve
    except ImportError as exc:
        raise CommandError(f"serve needs the server extra ({exc.name} is missing): "
                           "pip install 'runflow-sse[server]'") from exc
    try:
        fault = parse_fault(args.fault) if args.fault else None
    except FaultSyntaxError as exc:
        raise CommandError(f"--fault: {exc}") from exc
    for path in args.recording:
        try:
            load_recording(path)
        except OSError as exc:  # one sentence, not the raw [Errno 2]
            raise CommandError(f"--recording {os_sentence(exc)}") from exc
        except ValueError as exc:
            raise CommandError(f"--recording {path}: {exc}") from exc
    where = f"{args.host}:{args.port}"
    _check_bind(args.host, args.port)

    def listening(host: str, bound: int) -> None:
        # printed once connections are accepted: scripts and tests wait for this line
        # (with --port 0 it names the port chosen)
        out.print(f"runflow serve: listening on http://{host}:{bound}/v1 (Ctrl-C to stop)")
        out.out.flush()

    try:
        stopped_by = serve(args.host, args.port, recordings=args.recording, fault=fault,
                           on_listening=listening)
    except OSError as exc:
        raise CommandError(f"cannot serve on {where}: {exc.strerror or exc}") from exc
    except SystemExit as exc:  # uvicorn exits when it cannot start, after logging why
        raise CommandError(f"cannot serve on {where}: the server did not start "
                           f"(exit {exc.code})") from None
    # SIGTERM is how a supervisor stops a server: a normal end; Ctrl-C interrupts
    return EXIT_INTERRUPTED if stopped_by == signal.SIGINT else EXIT_OK


def _check_bind(host: str, port: int) -> None:
    """Bind once as uvicorn will (SO_REUSEADDR), to say why in one line when it
    cannot: a port in use, an unknown host, an address not on this machine."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise CommandError(f"cannot serve on {host}:{port}: unknown host "
                           f"({exc.strerror or exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            reason = "the port is already in use" if exc.errno == errno.EADDRINUSE else (
                exc.strerror or str(exc))
            raise CommandError(f"cannot serve on {host}:{port}: {reason}") from None
