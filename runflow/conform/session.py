"""The HTTP side of a grade: requests through the real openai client, and the
``http`` rules checked on each answer.

A :class:`Probe` is one flow (one run, one response) over one or more HTTP
streams; :meth:`Session.stream` opens a stream with the SDK's
``with_streaming_response`` (so the status, the headers and the raw bytes are all
seen, exactly as sent) and feeds a probe's :class:`~.events.Tap`. REST reads go
through ``with_raw_response``. Every exchange is kept for the report, and every
answer is checked: the status, ``Content-Type: text/event-stream`` on a stream, a
JSON object where a stream was asked for, the error shape of an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import openai

from runflow.adapters.sdk import TRANSPORT_ERRORS
from runflow.conform.events import Tap
from runflow.conform.findings import Finding
from runflow.engine.flow import Flow
from runflow.engine.jsonparse import JSONError, parse_json

__all__ = ["CouldNotRun", "Exchange", "NotApplicable", "Probe", "Refused", "Session",
           "error_shape_problem"]


class NotApplicable(Exception):
    """The server cannot be made to do what a scenario needs (not a failure)."""


class CouldNotRun(Exception):
    """The server cannot be reached or refuses every request (exit 2)."""


class Refused(Exception):
    """A request the scenario needs was answered 4xx (the scenario is not applicable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


@dataclass(frozen=True)
class Exchange:
    """One HTTP request and what came back."""

    label: str
    method: str
    path: str
    status: int | None
    content_type: str | None
    seconds: float
    events: int = 0


@dataclass
class Probe:
    """One flow of a scenario and what was learned about it."""

    label: str
    flow: Flow
    tap: Tap = field(init=False)
    findings: list[Finding] = field(default_factory=list)
    left_at: list[int] = field(default_factory=list)
    """Indices where the grader left a stream on purpose (its ``truncated`` is no finding)."""
    checked: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.tap = Tap(self.flow)


def error_shape_problem(body: Any) -> str | None:
    """None when ``body`` is OpenAI's error shape, else what is wrong with it."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return "the body is not an object with an 'error' object"
    error = body["error"]
    if not isinstance(error.get("message"), str):
        return "error.message is not a string"
    if "type" in error and not isinstance(error["type"], str):
        return "error.type is not a string"
    missing = [k for k in ("type", "param", "code") if k not in error]
    if missing:
        return f"error has no {', '.join(missing)}"
    return None


def _json(text: str) -> Any:
    try:
        return parse_json(text)
    except JSONError:
        return None


def _media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class Session:
    """The client, the exchanges so far and the ``http`` checks."""

    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client
        self.exchanges: list[Exchange] = []
        self.reached = False

    # -- bookkeeping -----------------------------------------------------------------
    def _record(self, label: str, request: Any, status: int | None, content_type: str | None,
                start: float, events: int = 0) -> None:
        method = getattr(request, "method", "?") if request is not None else "?"
        url = getattr(request, "url", None)
        path = getattr(url, "path", None) or str(url or "?")
        self.exchanges.append(Exchange(label, str(method), str(path), status, content_type,
                                       time.monotonic() - start, events))

    def _failed(self, probe: Probe | None, label: str, exc: openai.APIStatusError,
                start: float, findings: list[Finding]) -> Refused:
        self.reached = True
        response = exc.response
        self._record(label, exc.request, response.status_code,
                     response.headers.get("content-type"), start)
        body = _json(response.text)
        problem = error_shape_problem(body)
        if probe is not None:
            probe.checked.update({"http.status", "http.error_shape"})
        if problem is not None:
            findings.append(Finding("http.error_shape", "error",
                                    f"{label}: {response.status_code} answer: {problem}"))
        if response.status_code >= 500:
            findings.append(Finding("http.status", "error",
                                    f"{label}: answered {response.status_code}"))
        message = body["error"]["message"] if problem is None else response.text[:200]
        return Refused(response.status_code, str(message))

    # -- streams ---------------------------------------------------------------------
    def stream(self, probe: Probe, label: str,
               opener: Callable[[], AbstractContextManager[Any]],
               on_event: Callable[[Probe], bool] | None = None) -> None:
        """Open a stream and feed ``probe`` (``on_event`` returning True leaves it early).

        Raises :class:`Refused` for a 4xx answer and :class:`CouldNotRun` when the
        server cannot be reached; 5xx and shape problems are findings of ``probe``.
        """
        start = time.monotonic()
        probe.checked.update({"http.status", "http.content_type", "http.stream_is_json"})
        before = probe.flow.event_count
        try:
            with opener() as response:
                self.reached = True
                content_type = response.headers.get("content-type")
                self._check_stream_answer(probe, label, response, content_type)
                if _media(content_type) == "application/json":
                    self._record(label, response.http_request, response.status_code,
                                 content_type, start)
                    return
                probe.tap.begin()
                try:
                    for chunk in response.iter_bytes():
                        probe.tap.feed(chunk)
                        if on_event is not None and on_event(probe):
                            probe.left_at.append(probe.flow.event_count)
                            break
                except TRANSPORT_ERRORS:
                    pass  # a cut stream: the flow reports it truncated
                probe.tap.close()
                self._record(label, response.http_request, response.status_code, content_type,
                             start, probe.flow.event_count - before)
        except openai.APIStatusError as exc:
            raise self._failed(probe, label, exc, start, probe.findings) from None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            if not self.reached:
                raise CouldNotRun(f"cannot reach the server ({exc})") from None
            probe.findings.append(Finding("http.status", "error",
                                          f"{label}: no answer ({type(exc).__name__})"))
            probe.tap.close()

    def _check_stream_answer(self, probe: Probe, label: str, response: Any,
                             content_type: str | None) -> None:
        media = _media(content_type)
        if not 200 <= response.status_code < 300:
            probe.findings.append(Finding("http.status", "error",
                                          f"{label}: answered {response.status_code}"))
        if media == "application/json":
            body = _json(response.read().decode("utf-8", "replace"))
            kind = body.get("object") if isinstance(body, dict) else None
            what = f" (a {kind!r} object)" if isinstance(kind, str) else ""
            probe.findings.append(Finding(
                "http.stream_is_json", "error",
                f"{label}: stream=true was answered with a JSON body{what}, not an event "
                "stream", probe.flow.event_count))
        elif media != "text/event-stream":
            probe.findings.append(Finding(
                "http.content_type", "error",
                f"{label}: the stream's Content-Type is {content_type!r}, not "
                "text/event-stream", probe.flow.event_count))

    # -- REST ------------------------------------------------------------------------
    def rest(self, probe: Probe | None, label: str, call: Callable[[], Any],
             key: str | None = None) -> Any:
        """The JSON a REST read answers (None after a finding or a refusal); ``key``:
        what it reads, for grouping."""
        start = time.monotonic()
        findings = probe.findings if probe is not None else []
        try:
            raw = call()
        except openai.APIStatusError as exc:
            refused = self._failed(probe, label, exc, start, findings)
            if refused.status < 500 and probe is not None:
                findings.append(Finding("http.status", "error",
                                        f"{label}: answered {refused.status} ({refused})",
                                        key=key))
            return None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            if not self.reached:
                raise CouldNotRun(f"cannot reach the server ({exc})") from None
            findings.append(Finding("http.status", "error",
                                    f"{label}: no answer ({type(exc).__name__})"))
            return None
        self.reached = True
        content_type = raw.headers.get("content-type")
        self._record(label, raw.http_request, raw.status_code, content_type, start)
        if probe is not None:
            probe.checked.add("http.status")
        return _json(raw.text)

    def create(self, label: str, call: Callable[[], Any]) -> Any:
        """A set-up request (an assistant, a thread): its JSON, or :class:`Refused`."""
        start = time.monotonic()
        scratch: list[Finding] = []
        try:
            raw = call()
        except openai.APIStatusError as exc:
            raise self._failed(None, label, exc, start, scratch) from None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise CouldNotRun(f"cannot reach the server ({exc})") from None
        self.reached = True
        self._record(label, raw.http_request, raw.status_code, raw.headers.get("content-type"),
                     start)
        return _json(raw.text)

    def expect_error(self, probe: Probe, label: str, call: Callable[[], Any]) -> int | None:
        """A request that must fail with a 4xx in OpenAI's error shape."""
        start = time.monotonic()
        probe.checked.update({"http.status", "http.error_shape"})
        try:
            raw = call()
        except openai.APIStatusError as exc:
            refused = self._failed(probe, label, exc, start, probe.findings)
            return refused.status
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            raise CouldNotRun(f"cannot reach the server ({exc})") from None
        self._record(label, raw.http_request, raw.status_code, raw.headers.get("content-type"),
                     start)
        probe.findings.append(Finding("http.status", "error",
                                      f"{label}: answered {raw.status_code}; an unknown id "
                                      "is a 4xx"))
        return int(raw.status_code)
