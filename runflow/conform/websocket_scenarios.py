"""The WebSocket-mode scenarios: what ``runflow conform --protocol responses-ws`` drives.

One row per scenario (:class:`~.websocket_context.WsScenario`): what it does, what
the conversation shows when the server does what the row's source documents
(:class:`~.websocket_context.Expect`), and the source. Each scenario opens its own
connection to ``/v1/responses``. ``metadata`` asks an emulator for the behaviour
(``scenario``; ``hold`` holds a response until a steer arrives, so steering is
deterministic; ``steering``, ``successor``); a real server keeps it as plain
metadata, and a scenario whose documented refusal it answers instead (the steer
came after the response ended, steering is not supported) is not applicable.

Steering failures: every code of ``response.steer.failed`` that the local server can
produce has a row. ``response_not_active`` has none: the local server never sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runflow.conform.responses import FUNCTION_TOOLS, TOOL_OUTPUTS
from runflow.conform.session import NotApplicable
from runflow.conform.websocket_context import Expect, WsContext, WsScenario

__all__ = ["WEBSOCKET_SCENARIOS", "scenarios_markdown"]

MISSING = "resp_runflowConformMissing"
"""A response id no server knows."""
_LONG = " ".join(f"word{i}" for i in range(600))
"""Lane a's text in ``lanes``: long enough to be in flight while lane b streams, even
when a loaded machine delays lane b's create."""
_BAD_INPUT = [{"role": "assistant", "content": "not a user message"}]
"""Steering input that is not user input (``invalid_input``)."""


def turns(ctx: WsContext) -> None:
    conn = ctx.connect()
    ctx.create(conn, hint="parallel_functions", tools=FUNCTION_TOOLS,
               input="What is the weather in Paris, and the time there? Call both tools.")
    first = ctx.created(conn)
    ctx.settle(conn)
    calls = ctx.function_calls(first)
    if not calls:
        raise NotApplicable("the first response called no tool")
    outputs = [{"type": "function_call_output", "call_id": c.get("call_id"),
                "output": TOOL_OUTPUTS.get(str(c.get("name")), "ok")} for c in calls]
    ctx.create(conn, tools=FUNCTION_TOOLS, previous_response_id=first, input=outputs)
    ctx.settle(conn)
    ctx.notes.append(f"{len(calls)} function call(s) answered on the second turn")


def lanes(ctx: WsContext) -> None:
    conn = ctx.connect()
    ctx.create(conn, lane="a", metadata={"text": _LONG})
    ctx.create(conn, lane="b")
    ctx.settle(conn, "a")
    ctx.settle(conn, "b")


def steer_committed(ctx: WsContext) -> None:
    conn = ctx.connect()
    ctx.create(conn, lane="s", metadata={"hold": "steer"})
    target = ctx.created(conn, "s")
    ctx.steer(conn, target)
    mark = len(ctx.events)
    ctx.settle(conn, "s")
    _answered(ctx.answer(target, mark))


def steer_pending(ctx: WsContext) -> None:
    conn = ctx.connect()
    ctx.create(conn, lane="t", hint="parallel_functions", tools=FUNCTION_TOOLS,
               metadata={"hold": "steer"}, input="Weather and time in Paris? Call both tools.")
    target = ctx.created(conn, "t")
    ctx.steer(conn, target, "Also say which tool answered first.")
    mark = len(ctx.events)
    ctx.settle(conn, "t")
    _answered(ctx.answer(target, mark))
    pending = ctx.until(conn, lambda e: e.get("type") in (
        "response.steer.pending", "response.created", "response.steer.failed"), mark)
    if pending.get("type") != "response.steer.pending":
        raise NotApplicable(f"the steer was not left pending ({pending.get('type')} came)")
    stubs = pending.get("required_input")
    outputs = [{"type": "function_call_output", "call_id": s.get("call_id"),
                "output": TOOL_OUTPUTS.get(str(s.get("name")), "ok")}
               for s in stubs if isinstance(s, dict)] if isinstance(stubs, list) else []
    ctx.create(conn, lane="t", tools=FUNCTION_TOOLS, previous_response_id=target,
               input=outputs)
    ctx.settle(conn, "t")
    ctx.notes.append(f"{len(outputs)} required input(s) answered")


def _answered(answer: dict[str, Any] | None) -> None:
    """A steer that must be accepted: its documented refusals make the scenario not
    applicable (a server that does not steer, or a response that ended first)."""
    if answer is not None and answer.get("type") == "response.steer.failed":
        error = answer.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        if code in ("steering_not_supported", "response_already_completed",
                    "response_not_active"):
            raise NotApplicable(f"the steer failed with {code}")


def _failing(code: str, meta: dict[str, str], steers: int = 1, steer_input: Any = "Shorter.",
             target: str | None = None) -> Callable[[WsContext], None]:
    """A scenario whose steer (the last of ``steers``) fails with ``code``."""

    def run(ctx: WsContext) -> None:
        conn = ctx.connect()
        ctx.create(conn, lane="f", metadata=meta)
        rid = ctx.created(conn, "f")
        aim = target or rid
        for _ in range(steers):
            ctx.steer(conn, aim, steer_input)
        mark = len(ctx.events)
        ctx.settle(conn, "f")
        ctx.steer_answer(conn, aim, mark)
        if ctx.failed_steer(aim) != code:
            raise NotApplicable(f"the server could not be made to fail a steer with {code} "
                                f"(it answered {ctx.failed_steer(aim) or 'no failure'})")

    run.__name__ = f"steer_failed_{code}"
    return run


def steer_idle(ctx: WsContext) -> None:
    conn = ctx.connect()
    ctx.create(conn)
    rid = ctx.created(conn)
    ctx.settle(conn)
    ctx.steer(conn, rid)
    ctx.steer_answer(conn, rid, len(ctx.events))


def warm_up(ctx: WsContext) -> None:
    conn = ctx.connect()
    ctx.create(conn, generate=False)
    warm = ctx.created(conn)
    ctx.settle(conn)
    ctx.create(conn, previous_response_id=warm)
    ctx.settle(conn)


def previous_response_not_found(ctx: WsContext) -> None:
    conn = ctx.connect()
    ctx.create(conn, previous_response_id=MISSING)
    ctx.settle(conn)
    ctx.create(conn)
    ctx.settle(conn)


def busy_lane(ctx: WsContext) -> None:
    conn = ctx.connect()
    ctx.create(conn, lane="a", metadata={"hold": "steer"})
    first = ctx.created(conn, "a")
    ctx.create(conn, lane="a")
    ctx.steer(conn, first, _BAD_INPUT)  # releases an emulator's hold; refused either way
    ctx.settle(conn, "a", count=2)


_HOLD = {"hold": "steer"}
_SDK_FAILED = "SDK ResponseSteerFailedEvent"

WEBSOCKET_SCENARIOS: tuple[WsScenario, ...] = tuple(WsScenario(*row) for row in (
    ("turns", "create -> completed with function calls; a second turn with "
     "previous_response_id and function_call_output -> completed", turns,
     Expect(responses=("completed", "completed")), "WS Turns"),
    ("lanes", "two lanes (stream_id a and b) at once, each to completed", lanes,
     Expect(responses=("completed", "completed")), "WS Lanes; SDK stream_id"),
    ("steer_committed", "a steer accepted, the response ended steered, the successor's "
     "response.created commits it", steer_committed,
     Expect(responses=("incomplete", "completed"), steers=(("committed", None),)),
     "WS Steering; SDK ResponseSteerAcceptedEvent"),
    ("steer_pending", "a steer accepted while function calls run, pending after "
     "response.completed with required_input, answered by an explicit create",
     steer_pending,
     Expect(responses=("completed", "completed"), steers=(("committed", None),)),
     "WS Steering; SDK ResponseSteerPendingEvent"),
    *[(f"steer_failed_{code}", f"a steer failed with {code}: {how}",
       _failing(code, meta, steers, steer_input, target),
       Expect(steers=(("failed", code),)), _SDK_FAILED)
      for code, how, meta, steers, steer_input, target in (
          ("response_not_found", "it names a response no server knows", {}, 1, "Shorter.",
           MISSING),
          ("invalid_input", "its input is an assistant message", _HOLD, 1, _BAD_INPUT, None),
          ("steering_not_supported", "the response does not steer",
           {**_HOLD, "steering": "unsupported"}, 1, "Shorter.", None),
          ("too_many_pending_steers", "one steer more than the server queues",
           {"hold": "steer:5"}, 5, "Shorter.", None),
          ("successor_creation_failed", "the successor cannot be created",
           {**_HOLD, "successor": "fail"}, 1, "Shorter.", None),
      )],
    ("steer_idle", "a steer when no response is active: failed with "
     "response_already_completed", steer_idle,
     Expect(responses=("completed",), steers=(("failed", "response_already_completed"),)),
     _SDK_FAILED),
    ("warm_up", "generate: false -> completed without output; a turn chained from it",
     warm_up, Expect(responses=("completed", "completed")), "WS Turns (generate: false)"),
    ("previous_response_not_found", "a create naming an unknown previous_response_id is "
     "refused with an error event; the connection goes on", previous_response_not_found,
     Expect(responses=("completed",), errors=("previous_response_not_found",)),
     "WS Turns (gateway error codes)"),
    ("busy_lane", "a second create on a lane whose response is in flight waits its turn "
     "(FIFO)", busy_lane, Expect(responses=("completed", "completed")), "WS Lanes (FIFO)"),
))


def scenarios_markdown() -> str:
    """The catalogue as a Markdown table (for the README)."""
    lines = ["| scenario | what it drives | expects | source |", "|---|---|---|---|"]
    lines += [f"| `{s.name}` | {s.description} | {s.expects.describe()} | {s.source} |"
              for s in WEBSOCKET_SCENARIOS]
    return "\n".join(lines) + "\n"
