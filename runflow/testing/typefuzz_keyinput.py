"""One key-mutation input of the type fuzz (:mod:`runflow.testing.typefuzz`): the
mutated event's data, and the oracles that only hostile keys need.

A key mutation (:mod:`runflow.testing.typefuzz_keys`) changes one object of an
event's data: :func:`key_site` says which, :func:`key_mutated` builds it (or its JSON
text, for a duplicate key or an escape). Besides the fuzz's oracles for every
input, a key input is checked by :func:`key_problems`:

* the flow's checkpoint loads back as it was saved (``to_json``, ``from_json``,
  ``to_json``): an odd key the flow kept (a NUL, a 1 MiB key, ``__proto__``) must
  survive the checkpoint path as it survived the stream;
* for a key named twice in the JSON text, fed as SSE: the flow equals one fed the
  object ``json.loads`` makes of the same text (what the openai SDK's stream
  holds), its checkpoint state and violations alike -- the parsers agree on which
  of duplicate keys is kept. (Not for a lone-surrogate escape: runflow's parser
  refuses it, ``malformed_event``, where ``json.loads`` takes it; by design, as the
  hostile catalogue's "lone-surrogate escape in SSE data" row says.)
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

from runflow.engine.checkpoint import CheckpointError
from runflow.engine.flow import Flow
from runflow.testing.typefuzz_corpus import at
from runflow.testing.typefuzz_keys import KeyMutation, mutated_object, object_text
from runflow.testing.typefuzz_target import Event, JSONPath, Mode, Target

__all__ = ["key_mutated", "key_problems", "key_site"]


def key_site(data: Any, path: JSONPath, m: KeyMutation) -> tuple[JSONPath, dict[str, Any],
                                                                   str | None]:
    """``(the object's path, the object, the key changed or None)`` of ``m`` at
    ``path`` (an object's path, or the path of a value held under a key)."""
    if m.site == "object":
        return path, at(data, path), None
    key = path[-1]
    if not isinstance(key, str):
        raise ValueError(f"{m.label} needs the path of a value under a key, not {path}")
    return path[:-1], at(data, path[:-1]), key


def key_mutated(data: Any, path: JSONPath, m: KeyMutation,
                event: str | None) -> tuple[JSONPath, Any, str | None]:
    """``(where, new object or None, JSON text of the new object or None)``: a raw
    mutation gives text only."""
    where, obj, key = key_site(data, path, m)
    if m.raw:
        return where, None, object_text(m, obj, key)
    if event is None and isinstance(data, dict) and isinstance(data.get("type"), str):
        event = data["type"]
    return where, mutated_object(m, obj, key, event), None


def _saved(flow: Flow) -> str:
    with warnings.catch_warnings():  # lone surrogates are saved as U+FFFD, and say so
        warnings.simplefilter("ignore", UnicodeWarning)
        return flow.to_json()


def _state(saved: str) -> Any:
    """The checkpoint's state without the SSE decoder's (fed as events, it has none),
    violations without their messages (one read from SSE names its byte offset)."""
    state = json.loads(saved)["state"]
    state.pop("decoder", None)
    for v in state["violations"]:
        v.pop("message", None)
    return state


def key_problems(flow: Flow, target: Target, mode: Mode, events: Sequence[Event],
                 index: int, text: str, duplicate: bool) -> list[str]:
    """What is wrong with ``flow``, fed a key input (``text``: the mutated event's
    data as JSON text) in ``mode`` (see the module docstring), or a value input
    whose checkpoint is checked (``duplicate`` False); may raise."""
    problems = []
    saved = _saved(flow)
    try:
        again = _saved(type(flow).from_json(saved))
    except CheckpointError as exc:
        problems.append(f"its checkpoint does not load: {str(exc)[:150]}")
    else:
        if again != saved:
            problems.append("its checkpoint does not load back as it was saved")
    if duplicate and mode == "sse":
        other = target.new_flow()
        name = events[index].get("event")
        for i, event in enumerate(events):
            other.feed(event if i != index else {"event": name, "data": json.loads(text)})
        other.close()
        if _state(_saved(other)) != _state(saved):
            problems.append("the SSE text and the object json.loads makes of it give "
                            "different flows")
    return problems
