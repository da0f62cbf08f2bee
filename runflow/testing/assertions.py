"""Assertions for tests: a run or a response is valid, or the failure lists what
was wrong.

:func:`raise_for_violations` is what ``RunFlow.raise_for_violations()`` calls, and
:func:`assert_valid_run` adds checks of the root's final status and ending; both
read only the generic flow API, so they take a flow of any protocol.
:func:`assert_valid_response` is the Responses spelling: it also refuses a flow of
another protocol, and takes what ``drive_response`` returns (every response of the
function-call loop must be valid; the status is the last one's). All raise
:class:`RunViolationsError`, an ``AssertionError``, so pytest reports it as a
failed assertion, with one line per violation (index, severity, code, entity,
message) under a header saying what was expected.

Only error-severity violations fail: warnings (an unknown event, an orphan
message) never raise, as in strict mode. ``allow`` names codes that are expected,
e.g. ``allow={"truncated"}`` for a test that cuts the stream on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from runflow.engine.view import FlowView
from runflow.engine.violations import Code, Violation

__all__ = ["RunViolationsError", "assert_valid_response", "assert_valid_run",
           "raise_for_violations"]

RESPONSE = "response"
"""The root kind of a Responses flow (``flow.root_kind``)."""


class RunViolationsError(AssertionError):
    """A run broke the protocol (or ended otherwise than expected).

    ``violations`` holds the unexpected error-severity violations, in input order.
    """

    def __init__(self, message: str, violations: Sequence[Violation]) -> None:
        super().__init__(message)
        self.violations = list(violations)


def _codes(allow: Iterable[str]) -> frozenset[str]:
    if isinstance(allow, str):  # one code given bare: allow="truncated"
        allow = (allow,)
    codes = frozenset(str(c) for c in allow)
    unknown = sorted(codes - {c.value for c in Code})
    if unknown:
        raise ValueError(f"allow names unknown violation code(s): {', '.join(unknown)}; "
                         f"known: {', '.join(c.value for c in Code)}")
    return codes


def _table(violations: Sequence[Violation]) -> list[str]:
    """One aligned line per violation: ``+ #index  code  entity  message``."""
    rows = [(f"#{v.index}", v.code.value, str(v.entity or "-"), v.message) for v in violations]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return ["  + " + "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True))
            + "  " + row[3] for row in rows]


def _unexpected(flow: FlowView, allow: Iterable[str]) -> list[Violation]:
    allowed = _codes(allow)
    return [v for v in flow.violations
            if v.severity == "error" and v.code.value not in allowed]


def _where(flow: FlowView) -> str:
    kind = flow.root_kind
    root = f"{kind} {flow.root_id}" if flow.root_id else f"a flow with no {kind}"
    return f"{root} (status {flow.root_state}, ending {flow.ending or 'open'})"


def raise_for_violations(flow: FlowView, *, allow: Iterable[str] = ()) -> None:
    """Raise :class:`RunViolationsError` if ``flow`` has an error-severity violation
    whose code is not in ``allow``; its message lists each one."""
    found = _unexpected(flow, allow)
    if not found:
        return
    allowed = sorted(_codes(allow))
    expected = "no error-severity violation" + (
        f" other than {', '.join(allowed)}" if allowed else "")
    lines = [f"{_where(flow)}: {len(found)} unexpected violation(s)",
             f"  - expected: {expected}", *_table(found)]
    raise RunViolationsError("\n".join(lines), found)


def assert_valid_run(flow: FlowView, *, allow: Iterable[str] = (),
                     status: str | None = None, ending: str | None = None) -> None:
    """:func:`raise_for_violations`, then check the run's final ``status`` and the
    last stream's ``ending`` when they are given."""
    raise_for_violations(flow, allow=allow)
    problems = []
    if status is not None and flow.root_state != status:
        problems.append(f"  - expected status: {status}\n  + got status:      {flow.root_state}")
    if ending is not None and flow.ending != ending:
        problems.append(f"  - expected ending: {ending}\n  + got ending:      {flow.ending}")
    if problems:
        raise RunViolationsError("\n".join([f"{_where(flow)}: not the expected outcome",
                                            *problems]), [])


class Driven(Protocol):
    """What ``drive_response`` returns: one flow per response created, in order."""

    @property
    def flows(self) -> Sequence[FlowView]: ...


def assert_valid_response(flow: FlowView | Driven, *, allow: Iterable[str] = (),
                          status: str | None = None, ending: str | None = None) -> None:
    """:func:`assert_valid_run` for a Responses flow (``ResponseFlow``), or for every
    flow of a ``DrivenResponse`` (``status`` and ``ending`` then concern the last
    one, the response that asked for no call)."""
    flows = list(flow.flows) if not isinstance(flow, FlowView) else [flow]
    if not flows:
        raise RunViolationsError("no response: drive_response created none", [])
    for one in flows:
        if one.root_kind != RESPONSE:
            raise TypeError(f"assert_valid_response takes a Responses flow, not a flow of "
                            f"{one.root_kind}s (use assert_valid_run)")
    for one in flows[:-1]:
        raise_for_violations(one, allow=allow)
    assert_valid_run(flows[-1], allow=allow, status=status, ending=ending)
