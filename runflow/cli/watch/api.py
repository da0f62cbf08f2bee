"""The openai client a live watch uses, and its errors as one line (the SDK's, and a
server object the flow cannot recover: :class:`runflow.engine.recovery.RecoveryError`)."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from runflow.cli import CommandError

if TYPE_CHECKING:
    import openai

__all__ = ["FAULT_HEADER", "api_errors", "client_for"]

FAULT_HEADER = "X-Runflow-Fault"
"""runflow.testing.FAULT_HEADER, spelt out: the testing package needs the server extra."""


def client_for(args: argparse.Namespace) -> openai.OpenAI:
    """The real openai client for ``--base-url`` (no retries: a watch sends once)."""
    import openai

    api_key = args.api_key or os.environ.get("OPENAI_API_KEY") or "none"
    return openai.OpenAI(base_url=args.base_url, api_key=api_key, max_retries=0)


@contextlib.contextmanager
def api_errors(base_url: str, doing: str) -> Iterator[None]:
    """The SDK's errors, and objects read over REST that the flow refuses to recover
    (another response, an unknown status), as a one-line :class:`CommandError`."""
    import openai

    from runflow.engine.recovery import RecoveryError

    try:
        yield
    except openai.APIStatusError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        message = body.get("message") if isinstance(body.get("message"), str) else exc.message
        raise CommandError(f"{doing}: the server answered HTTP {exc.status_code}: "
                           f"{' '.join(str(message).split())}") from None
    except openai.APIConnectionError:
        raise CommandError(f"cannot reach {base_url} ({doing})") from None
    except openai.APIError as exc:
        raise CommandError(f"{doing}: {' '.join(exc.message.split())}") from None
    except RecoveryError as exc:
        raise CommandError(f"{doing}: the server sent an object that does not fit the flow: "
                           f"{' '.join(str(exc).split())[:500]}") from None
