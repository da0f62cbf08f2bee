"""The HTTP side of a grade: requests through the real openai client, and the
``http`` rules checked on each answer.

A :class:`Probe` is one flow (one run, one response) over one or more HTTP
streams; :meth:`Session.stream` opens a stream with the SDK's
``with_streaming_response`` (so the status, the headers and the raw bytes are all
seen, exactly as sent) and feeds a probe's :class:`~.events.Tap`, whose events are
graded as they arrive (:class:`~.grade.FlowGrade`). REST reads go
through ``with_raw_response``. Every exchange is kept for the report, and every
answer is checked: the status, ``Content-Type: text/event-stream`` on a stream, a
JSON object where a stream was asked for, the error shape of an error.

What is read is bounded (:class:`Bounds`, through :class:`BoundedTransport`): a
connect and read timeout per request and per frame, an overall deadline per
scenario, a byte cap per body and per stream. A bound passed is a finding
(``http.status``) naming the bound, and what was read until then is graded.
Messages quote excerpts of what the server sent, never whole payloads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from runflow.adapters.sdk import TRANSPORT_ERRORS
from runflow.conform.events import Tap
from runflow.conform.findings import Finding
from runflow.conform.grade import FlowGrade, Watch
from runflow.engine.flow import Flow
from runflow.engine.jsonparse import JSONError, parse_json

__all__ = ["BoundPassed", "BoundedTransport", "Bounds", "CouldNotRun", "Exchange",
           "NotApplicable", "Probe", "Refused", "Session", "bounded_client", "error_shape_problem",
           "excerpt"]

MIB = 1 << 20


@dataclass(frozen=True)
class Bounds:
    """What conform reads at most from a server (``runflow conform --help`` states
    the defaults)."""

    timeout: float = 10.0
    """Seconds to connect, and to wait for each read (a frame of a stream, a chunk of
    a body)."""
    scenario_seconds: float = 120.0
    """Seconds one scenario may take in all: a stream that trickles ends there."""
    body_bytes: int = 8 * MIB
    """Bytes read of one answer that is not a stream."""
    stream_bytes: int = 16 * MIB
    """Bytes read of one stream."""
    excerpt_chars: int = 300
    """Characters of the server's text a message quotes."""


def excerpt(text: str, limit: int = Bounds.excerpt_chars) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


class BoundPassed(httpx2.ReadError):
    """conform stopped reading: a body or a stream passed its byte cap, or the
    scenario its deadline (the message names which)."""


class _Capped(httpx2.SyncByteStream):
    """An answer's bytes, up to ``cap`` and up to the scenario's deadline."""

    def __init__(self, inner: httpx2.SyncByteStream, cap: int, what: str,
                 owner: BoundedTransport, request: httpx2.Request) -> None:
        self.inner, self.cap, self.what = inner, cap, what
        self.owner, self.request = owner, request

    def __iter__(self) -> Any:
        read = 0
        chunks = iter(self.inner)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except httpx2.ReadTimeout as exc:
                if self.owner.late():  # the read timeout was cut to the deadline
                    raise BoundPassed(self.owner.late_message(), request=self.request) from exc
                raise
            read += len(chunk)
            if read > self.cap:
                raise BoundPassed(f"the {self.what} passed {_size(self.cap)}; conform stopped "
                                  f"reading it (--max-{self.what}-bytes)", request=self.request)
            if self.owner.late():
                raise BoundPassed(self.owner.late_message(), request=self.request)
            yield chunk

    def close(self) -> None:
        self.inner.close()


def _size(count: int) -> str:
    return f"{count / MIB:g} MiB" if count >= MIB else f"{count} bytes"


class BoundedTransport(httpx2.BaseTransport):
    """The HTTP transport of a grade, holding every answer to :class:`Bounds`.

    Each request's timeouts are cut to what is left of the scenario's deadline
    (:meth:`restart` starts a scenario's), and each answer's bytes are counted as
    they arrive: past a cap or the deadline, reading raises :class:`BoundPassed`.
    """

    def __init__(self, bounds: Bounds, inner: httpx2.BaseTransport | None = None) -> None:
        self.bounds = bounds
        self.inner = inner if inner is not None else httpx2.HTTPTransport()
        self.deadline = time.monotonic() + bounds.scenario_seconds

    def restart(self) -> None:
        """A new scenario: its deadline starts now."""
        self.deadline = time.monotonic() + self.bounds.scenario_seconds

    def late(self) -> bool:
        return time.monotonic() >= self.deadline

    def late_message(self) -> str:
        return (f"the scenario passed its {self.bounds.scenario_seconds:g} s deadline; conform "
                "stopped reading (--scenario-timeout)")

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BoundPassed(self.late_message(), request=request)
        asked = request.extensions.get("timeout") or {}
        request.extensions["timeout"] = {
            key: left if asked.get(key) is None else min(float(asked[key]), left)
            for key in ("connect", "read", "write", "pool")}
        response = self.inner.handle_request(request)
        streamed = _media(response.headers.get("content-type")) == "text/event-stream"
        inner = response.stream
        assert isinstance(inner, httpx2.SyncByteStream)  # a sync transport's answer
        capped = _Capped(inner, self.bounds.stream_bytes if streamed else self.bounds.body_bytes,
                         "stream" if streamed else "body", self, request)
        return httpx2.Response(response.status_code, headers=response.headers, stream=capped,
                               extensions=response.extensions)

    def close(self) -> None:
        self.inner.close()


def bounded_client(base_url: str, *, api_key: str, headers: dict[str, str] | None = None,
                   bounds: Bounds = Bounds()) -> tuple[openai.OpenAI, BoundedTransport]:
    """An openai client for a grade whose every answer is held to ``bounds``, and
    its transport (to :meth:`~BoundedTransport.restart` per scenario). Raises
    ``ValueError`` for a base URL that is not one."""
    transport = BoundedTransport(bounds)
    timeout = httpx2.Timeout(bounds.timeout)
    try:
        http = httpx2.Client(transport=transport, timeout=timeout, follow_redirects=True)
        client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0,
                               timeout=timeout, default_headers=dict(headers or {}),
                               http_client=http)
    except httpx2.InvalidURL as exc:
        raise ValueError(f"--base-url {base_url!r} is not a URL ({exc})") from None
    return client, transport


def _bound(exc: BaseException) -> BoundPassed | None:
    """The :class:`BoundPassed` behind ``exc`` (the SDK wraps it), if any."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, BoundPassed):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _unreachable(exc: BaseException, timeout: Any) -> str:
    """One sentence for a request that got no answer: where, and why."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    where = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}" \
        if isinstance(url, httpx2.URL) else "the server"
    seconds = getattr(timeout, "read", timeout)
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, openai.APITimeoutError) or isinstance(cause, httpx2.TimeoutException):
        kind = "connect" if isinstance(cause, httpx2.ConnectTimeout) else "read"
        figure = f" within {seconds:g} s" if isinstance(seconds, (int, float)) else ""
        return f"no answer from {where}{figure} ({kind} timeout; --timeout)"
    reason = ""
    while cause is not None and not reason:
        reason = getattr(cause, "strerror", None) or ""
        if not reason and isinstance(cause, httpx2.TransportError):
            reason = str(cause).split("] ", 1)[-1]
        cause = cause.__cause__ or cause.__context__
    return f"cannot reach {where} ({excerpt(reason or type(exc).__name__, 200)})"


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
    """One flow of a scenario and what was learned about it. Its events are graded as
    they arrive (:attr:`grade`); :attr:`tap` keeps a bounded window of them."""

    label: str
    flow: Flow
    tap: Tap = field(init=False)
    grade: FlowGrade = field(init=False)
    findings: list[Finding] = field(default_factory=list)
    left_at: list[int] = field(default_factory=list)
    """Indices where the grader left a stream on purpose (its ``truncated`` is no finding)."""
    checked: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.tap = Tap(self.flow)
        self.grade = FlowGrade(self.flow, self.tap.window)
        self.tap.see = self.grade.see

    def watch(self, watch: Watch) -> Watch:
        """Answer ``watch`` from the events still to come (a scenario's own check)."""
        self.grade.watches.append(watch)
        return watch


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
        message = body["error"]["message"] if problem is None else response.text
        return Refused(response.status_code, excerpt(str(message)))

    def _read_seconds(self) -> float:
        timeout: Any = self.client.timeout
        seconds = getattr(timeout, "read", timeout)
        return float(seconds) if isinstance(seconds, (int, float)) else float("inf")

    def _no_answer(self, exc: BaseException) -> str:
        bound = _bound(exc)
        if bound is not None:
            return str(bound)
        return _unreachable(exc, self.client.timeout).replace("cannot reach", "no answer from", 1)

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
                except BoundPassed as exc:
                    probe.left_at.append(probe.flow.event_count)
                    probe.findings.append(Finding("http.status", "error", f"{label}: {exc}",
                                                  probe.flow.event_count))
                except httpx2.ReadTimeout:  # a frame that never came: cut here
                    probe.findings.append(Finding(
                        "http.status", "error", f"{label}: no frame within "
                        f"{self._read_seconds():g} s (read timeout; --timeout)",
                        probe.flow.event_count))
                except TRANSPORT_ERRORS:
                    pass  # a cut stream: the flow reports it truncated
                probe.tap.close()
                self._record(label, response.http_request, response.status_code, content_type,
                             start, probe.flow.event_count - before)
        except openai.APIStatusError as exc:
            raise self._failed(probe, label, exc, start, probe.findings) from None
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
            if not self.reached and _bound(exc) is None:
                raise CouldNotRun(_unreachable(exc, self.client.timeout)) from None
            probe.findings.append(Finding("http.status", "error",
                                          f"{label}: {self._no_answer(exc)}"))
            probe.tap.close()
        except BoundPassed as exc:  # e.g. a JSON answer to a stream, past the body cap
            probe.left_at.append(probe.flow.event_count)  # the finding says why it ends
            probe.findings.append(Finding("http.status", "error", f"{label}: {exc}",
                                          probe.flow.event_count))
            probe.tap.close()
        except TRANSPORT_ERRORS as exc:  # cut while its JSON answer was read
            probe.findings.append(Finding("http.status", "error",
                                          f"{label}: {self._no_answer(exc)}"))
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
            what = f" (a {excerpt(kind, 60)!r} object)" if isinstance(kind, str) else ""
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
            if not self.reached and _bound(exc) is None:
                raise CouldNotRun(_unreachable(exc, self.client.timeout)) from None
            findings.append(Finding("http.status", "error", f"{label}: {self._no_answer(exc)}",
                                    key=key))
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
            bound = _bound(exc)
            if bound is not None:
                raise NotApplicable(f"{label}: {bound}") from None
            raise CouldNotRun(_unreachable(exc, self.client.timeout)) from None
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
            if self.reached or _bound(exc) is not None:
                probe.findings.append(Finding("http.status", "error",
                                              f"{label}: {self._no_answer(exc)}"))
                return None
            raise CouldNotRun(_unreachable(exc, self.client.timeout)) from None
        self._record(label, raw.http_request, raw.status_code, raw.headers.get("content-type"),
                     start)
        probe.findings.append(Finding("http.status", "error",
                                      f"{label}: answered {raw.status_code}; an unknown id "
                                      "is a 4xx"))
        return int(raw.status_code)
