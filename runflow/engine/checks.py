"""The checks a definition's tables must pass when it is built.

:func:`check_table` and :func:`check_stream` each return every problem they find
(never only the first), as sentences; :func:`runflow.engine.definition.build_protocol`
raises them together. States must be reachable and lead to a terminal state,
terminal states must be final, an event goes to one state from each source, the
stream table must say what happens for every state, input and guard.
"""

from __future__ import annotations

from collections.abc import Mapping

from runflow.engine.tables import GUARDS, STAY, STREAM_INPUTS, UNSEEN, EntityTable, StreamTable

__all__ = ["check_stream", "check_table", "closure"]


def check_table(table: EntityTable) -> list[str]:
    """Every problem of one entity table."""
    name = table.entity
    states = set(table.states)
    problems: list[str] = []
    if len(states) != len(table.states):
        problems.append(f"{name}: a state is listed twice in {table.states}")
    if table.initial not in states:
        problems.append(f"{name}: initial state {table.initial!r} is not a state")
    for s in sorted(table.terminal - states):
        problems.append(f"{name}: terminal state {s!r} is not a state")
    root_only = (table.pauses | table.children_open | table.children_closing
                 | (table.adopt_children - {UNSEEN}))
    for s in sorted(root_only - states):
        problems.append(f"{name}: a root column names unknown state {s!r}")
    for s in sorted(table.pauses & table.terminal):
        problems.append(f"{name}: {s!r} is terminal, so it cannot also be a pause")

    edges: dict[str, set[str]] = {s: set() for s in states}
    seen_pairs: dict[tuple[str, str], str] = {}
    for t in table.transitions:
        for s in (*t.sources, *sorted(t.dests)):
            if s not in states:
                problems.append(f"{name}: {t.event} uses unknown state {s!r}")
        if t.carries is None and table.position == ():
            problems.append(f"{name}: {t.event} carries no object, so the entity must be "
                            "placed by position")
        for src in t.sources:
            if (src, t.event) in seen_pairs and seen_pairs[(src, t.event)] != t.dest:
                problems.append(
                    f"{name}: {t.event} from {src!r} goes to both "
                    f"{seen_pairs[(src, t.event)]!r} and {t.dest!r}"
                )
            seen_pairs[(src, t.event)] = t.dest
            if src in table.terminal:
                problems.append(
                    f"{name}: {t.event} leaves terminal state {src!r}; terminal states are final"
                )
            if src in edges:
                edges[src].update(t.dests)
    for event, allowed in table.deltas.items():
        for s in sorted(set(allowed) - states):
            problems.append(f"{name}: delta {event} allowed in unknown state {s!r}")

    reachable = closure({table.initial}, edges)
    for s in table.states:
        if s not in reachable:
            problems.append(f"{name}: state {s!r} is unreachable from {table.initial!r}")
    for s in table.states:
        if s in table.terminal:
            continue
        if not edges.get(s, set()) - {s}:
            problems.append(f"{name}: state {s!r} is a trap: not terminal and no way out")
        elif not closure({s}, edges) & table.terminal:
            problems.append(f"{name}: no terminal state can be reached from {s!r}")
    return problems


def check_stream(stream: StreamTable) -> list[str]:
    """Every problem of the stream table."""
    problems: list[str] = []
    states = set(stream.states)
    if stream.initial not in states:
        problems.append(f"stream: initial state {stream.initial!r} is not a state")
    edges: dict[str, set[str]] = {s: set() for s in states}
    for row in stream.rows:
        for s in (*row.sources, row.dest):
            if s not in states and s != STAY:
                problems.append(f"stream: a {row.input} row uses unknown state {s!r}")
        for src in row.sources:
            edges.setdefault(src, set()).add(src if row.dest == STAY else row.dest)
    lookup = stream.lookup()
    for s in stream.states:
        for inp in STREAM_INPUTS:
            for guard in GUARDS:
                if (s, inp, guard) not in lookup:
                    problems.append(f"stream: no row for {inp!r} in state {s!r} "
                                    f"while the root is {guard}")
        if s not in stream.endings:
            problems.append(f"stream: state {s!r} has no ending")
    for s in sorted(states - closure({stream.initial}, edges)):
        problems.append(f"stream: state {s!r} is unreachable from {stream.initial!r}")
    return problems


def closure(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    """Every state reachable from ``start`` along ``edges``."""
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
