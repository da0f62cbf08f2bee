"""Order expectations: what every real capture does, checked as warnings.

The grammar (the definitions' tables) says what a stream *may* do; these rows say
what real servers *always* do, where a client could come to rely on it: a created
run is queued before it runs, a step and a message repeat their status right after
they are created, a response is created before it is in progress. A server that
skips one is not broken, but differs from every capture runflow has, so each row
reports a warning with the index of the event that came instead.

Two forms, as data:

* :class:`Follows`: when ``event`` arrives, the previous event about the same
  entity in the same stream (if any) is one of ``after``;
* :class:`Next`: the very next event of the same stream after ``event`` is one of
  ``then``; ``when`` narrows it to the state the event leads to, ``required`` makes a
  stream that ends right after ``event`` a finding too.

and one stream-wide row, ``order.sequence.no_repeats``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from runflow.conform.events import TappedEvent, carried, entity_key
from runflow.conform.findings import Finding
from runflow.engine.definition import EventKind, Protocol

__all__ = ["EXPECTATIONS", "Expectation", "Follows", "Next", "check_order",
           "expectations_for"]


@dataclass(frozen=True)
class Follows:
    id: str
    protocol: str
    event: str
    after: tuple[str, ...]
    why: str

    @property
    def summary(self) -> str:
        return f"{self.event} comes right after {' or '.join(self.after)} (about the same entity)."


@dataclass(frozen=True)
class Next:
    id: str
    protocol: str
    event: str
    then: tuple[str, ...]
    why: str
    when: str | None = None
    required: bool = False

    @property
    def summary(self) -> str:
        state = f" (leading to {self.when})" if self.when else ""
        return f"{self.event}{state} is followed right away by {' or '.join(self.then)}."


@dataclass(frozen=True)
class Repeats:
    id: str
    protocol: str
    why: str
    summary: str = "One stream repeats no sequence_number."


Expectation = Follows | Next | Repeats

EXPECTATIONS: tuple[Expectation, ...] = (
    Follows("order.run.queued_before_in_progress", "assistants", "thread.run.in_progress",
            ("thread.run.queued",),
            "every Assistants capture: created -> queued -> in_progress, and the stream of "
            "submit_tool_outputs goes queued -> in_progress"),
    Next("order.step.in_progress_after_created", "assistants", "thread.run.step.created",
         ("thread.run.step.in_progress",), "every Assistants capture"),
    Next("order.message.in_progress_after_created", "assistants", "thread.message.created",
         ("thread.message.in_progress",), "every Assistants capture"),
    Next("order.response.in_progress_after_created", "responses", "response.created",
         ("response.in_progress",),
         "every foreground Responses capture: created -> in_progress", when="in_progress"),
    Next("order.response.queued_after_created", "responses", "response.created",
         ("response.queued",),
         "pydanticai_background_create_gpt4o: a background response is created queued, "
         "then response.queued", when="queued"),
    Follows("order.response.in_progress_after_queued", "responses", "response.in_progress",
            ("response.created", "response.queued"),
            "every Responses capture: in_progress follows created (or queued)"),
    Next("order.response.failed_after_error", "responses", "error", ("response.failed",),
         "OR-spec: 'any error incurred while streaming will be followed by a "
         "response.failed event'; both error captures do", required=True),
    Repeats("order.sequence.no_repeats", "responses",
            "every Responses capture; a number is repeated only by a stream resumed before "
            "it (starting_after), never within one stream"),
)


def expectations_for(protocol: str) -> tuple[Expectation, ...]:
    return tuple(e for e in EXPECTATIONS if e.protocol == protocol)


def check_order(protocol: Protocol, events: list[TappedEvent]) -> Iterator[Finding]:
    """The order findings of one flow's events."""
    rows = expectations_for(protocol.name)
    follows = {r.event: r for r in rows if isinstance(r, Follows)}
    nexts = [r for r in rows if isinstance(r, Next)]
    repeats = [r for r in rows if isinstance(r, Repeats)]
    last: dict[tuple[int, str], TappedEvent] = {}
    waiting: tuple[Next, TappedEvent] | None = None
    seen: dict[int, set[int]] = {}
    field_ = protocol.sequence_field
    for event in events:
        route = protocol.routes.get(event.name or "")
        if route is None or route[0] is EventKind.IGNORED:
            continue  # unknown events and heartbeats: clients ignore them (OR-spec)
        if waiting is not None:
            row, first = waiting
            waiting = None
            if event.stream != first.stream:
                if row.required:
                    yield _missing(row, first)
            elif event.name not in row.then:
                yield Finding(row.id, "warning",
                              f"{event.name} came right after {row.event} (#{first.index}); "
                              f"every capture sends {' or '.join(row.then)} next", event.index,
                              event.name, key=first_key(protocol, first))
        if field_ is not None and repeats and isinstance(event.data, dict):
            seq = event.data.get(field_)
            if isinstance(seq, int):
                numbers = seen.setdefault(event.stream, set())
                if seq in numbers:
                    yield Finding(repeats[0].id, "warning",
                                  f"{event.name} repeats {field_} {seq} within one stream",
                                  event.index, event.name, key=entity_key(protocol, event))
                numbers.add(seq)
        for nxt in nexts:
            if nxt.event == event.name:
                found = carried(protocol, event)
                if nxt.when is None or (found is not None and found.state == nxt.when):
                    waiting = (nxt, event)
        key = entity_key(protocol, event)
        if key is None or event.name is None:
            continue
        slot = (event.stream, key)
        row_ = follows.get(event.name)
        before = last.get(slot)
        if row_ is not None and before is not None and before.name not in row_.after:
            yield Finding(row_.id, "warning",
                          f"{event.name} came right after {before.name} (#{before.index}); "
                          f"every capture sends {' or '.join(row_.after)} before it",
                          event.index, event.name, key=key)
        last[slot] = event
    if waiting is not None and waiting[0].required:
        yield _missing(*waiting)


def first_key(protocol: Protocol, event: TappedEvent) -> str | None:
    return entity_key(protocol, event)


def _missing(row: Next, event: TappedEvent) -> Finding:
    return Finding(row.id, "warning",
                   f"the stream ended right after {row.event} (#{event.index}); every capture "
                   f"sends {' or '.join(row.then)} next", event.index, event.name,
                   key=None)
