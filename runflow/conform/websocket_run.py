"""Run one WebSocket scenario and grade its connections: what the runner turns into a
:class:`~.runner.ScenarioResult` (:func:`run_websocket`).

A scenario ends ``passed`` unless it raised: :class:`~.session.NotApplicable` (the
server cannot be made to do it), :class:`~.session.Refused` (the handshake was
answered 4xx: not applicable; 5xx: failed, with an ``http.status`` finding),
:class:`~.websocket_session.Ended` (the connection ended or a bound passed before the
scenario was done: what was recorded is graded, and the row's outcome is not judged),
or a hostile value it could not read (``error``). The runner then fails it for any
error finding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from runflow.conform.findings import Finding, Group
from runflow.conform.session import Exchange, NotApplicable, Refused
from runflow.conform.websocket_context import WsContext, WsScenario
from runflow.conform.websocket_grade import ConnectionProbe, grade_connection
from runflow.conform.websocket_session import Ended, WsSession

__all__ = ["WsRun", "run_websocket"]


@dataclass
class WsRun:
    """One scenario's run: how it ended and each connection, graded."""

    status: str = "passed"
    reason: str = ""
    graded: list[tuple[ConnectionProbe, list[Group]]] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    seconds: float = 0.0


def run_websocket(session: WsSession, scenario: WsScenario, model: str) -> WsRun:
    """Run ``scenario`` (its deadline starts now) and grade what it recorded; raises
    :class:`~.session.CouldNotRun` when the server cannot be reached."""
    session.restart()
    first = len(session.exchanges)
    ctx = WsContext(session, model, scenario.name)
    run = WsRun()
    found: list[Finding] = []
    finished = False
    start = time.monotonic()
    try:
        scenario.run(ctx)
        finished = True
    except NotApplicable as exc:
        run.status, run.reason = "not_applicable", str(exc)
    except Refused as exc:
        run.status = "not_applicable" if exc.status < 500 else "failed"
        run.reason = f"the WebSocket handshake was refused ({exc})"
        if exc.status >= 500:
            found.append(Finding("http.status", "error", f"the WebSocket handshake was "
                                 f"answered {exc.status}"))
    except Ended as exc:
        run.status, run.reason = "error", f"the connection ended before the scenario did: {exc}"
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        run.status, run.reason = "error", f"{type(exc).__name__}: {exc}"[:300]
    finally:
        for conn in ctx.connections:
            conn.close()
    run.seconds = time.monotonic() - start
    run.exchanges = session.exchanges[first:]
    run.notes = ctx.notes
    for number, conn in enumerate(ctx.connections):
        probe, groups = grade_connection(conn.label, conn.frames, number,
                                         [*conn.findings, *found],
                                         scenario.expects if finished else None,
                                         scenario.name)
        found = []
        run.graded.append((probe, groups))
        run.checked |= probe.checked
    if found:  # no connection was opened
        probe, groups = grade_connection("handshake", [], 0, found, None, scenario.name)
        run.graded.append((probe, groups))
        run.checked.add("http.status")
    return run
