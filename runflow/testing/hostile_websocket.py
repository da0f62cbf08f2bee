"""Hostile cases of the Responses WebSocket mode, for the README's table
(:mod:`runflow.testing.hostile`): wrong types in client and server frames, a frame
nested deep, NaN, and floods a :class:`ConnectionFlow` must keep within ``Limits``.

Each case feeds frames through the public API only (``send``, ``receive``,
``close``) and says what the flow answered: violation codes at their frame index,
and a fact read from the flow's records.
"""

from __future__ import annotations

from typing import Any

from runflow.protocols.responses.websocket import ConnectionFlow
from runflow.testing.hostile_memory import FLOOD, FRAGMENT, SMALL
from runflow.testing.hostile_model import Bound, MiB, Outcome

__all__ = [
    "LANE_FLOOD_BOUND",
    "case_ws_deep_frame",
    "case_ws_lane_flood",
    "case_ws_nan",
    "case_ws_part_id_is_an_object",
    "case_ws_steer_is_a_list",
    "case_ws_stream_id_is_an_object",
    "case_ws_text_flood",
    "case_ws_violation_names",
]

Frame = dict[str, Any]
LANE_FRAMES = 20_000
LANE_FLOOD_BOUND = Bound(4 * MiB, "4 MiB (kept whole: 20,000 violations, about 24 MiB)")


def ws_said(flow: ConnectionFlow) -> str:
    if not flow.violations:
        return "no violation"
    return ", ".join(f"`{v.code}` @ {v.index}" for v in flow.violations)


class Talk:
    """A conversation on lane ``a``: a create, then one response's numbered events."""

    def __init__(self, flow: ConnectionFlow | None = None, rid: str = "resp_ws") -> None:
        self.flow = flow if flow is not None else ConnectionFlow()
        self.rid = rid
        self.seq = 0
        self.flow.send({"type": "response.create", "model": "gpt-4o", "input": "hi",
                        "stream_id": "a"})

    def event(self, kind: str, **fields: Any) -> Talk:
        self.flow.receive({"type": kind, "sequence_number": self.seq, "stream_id": "a",
                           **fields})
        self.seq += 1
        return self

    def message(self, part: Frame | None = None) -> Talk:
        self.event("response.created", response={"id": self.rid, "object": "response",
                                                 "status": "in_progress", "output": []})
        self.event("response.output_item.added", output_index=0, item={
            "id": "msg_0", "type": "message", "status": "in_progress", "role": "assistant",
            "content": []})
        return self.event("response.content_part.added", item_id="msg_0", output_index=0,
                          content_index=0, part={"type": "output_text", "text": "",
                                                 "annotations": [], **(part or {})})

    def delta(self, text: str) -> Talk:
        return self.event("response.output_text.delta", item_id="msg_0", output_index=0,
                          content_index=0, delta=text)


# --------------------------------------------------------------------------- #
# types
# --------------------------------------------------------------------------- #
def case_ws_stream_id_is_an_object() -> Outcome:
    flow = ConnectionFlow()
    flow.send({"type": "response.create", "model": "gpt-4o", "input": "hi",
               "stream_id": {"lane": 1}})
    return Outcome(f"{ws_said(flow)}; no lane opened ({len(flow.lanes)} lanes)")


def case_ws_steer_is_a_list() -> Outcome:
    talk = Talk()
    talk.event("response.created", response={"id": talk.rid, "object": "response",
                                             "status": "in_progress", "output": []})
    talk.flow.receive({"type": "response.steer.accepted", "stream_id": "a", "steer": []})
    return Outcome(f"{ws_said(talk.flow)}; the response stays in flight "
                   f"(lane `{talk.flow.lanes['a'].state}`)")


def case_ws_part_id_is_an_object() -> Outcome:
    talk = Talk().message({"id": {"x": 1}}).delta("Hel").delta("lo")
    text = talk.flow.responses[talk.rid].flow.text
    return Outcome(f"{ws_said(talk.flow)}; the part is found by its position: text {text!r}")


# --------------------------------------------------------------------------- #
# nesting and encoding
# --------------------------------------------------------------------------- #
def case_ws_deep_frame() -> Outcome:
    talk = Talk()
    said = talk.flow.receive('{"type": "response.created", "response": '
                             + "[" * 100_000 + "]" * 100_000 + "}")
    deep = "naming the depth" if said and "nested deeper" in said[0].message else "?"
    return Outcome(f"{ws_said(talk.flow)} {deep}; the create is still queued "
                   f"({talk.flow.lanes['a'].queued})")


def case_ws_nan() -> Outcome:
    talk = Talk()
    talk.flow.receive('{"type": "response.created", "stream_id": "a", "response": '
                      '{"id": "resp_ws", "temperature": NaN}}')
    return Outcome(f"{ws_said(talk.flow)}; {len(talk.flow.responses)} responses")


# --------------------------------------------------------------------------- #
# memory
# --------------------------------------------------------------------------- #
NAME_CHARS = 2 * MiB


def case_ws_violation_names() -> Outcome:
    flow = ConnectionFlow()
    for i in range(100):
        flow.receive({"type": f"{i:08d}" + "x" * (NAME_CHARS - 8), "stream_id": "nope"})
    most = flow.limits.max_message_text + 64  # the cut text says how long it was
    cut = all(len(v.message) <= most and len(v.event or "") <= most
              and f"({NAME_CHARS} characters)" in (v.event or "") for v in flow.violations)
    how = "cut at `max_message_text`, stating the length" if cut else "KEPT WHOLE"
    codes = sorted({v.code for v in flow.violations})
    return Outcome(f"{len(flow.violations)} × `{'`, `'.join(codes)}`; names and messages "
                   f"{how}")


def case_ws_lane_flood() -> Outcome:
    flow = ConnectionFlow()
    for _ in range(LANE_FRAMES):
        flow.receive({"type": "response.output_text.delta", "stream_id": "nope",
                      "delta": "x"})
    kept = len(flow.violations)
    last = flow.violations[-1]
    return Outcome(f"{kept - 1} × `unknown_lane`, then `{last.code}` @ {last.index}; "
                   f"{flow.suppressed.get('unknown_lane', 0):,} counted in `suppressed`")


def case_ws_text_flood() -> Outcome:
    talk = Talk(ConnectionFlow(limits=SMALL)).message()
    for i in range(FLOOD // FRAGMENT):
        talk.delta(f"{i:08d}" + "x" * (FRAGMENT - 8))
    text = talk.flow.responses[talk.rid].flow.text
    return Outcome(f"{ws_said(talk.flow)}; the message holds {len(text) // MiB} MiB")
