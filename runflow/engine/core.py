"""The engine's base: what every step of an event shares.

:class:`FlowCore` holds a flow's parts (the definition compiled, the state record,
the settings, the callback registry) and the three things every step uses:
reporting a violation (:meth:`FlowCore._violate`, with the profile's verdicts and
the caps on repeats), ending an event (:meth:`FlowCore._finish_event`: fire the
queued callbacks, raise the strict error) and being told by a machine that an
entity entered a state (:meth:`FlowCore._entered`). The steps themselves are the
mixins beside it: :mod:`~runflow.engine.stream` (the stream machine),
:mod:`~runflow.engine.resolving` (which entity an event is about),
:mod:`~runflow.engine.status` (status events), :mod:`~runflow.engine.deltas`,
:mod:`~runflow.engine.recovery`; :mod:`~runflow.engine.flow` puts them together.

A step that rejects the current event raises :class:`Rejected` (via
:func:`reject`); the dispatcher turns it into a violation, and nothing of the
event was applied.
"""

from __future__ import annotations

import os
import re
import traceback
from typing import Any, ClassVar, Literal, NoReturn

from runflow.engine.accumulator import shorten
from runflow.engine.callbacks import Callbacks
from runflow.engine.definition import Protocol
from runflow.engine.driving import AsyncDriving
from runflow.engine.entities import Tracker
from runflow.engine.hooks import CallbackFailure, Hooks
from runflow.engine.limits import Limits
from runflow.engine.machines import compiled
from runflow.engine.profiles import Profile
from runflow.engine.shapes import Misfit
from runflow.engine.sse import SSEDecoder
from runflow.engine.state import FlowState
from runflow.engine.view import FlowView
from runflow.engine.violations import RULES, Code, EntityRef, ProtocolError, Severity, Violation

__all__ = ["SCREEN_FROM", "BadData", "FlowCore", "Rejected", "describe_bug", "may_overflow",
           "reject", "slot_key", "spot"]


class BadData:
    """Stands for an event's data that could not be decoded; says why."""

    __slots__ = ("code", "reason")

    def __init__(self, reason: str, code: Code = Code.MALFORMED_EVENT) -> None:
        self.reason = reason
        self.code = code


class Rejected(Exception):
    """The current event broke a rejecting rule (internal to the engine: the
    dispatcher reports it as a violation)."""

    def __init__(self, code: Code, message: str, entity: EntityRef | None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.entity = entity


def reject(code: Code, message: str, entity: Tracker | EntityRef | None = None) -> NoReturn:
    """Reject the current event: nothing of it is applied."""
    ref = entity.ref if isinstance(entity, Tracker) else entity
    raise Rejected(code, message, ref)


_DEFAULT_LIMITS = Limits()
"""The limits of a flow given none: one frozen object, shared (not one per flow)."""

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
"""The ``runflow`` package's own directory: frames are matched by it, never by a
substring, so a checkout in a folder named ``runflow`` names the right frame."""


def describe_bug(exc: Exception) -> str:
    """``TypeError at runflow/protocols/assistants/content.py:305 (plain_fragment): ...`` for an
    internal error: the innermost frame inside runflow, so it can be reported."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
    where = ""
    if frames:
        f = frames[-1]
        inside = os.path.relpath(os.path.abspath(f.filename), _PACKAGE_DIR).replace(os.sep, "/")
        where = f" at {inside}:{f.lineno} ({f.name})"
    return (f"{type(exc).__name__}{where}: {shorten(str(exc), 200)}; this is a bug in "
            "runflow: the event was not applied as a whole, please report it")


def _screen_table() -> bytes:
    table = bytearray(b" " * 256)  # what may follow a number: , } ] and white space
    for c in b"ABCDFGHIJKLMNOPQRSTUVWXYZabcdfghijklmnopqrstuvwxyz_\\\"":
        table[c] = ord("a")  # what never touches a number: letters, quotes, escapes
    for c in b"0123456789+-":
        table[c] = ord("0")  # digits, and signs: an exponent's sign counts as a digit
    table[ord("e")] = table[ord("E")] = ord("e")
    return bytes(table)


_SCREEN = _screen_table()
_EXPONENT = re.compile(rb"e000+(?![^ ])")
"""In the mapped text: an exponent of three digits or more (its sign counted as one)
that ends where a number may end (a hex run inside an id does not)."""
_SOME_DIGITS = b"0" * 24
"""Part of any run of :data:`_LONG_DIGITS`, searched first: a short needle is found
(or not) several times faster than a 200-byte one, and real data has no such run."""
_LONG_DIGITS = b"0" * 200
"""A run of digits that may be the integer part of an overflowing literal: with an
exponent of at most two digits (99; three or more are screened apart), a finite
float has at most 309 - 99 = 210 of them (``1`` and 300 zeros ``e10`` is
infinite)."""
SCREEN_FROM = 512
"""Below this many bytes the walk (:func:`runflow.engine.jsonparse.has_non_finite`) is
about as cheap as the screen (measured: the screen about half the walk on a 740-byte
Response object, the two alike on the 200-350-byte items, parts and value events of a
stream; on text the walk is cheaper, the screen paying per byte and the walk per
value)."""


def may_overflow(raw: bytes | None) -> bool:
    """Whether JSON text may hold a number that parses to infinity: an exponent of
    three digits or more (``1e400``) or 200 digits in a row. ``from_json``
    refuses NaN and Infinity themselves; False here spares the walk of the parsed
    value. A screen at C speed: the bytes mapped to digit (signs too), exponent mark,
    letter-or-quote and other, then one search of the mapped text; an exponent counts
    only where what follows its digits may end a number (a hex run inside an id does
    not), and one inside a string only makes the walk run, which then finds nothing."""
    if raw is None or len(raw) < SCREEN_FROM:
        return True
    kept = raw.translate(_SCREEN)
    return (_EXPONENT.search(kept) is not None  # find, not ``in``: see SSEDecoder.feed
            or (kept.find(_SOME_DIGITS) >= 0 and kept.find(_LONG_DIGITS) >= 0))


def slot_key(group: str | None, indices: tuple[int, ...]) -> str:
    """Where a positioned entity sits: ``"output/2"``, ``"content/2/0"``."""
    if len(indices) == 1:
        return f"{group}/{indices[0]}"
    if len(indices) == 2:
        return f"{group}/{indices[0]}/{indices[1]}"
    return f"{group}/{'/'.join(map(str, indices))}"


def spot(fields: tuple[str, ...], indices: tuple[int, ...]) -> str:
    """``output_index=2, content_index=0``, for messages."""
    return ", ".join(f"{f}={i}" for f, i in zip(fields, indices, strict=True))


class FlowCore(FlowView, Callbacks, AsyncDriving):
    """A flow's parts and the steps every event shares (see the module)."""

    fast_paths: ClassVar[bool] = True
    """Whether events take the engine's shortcuts for their common case (a delta's
    entity found by one lookup of its indices, indices read without the general
    loop). False runs only the general path, which checks the same things one by one
    and names what is wrong: ``tests/test_hotpath.py`` feeds hostile streams both ways
    and finds the same states, snapshots and violations."""
    default_protocol: ClassVar[Protocol | None] = None
    """The definition a flow of this class runs when none is given (and that its
    checkpoints are read with): none for the engine's own :class:`~runflow.engine.flow.Flow`,
    each protocol's flow class names its own."""

    def __init__(
        self,
        *,
        strict: bool = False,
        limits: Limits | None = None,
        callback_errors: Literal["raise", "collect"] = "raise",
        protocol: Protocol | None = None,
        profile: Profile | None = None,
    ) -> None:
        protocol = protocol or self.default_protocol
        if protocol is None:
            raise TypeError(f"{type(self).__name__} runs the definition it is given: pass "
                            "protocol=..., or use a protocol's flow (runflow.RunFlow, "
                            "runflow.ResponseFlow)")
        if profile is not None and profile.protocol != protocol.name:
            raise ValueError(f"profile {profile.name!r} is for the {profile.protocol} "
                             f"protocol, not {protocol.name}")
        self.protocol = protocol
        self.profile = profile
        """How this server's known quirks are judged (:mod:`runflow.engine.profiles`)."""
        self.strict = strict
        self.limits = limits or _DEFAULT_LIMITS
        self.callback_errors = callback_errors
        self._c = compiled(protocol)
        self._s = FlowState(
            decoder=SSEDecoder(self.limits.max_event_bytes),
        )
        self._first_error: Violation | None = None
        self._hooks: Hooks | None = None
        self._deferred = False  # async driving: callbacks wait for aflush
        self._raw: bytes | None = None
        """The bytes of the event being processed, when it came as bytes: where they
        hold no number literal that could overflow to infinity, the walk of its
        values for non-finite numbers is skipped (:func:`may_overflow`)."""
        self._finite = False
        """True while an event is processed whose data the caller vouched for
        (``feed(..., finite=True)``: parsed from JSON text it screened): the walk for
        non-finite numbers is skipped."""
        # enter notifications of the status event being applied, told to the hooks
        # once it applied whole (so a failure half-way has nothing there to undo)
        self._staged: list[tuple[Tracker, str, int]] | None = None
        # the undo record of the status event being applied (runflow.engine.journal):
        # open while it is applied, completed by its first violation (_said)
        self._undo_open = False
        self._undo_said: tuple[Any, ...] | None = None
        self._last_delta: tuple[Any, ...] | None = None
        """The entity the last delta grew, while no other event came since
        (:meth:`runflow.engine.deltas.Deltas._on_delta`; None: look it up)."""
        self.callback_failures: list[CallbackFailure] = []
        """Callbacks that raised, when ``callback_errors="collect"``."""

    # ------------------------------------------------------------------ #
    # the end of each event
    # ------------------------------------------------------------------ #
    def _finish_event(self) -> None:
        # Take the strict error first: if a callback raises below, its error
        # propagates and the violation (already in the violations) must not leak
        # into the next event.
        first, self._first_error = self._first_error, None
        if self._hooks is not None and not self._deferred:
            self._hooks.flush(self)
        if first is not None:
            raise ProtocolError(first)

    # ------------------------------------------------------------------ #
    # violations
    # ------------------------------------------------------------------ #
    def _violate(
        self,
        code: Code,
        index: int,
        event: str | None,
        entity: EntityRef | None,
        message: str,
        severity: Severity | None = None,
    ) -> None:
        state = self._s
        if self._undo_open and self._undo_said is None:
            self._undo_said = self._said()  # before anything of it changes
        limits = self.limits
        kind = entity.kind if entity is not None else None
        if self.profile is not None:
            verdict = self.profile.verdict(code, kind)
            if verdict == "expected":
                state.expected[code.value] = state.expected.get(code.value, 0) + 1
                return
            if verdict is not None:
                severity = verdict
        key = f"{code.value} {kind}"
        seen = state.repeats.get(key, 0)
        state.repeats[key] = seen + 1
        limit = limits.max_repeated_violations
        if seen >= limit:
            state.suppressed[code.value] = state.suppressed.get(code.value, 0) + 1
            if seen > limit:
                return
            code, severity, entity = Code.LIMIT_EXCEEDED, "warning", None
            message = (f"more than {limit} violations of one kind ({kind or 'stream'}); "
                       "further ones are counted in flow.suppressed, not stored")
        path = message.path if isinstance(message, Misfit) else None  # before any cut
        cap = limits.max_message_text
        if event is not None and len(event) > cap:
            event = f"{event[:cap]}…({len(event)} characters)"
        if len(message) > cap:
            message = f"{message[:cap]}…({len(message)} characters)"
        else:
            message = str(message)  # a plain str, not the Misfit that carried the path
        violation = Violation(
            code=code,
            severity=severity or RULES[code].severity,
            index=index,
            event=event,
            entity=entity,
            message=message,
            path=path,
        )
        state.violations.append(violation)
        if self._hooks is not None:
            self._hooks.violation(violation)
        if self.strict and violation.severity == "error" and self._first_error is None:
            self._first_error = violation

    def _said(self) -> tuple[Any, ...]:
        """What a violation changes, as it was: saved for the undo of a status event
        by its first violation (:mod:`runflow.engine.journal`). A clean stream's
        counters are empty: nothing to copy (None, put back as empty)."""
        s = self._s
        hooks = self._hooks
        return (
            len(s.violations),
            dict(s.repeats) if s.repeats else None,
            dict(s.suppressed) if s.suppressed else None,
            dict(s.expected) if s.expected else None,
            self._first_error,
            len(hooks.pending) if hooks is not None else None,
        )

    # ------------------------------------------------------------------ #
    # enter hook (called by the machines)
    # ------------------------------------------------------------------ #
    def _entered(self, tracker: Tracker, state: str) -> None:
        hooks = self._hooks
        if hooks is None:
            return
        if self._staged is not None:  # a status event is being applied: see _on_status
            self._staged.append((tracker, state, len(hooks.pending)))
        else:
            hooks.entered(self._s, tracker, state)
