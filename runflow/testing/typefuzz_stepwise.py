"""Stepwise checks of a type-fuzz input (:mod:`runflow.testing.typefuzz`): each
event is applied whole or not at all, and nothing the flow held is lost."""

from __future__ import annotations

import json
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pydantic_core

from runflow.engine.flow import Flow
from runflow.engine.violations import RULES, Code
from runflow.testing.typefuzz_target import Mode


# --------------------------------------------------------------------------- #
# stepwise checks: whole or not at all, nothing lost
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class _Picture:
    """What a flow holds, by value, read from its checkpoint: its entities and
    everything they depend on (not the input bookkeeping: position, counters,
    stream machine, cursor, violations beyond their number)."""

    entities: dict[str, Any]
    places: dict[str, tuple[Any, ...]]
    texts: dict[str, str]
    rest: dict[str, Any]
    history: list[Any]
    violations: int


_KEPT: Final = ("slots", "marks", "capped", "error", "root_id", "scope_id", "history_dropped")


def _picture(flow: Flow) -> _Picture:
    with warnings.catch_warnings():  # lone surrogates are saved as U+FFFD, and say so
        warnings.simplefilter("ignore", UnicodeWarning)
        text = flow.to_json()
    try:  # the Rust parser, several times faster on a large checkpoint
        state = pydantic_core.from_json(text)["state"]
    except ValueError:  # nested past its depth (a fuzzed 300-deep list the flow kept)
        state = json.loads(text)["state"]
    trackers = [t for t in (state["scope"], state["root"]) if t is not None]
    trackers += [t for kind in state["children"].values() for t in kind.values()]
    entities, places, texts = {}, {}, {}
    for t in trackers:
        label = f"{t['entity']} {t['id']}"
        entities[label] = t
        places[label] = (t["entity"], t["id"], t["slot"], t["owner"])
        acc = t["acc"]
        if isinstance(acc, dict) and type(acc.get("text")) is str:
            texts[label] = acc["text"]
    return _Picture(entities, places, texts, {k: state[k] for k in _KEPT}, state["history"],
                    len(state["violations"]))


def _take(flow: Flow, when: str, problems: list[str]) -> _Picture | None:
    try:
        return _picture(flow)
    except ValueError as exc:  # e.g. a number JSON cannot hold, kept in the state
        problems.append(f"{when}: the flow cannot be saved (to_json: {str(exc)[:100]})")
        return None


def _changed(before: _Picture, after: _Picture) -> list[str]:
    what = [k for k in after.entities if before.entities.get(k) != after.entities[k]]
    what += [k for k in before.entities if k not in after.entities]
    if before.rest != after.rest:
        what.append("slots/notes/error")
    if before.history != after.history:
        what.append("history")
    return what


def _lost(before: _Picture, after: _Picture, flow: Flow, when: str) -> list[str]:
    out = []
    for label, place in before.places.items():
        if after.places.get(label) != place:
            out.append(f"{when}: {label} at {place[2]} is gone or moved "
                       f"(now {after.places.get(label)})")
    if after.history[: len(before.history)] != before.history:
        out.append(f"{when}: the history before the event was rewritten")
    replaced = {str(v.entity) for v in flow.violations[before.violations:]
                if v.code is Code.SNAPSHOT_DIVERGENCE}
    for label, text in before.texts.items():
        now = after.texts.get(label)
        if now is not None and not now.startswith(text) and label not in replaced:
            out.append(f"{when}: the value of {label} lost what it had: "
                       f"{text[:40]!r} -> {now[:40]!r}")
    return out


class PrefixCache:
    """What a flow held before the mutated event, kept for the next inputs that
    change the same event of the same stream fed the same way: they fed the same
    events before it, so the flow held the same (a flow is a function of what it was
    fed). A run takes its inputs in order, so the last few keys are enough."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.kept: dict[Hashable, tuple[_Picture | None, list[str]]] = {}

    def picture(self, flow: Flow, key: Hashable | None,
                when: str) -> tuple[_Picture | None, list[str]]:
        """``(picture, problems)`` of ``flow`` now, or as kept under ``key``."""
        if key is not None and key in self.kept:
            return self.kept[key]
        problems: list[str] = []
        taken = (_take(flow, when, problems), problems)
        if key is not None:
            if len(self.kept) >= self.size:
                del self.kept[next(iter(self.kept))]
            self.kept[key] = taken
        return taken


def stepwise_problems(flow: Flow, mode: Mode, items: Sequence[Any], index: int,
                      bad: Any, *, prefix: PrefixCache | None = None,
                      key: Hashable | None = None) -> list[str]:
    """Feed ``items`` one by one into ``flow`` with ``bad`` at ``index``, close, and
    check what the module docstring says; may raise (an untyped exception).
    ``prefix`` keeps the picture before the mutated event under ``key`` (which must
    name the stream, the way it is fed and ``index``)."""
    feed = flow.feed_sse if mode == "sse" else flow.feed
    problems: list[str] = []
    before = after = None
    cache = prefix if prefix is not None else PrefixCache(0)
    for i, item in enumerate(items):
        if i != index:
            new = feed(item)
        else:
            before, early = cache.picture(flow, key if prefix is not None else None,
                                          f"before event #{i}")
            problems += early
            new = feed(bad)
            after = _take(flow, f"after event #{i}", problems)
            if before is not None and after is not None:
                rejecting = sorted({v.code.value for v in new if RULES[v.code].rejects})
                changed = _changed(before, after)
                if rejecting and changed:
                    problems.append(f"event #{i} was rejected ({', '.join(rejecting)}) "
                                    f"but changed {', '.join(changed)[:200]}")
                problems += _lost(before, after, flow, f"after event #{i}")
        problems += [f"{v.code.value} of event #{i} says it is #{v.index}"
                     for v in new if v.index != i]
    start = len(flow.violations)
    flow.close()
    problems += [f"{v.code.value} at close says #{v.index}, not #{len(items)}"
                 for v in flow.violations[start:] if v.index != len(items)]
    end = _take(flow, "at the end", problems)
    if before is not None and end is not None:
        problems += _lost(before, end, flow, "at the end")
    return problems


