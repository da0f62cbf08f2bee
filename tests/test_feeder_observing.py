"""A listener that is the flow's observer itself
(:class:`runflow.adapters.recording_feed.Observing`, ``runflow check``'s grader):
the feeder hands it each chunk, and it does the feeder's part of each SSE event
(settle what the event before got, note the event's offset) beside its own.

Checked here with a listener built in the test: it is called once per event, with
the flow's numbering across chunks of any size, it is told each violation before
the next event with the event's line known, and the feeder holds no event for it.
"""

from __future__ import annotations

from typing import Any

import pytest

from runflow.adapters.recording import new_flow
from runflow.adapters.recording_feed import Feeder
from runflow.engine.flow import Observer
from runflow.engine.violations import Violation

STREAM = (
    b'event: thread.run.created\ndata: {"id":"run_1","object":"thread.run",'
    b'"status":"queued","thread_id":"t"}\n\n'
    b": a comment\n\n"
    b'event: thread.message.delta\ndata: {"id":"msg_x","object":"thread.message.delta",'
    b'"delta":{"content":[]}}\n\n'  # a delta of a message never created: a violation
    b'event: thread.run.queued\ndata: {"id":"run_1","object":"thread.run",'
    b'"status":"queued","thread_id":"t"}\n\n'
    b"event: done\ndata: [DONE]\n\n"
)


class Watching:
    """An :class:`~runflow.adapters.recording_feed.Observing` listener that notes what
    it is given."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str | None]] = []
        self.settled: list[tuple[int, int]] = []  # (violation index, events seen then)
        self.feeder: Feeder | None = None

    def sse_observer(self, feeder: Feeder, offsets: list[int], start: int) -> Observer:
        self.feeder = feeder
        violations = feeder.flow.violations

        def observe(name: str | None, raw: bytes | None, offset: int, parsed: Any) -> None:
            if len(violations) != feeder.settled:
                feeder.settle()
            offsets.append(offset)
            self.seen.append((start + len(offsets) - 1, name))
            assert feeder.entry(start + len(offsets) - 1) is None  # the feeder holds none

        return observe

    def sse_event(self, index: int, name: str | None, raw: bytes | None, parsed: Any) -> None:
        raise AssertionError("an observing listener is the observer itself")

    def jsonl_event(self, index: int, record: Any, raw: bytes) -> None:
        raise AssertionError("an SSE file has no JSON lines")

    def settle(self, violations: list[Violation]) -> None:
        self.settled += [(v.index, len(self.seen)) for v in violations]


@pytest.mark.parametrize("size", [7, 64, len(STREAM)])
def test_an_observing_listener_sees_each_event_once_numbered_as_the_flow(size: int) -> None:
    flow = new_flow("assistants")
    listener = Watching()
    feeder = Feeder(flow, "sse", listener=listener)
    for at in range(0, len(STREAM), size):
        feeder.feed(STREAM[at:at + size])
    feeder.finish(close=True)
    assert listener.seen == [(0, "thread.run.created"), (1, "thread.message.delta"),
                             (2, "thread.run.queued"), (3, "done")]
    [unknown] = [v for v in flow.violations if v.index == 1]
    assert unknown.code.value == "unknown_entity"
    # told before the event after it, or at the end of the chunk that held it
    assert (1, 2) in listener.settled or (1, 3) in listener.settled
    assert feeder.lines[1] == 4  # the comment block before the delta (the feeder's rule)
