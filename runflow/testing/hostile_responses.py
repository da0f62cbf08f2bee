"""Hostile cases on the Responses side and round two of the Assistants side (issue
24), for the README's table (:mod:`runflow.testing.hostile`): fields the views hand
to the SDK's types, limits per message and per call, damaged checkpoints, callbacks
that edit what they receive.

The streams are built here in the wire shape of the OpenAI captures
(``response.created`` ... ``response.completed``, numbered by ``sequence_number``).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

from runflow.engine.checkpoint import CheckpointError
from runflow.protocols.responses.flow import ResponseFlow
from runflow.testing.hostile_memory import FLOOD, FRAGMENT, SMALL
from runflow.testing.hostile_model import MiB, Outcome

__all__ = [
    "PARTS",
    "ResponseStream",
    "case_arguments_flood",
    "case_decoder_past_max_event_bytes",
    "case_item_with_empty_raw",
    "case_message_parts_flood",
    "case_part_callback_edits_annotations",
    "case_part_id_is_an_int",
    "case_shell_action_is_a_string",
    "responses_said",
]

Event = dict[str, Any]
RID = "resp_hostile"


def _response(status: str) -> Event:
    return {"id": RID, "object": "response", "created_at": 1774963893, "status": status,
            "model": "gpt-4o-mini", "output": [], "tools": [], "parallel_tool_calls": True,
            "tool_choice": "auto", "metadata": {}}


class ResponseStream:
    """Numbered Responses events, added one by one."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.add("response.created", response=_response("in_progress"))

    def add(self, kind: str, **fields: Any) -> ResponseStream:
        self.events.append({"type": kind, "sequence_number": len(self.events), **fields})
        return self

    def item(self, index: int, **item: Any) -> ResponseStream:
        return self.add("response.output_item.added", output_index=index,
                        item={"status": "in_progress", **item})

    def message(self, index: int = 0, mid: str = "msg_0") -> ResponseStream:
        return self.item(index, id=mid, type="message", role="assistant", content=[])

    def part(self, j: int, index: int = 0, mid: str = "msg_0", **extra: Any) -> ResponseStream:
        return self.add("response.content_part.added", item_id=mid, output_index=index,
                        content_index=j,
                        part={"type": "output_text", "text": "", "annotations": [], **extra})


def responses_said(flow: ResponseFlow) -> str:
    if not flow.violations:
        return "no violation"
    return ", ".join(f"`{v.code.value}` @ {v.index}" for v in flow.violations)


def _fed(events: list[Event], **options: Any) -> ResponseFlow:
    flow = ResponseFlow(**options)
    for event in events:
        flow.feed(event)
    return flow


# --------------------------------------------------------------------------- #
# types: fields the views hand to the SDK's types
# --------------------------------------------------------------------------- #
def case_shell_action_is_a_string() -> Outcome:
    stream = ResponseStream().item(0, id="sh_0", type="shell_call", call_id="call_1",
                                   action="rm -rf /")
    stream.add("response.shell_call_command.added", output_index=0, command_index=0)
    flow = _fed(stream.events)
    items = len(flow.output) + len(flow.response.output if flow.response else [])
    return Outcome(f"{responses_said(flow)}; the shell_call is not registered "
                   f"({items} items in `flow.output` and `flow.response`)")


def case_part_id_is_an_int() -> Outcome:
    stream = ResponseStream().message().part(0, id=7)
    for delta in ("Hel", "lo"):
        stream.add("response.output_text.delta", item_id="msg_0", output_index=0,
                   content_index=0, delta=delta)
    flow = _fed(stream.events)
    parts = flow.output[0].content  # type: ignore[attr-defined]
    return Outcome(f"{responses_said(flow)}; the part is found by its position: the "
                   f"message holds {len(parts)} part, text {flow.text!r}")


def case_item_id_is_an_int() -> Outcome:
    stream = ResponseStream().item(0, id=7, type="message", role="assistant", content=[])
    stream.part(0)
    for delta in ("Hel", "lo"):
        stream.add("response.output_text.delta", item_id="msg_0", output_index=0,
                   content_index=0, delta=delta)
    flow = _fed(stream.events)
    return Outcome(f"{responses_said(flow)}; the item is found by its position: "
                   f"{len(flow.output)} item, text {flow.text!r}")


def case_tool_name_is_an_int() -> Outcome:
    response = {**_response("in_progress"), "tools": [
        {"type": "function", "name": 42, "parameters": {}, "strict": True}]}
    flow = _fed([{"type": "response.created", "sequence_number": 0, "response": response}])
    return Outcome(f"{responses_said(flow)}; the tool offers no function")


# --------------------------------------------------------------------------- #
# memory: limits per message and per call
# --------------------------------------------------------------------------- #
PARTS = 8
"""The parts flood spreads its 8 MiB over this many parts: 1 MiB each, the limit."""


def _fragments(count: int) -> Iterator[str]:
    for i in range(count):
        yield f"{i:08d}" + "x" * (FRAGMENT - 8)


def _flood(events: list[Event], deltas: Iterator[Event]) -> ResponseFlow:
    flow = _fed(events, limits=SMALL)
    for delta in deltas:  # as SSE bytes, as a server sends them
        flow.feed_sse(f"event: {delta['type']}\ndata: {json.dumps(delta)}\n\n".encode())
    return flow


def case_message_parts_flood() -> Outcome:
    stream = ResponseStream().message()
    for j in range(PARTS):
        stream.part(j)
    per_part = FLOOD // FRAGMENT // PARTS

    def deltas() -> Iterator[Event]:
        n = len(stream.events)
        for j in range(PARTS):
            for fragment in _fragments(per_part):
                yield {"type": "response.output_text.delta", "item_id": "msg_0",
                       "output_index": 0, "content_index": j, "delta": fragment,
                       "sequence_number": n}
                n += 1

    flow = _flood(stream.events, deltas())
    return Outcome(f"{responses_said(flow)}; the message holds "
                   f"{len(flow.text) / MiB:g} MiB")


def case_arguments_flood() -> Outcome:
    stream = ResponseStream().item(0, id="fc_0", type="function_call", call_id="call_1",
                                   name="f", arguments="")

    def deltas() -> Iterator[Event]:
        for n, fragment in enumerate(_fragments(FLOOD // FRAGMENT), start=len(stream.events)):
            yield {"type": "response.function_call_arguments.delta", "item_id": "fc_0",
                   "output_index": 0, "delta": fragment, "sequence_number": n}

    flow = _flood(stream.events, deltas())
    return Outcome(responses_said(flow))


# --------------------------------------------------------------------------- #
# checkpoints
# --------------------------------------------------------------------------- #
def _responses_checkpoint() -> dict[str, Any]:
    stream = ResponseStream().message().part(0)
    stream.add("response.output_text.delta", item_id="msg_0", output_index=0,
               content_index=0, delta="hi")
    return json.loads(_fed(stream.events).to_json())  # type: ignore[no-any-return]


def _loads(edit: Callable[[dict[str, Any]], None]) -> Outcome:
    data = copy.deepcopy(_responses_checkpoint())
    edit(data)
    try:
        flow = ResponseFlow.from_json(json.dumps(data))
    except CheckpointError:
        return Outcome("`CheckpointError` at load")
    flow.response  # noqa: B018 -- what raised later, once
    return Outcome(f"LOADED; {responses_said(flow)}")


def case_item_with_empty_raw() -> Outcome:
    return _loads(lambda d: next(iter(d["state"]["children"]["message"].values()))
                  .__setitem__("raw", {}))


def case_decoder_past_max_event_bytes() -> Outcome:
    def edit(data: dict[str, Any]) -> None:
        data["settings"]["limits"]["max_event_bytes"] = 1024
        data["state"]["decoder"]["pending"] = "data: {" + "x" * 4096
    return _loads(edit)


# --------------------------------------------------------------------------- #
# callbacks
# --------------------------------------------------------------------------- #
def case_part_callback_edits_annotations() -> Outcome:
    stream = ResponseStream().message()
    annotation = {"type": "url_citation", "url": "https://example.com", "start_index": 0,
                  "end_index": 2, "title": "t", "vendor": {"rank": [1]}}
    logprobs = [{"token": "hi", "logprob": -0.1, "top_logprobs": []}]
    part = {"type": "output_text", "text": "hi", "annotations": [annotation],
            "logprobs": logprobs}
    where = {"item_id": "msg_0", "output_index": 0, "content_index": 0}
    stream.add("response.content_part.added", **where,
               part={**part, "text": "", "annotations": []})
    stream.add("response.output_text.delta", **where, delta="hi")
    stream.add("response.output_text.done", **where, text="hi")
    stream.add("response.content_part.done", **where, part=part)
    flow = ResponseFlow()
    calls = 0

    @flow.on_part("output_text", "done")
    def edit(received: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        received["annotations"][0]["vendor"]["rank"].append(2)
        received["annotations"][0]["url"] = "https://elsewhere"
        received["logprobs"][0]["token"] = "no"

    for event in copy.deepcopy(stream.events):
        flow.feed(event)
    kept = flow.output[0].content[0]  # type: ignore[attr-defined]
    same = (kept.annotations[0].url == annotation["url"]
            and kept.annotations[0].vendor == annotation["vendor"]
            and kept.logprobs[0].token == "hi")
    return Outcome(f"{calls} call; {responses_said(flow)}; the part keeps the server's "
                   f"annotation and logprobs: {'yes' if same else 'NO'}")

