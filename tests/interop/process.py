"""Run a third-party server as a child process for the length of a fixture.

Each server runs offline on 127.0.0.1 on a free port, in a scratch working
directory (so no ``.env`` or data file of the checkout or the user is read), with
its output captured to a log that a failed start quotes. Readiness is a bounded
poll of the port and then of an HTTP path; the process is stopped (terminate, then
kill) when the fixture ends.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["free_port", "running"]

START_TIMEOUT = 90.0
"""How long a server may take to answer its readiness probe (cold imports on a
shared two-core machine are slow: the Azure SDK imports OpenTelemetry)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer: the server is up
    except (OSError, ValueError):
        return False


@contextmanager
def running(args: Sequence[str], *, port: int, workdir: Path, probe: str = "/",
            env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start ``python ARGS...`` in ``workdir``; yield ``http://127.0.0.1:PORT`` once
    ``probe`` answers; stop the process afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "server.log"
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "HTTP_PROXY",
                                                                           "HTTPS_PROXY"))}
    child_env.update({"NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"})
    child_env.update(env or {})
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, *args], cwd=workdir, env=child_env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _answers(base + probe):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    why = "exited" if proc.poll() is not None else "did not answer in time"
                    raise RuntimeError(f"{' '.join(args)} {why}; its log ends:\n{tail}")
                time.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
