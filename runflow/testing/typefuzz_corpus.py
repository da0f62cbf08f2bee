"""The type-fuzz corpus (:mod:`runflow.testing.typefuzz`): seed streams as event
lists, and every JSON path of every event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runflow.adapters.recording import RecordingError, read_recording
from runflow.engine.jsonparse import dump_json, parse_json
from runflow.testing.fuzz import encode_sse, parse_sse
from runflow.testing.projection import BAD
from runflow.testing.typefuzz_target import ASSISTANTS_FUZZ, Event, JSONPath, Target


# --------------------------------------------------------------------------- #
# the corpus: seed streams as event lists, and every path of every event
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Source:
    """One seed stream: its events (wire order) and the canonical SSE bytes of each."""

    name: str
    events: tuple[Event, ...]
    blocks: tuple[bytes, ...]
    """The SSE bytes of each event alone: the stream is their concatenation."""
    paths: tuple[tuple[int, JSONPath], ...]
    """Every (event index, JSON path) that can be replaced."""
    objects: tuple[tuple[int, JSONPath], ...] = ()
    """The paths of objects: where a key can be added."""
    keyed: tuple[tuple[int, JSONPath], ...] = ()
    """The paths of values held under a key: where that key can be removed, renamed,
    twinned or duplicated."""


@dataclass(frozen=True)
class Corpus:
    """The seed streams to fuzz; inputs are numbered over them (:func:`run_typefuzz`)."""

    sources: tuple[Source, ...]
    skipped: tuple[str, ...] = ()
    """Recordings left out, with why (a twin of an earlier one, unreadable)."""
    target: Target = ASSISTANTS_FUZZ

    @property
    def size(self) -> int:
        """How many distinct inputs exist (sites x mutations x modes)."""
        return space_size(self.sources, self.target)


def spaces(target: Target) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The inputs' spaces in the order they are numbered: ``(the seed's attribute
    holding the sites, the labels of the mutations applied there)``: the values at
    every path, then the key mutations at objects and at keys."""
    return (("paths", target.value_labels), ("objects", target.key_labels("object")),
            ("keyed", target.key_labels("key")))


def space_size(seeds: Sequence[Any], target: Target) -> int:
    """How many distinct inputs ``seeds`` (sources or conversations) hold."""
    modes = len(target.modes)
    return sum(len(getattr(seed, attr)) * len(labels) * modes
               for attr, labels in spaces(target) for seed in seeds)


def at(value: Any, path: JSONPath) -> Any:
    """The value at ``path`` of ``value``."""
    for step in path:
        value = value[step]
    return value


def key_sites(paths: Sequence[tuple[int, JSONPath]], data: Callable[[int], Any]) -> tuple[
        tuple[tuple[int, JSONPath], ...], tuple[tuple[int, JSONPath], ...]]:
    """``(objects, keyed)`` among ``paths``; ``data(i)``: event ``i``'s data."""
    objects = tuple((i, p) for i, p in paths if isinstance(at(data(i), p), dict))
    keyed = tuple((i, p) for i, p in paths if p and isinstance(p[-1], str))
    return objects, keyed


def replaced(value: Any, path: JSONPath, new: Any) -> Any:
    """A copy of ``value`` with ``new`` at ``path`` (only the spine is copied)."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    out: Any = dict(value) if isinstance(value, dict) else list(value)
    out[head] = replaced(value[head], rest, new)
    return out


def json_paths(value: Any, list_items: int | None = None) -> Iterator[JSONPath]:
    """Every path in ``value``, the root ``()`` first, then depth first (into the
    first ``list_items`` elements of each list, or all)."""
    todo: list[tuple[JSONPath, Any]] = [((), value)]
    while todo:
        path, item = todo.pop()
        yield path
        if isinstance(item, dict):
            todo.extend(((*path, k), v) for k, v in reversed(list(item.items())))
        elif isinstance(item, list):
            kept = item if list_items is None else item[:list_items]
            todo.extend(((*path, i), v) for i, v in reversed(list(enumerate(kept))))


def _events_of(path: Path) -> list[Event]:
    recording = read_recording(path)
    if recording.format == "sse":
        return [e for e in parse_sse(recording.data) if e.get("data") is not BAD]
    events = []
    for line in recording.data.splitlines():
        if line.strip():
            event = parse_json(line)
            if isinstance(event, dict):
                events.append(event)
    return events


def sse_block(name: str | None, text: str) -> bytes:
    """One SSE block; an event without a name (a data-only frame) has no event line."""
    head = f"event: {name}\n" if name is not None else ""
    return f"{head}data: {text}\n\n".encode("utf-8", "surrogatepass")


def _source(name: str, events: Sequence[Event], target: Target) -> Source:
    blocks = tuple(encode_sse([e])[0] if e.get("event") is not None or
                   not isinstance(e.get("data"), (dict, list))
                   else sse_block(None, json.dumps(e["data"], ensure_ascii=False))
                   for e in events)
    paths = tuple(
        (i, p) for i, e in enumerate(events)
        if isinstance(e.get("data"), (dict, list))
        for p in json_paths(e["data"], target.list_items)
    )
    objects, keyed = key_sites(paths, lambda i: events[i]["data"])
    return Source(name, tuple(events), blocks, paths, objects, keyed)


def load_corpus(folder: Path, names: Sequence[str] | None = None,
                target: Target = ASSISTANTS_FUZZ) -> Corpus:
    """The ``.jsonl`` and ``.sse`` recordings of ``folder`` (or just ``names``)."""
    files = sorted(p for p in folder.iterdir() if p.suffix in (".jsonl", ".sse")) \
        if names is None else [folder / n for n in names]
    sources: list[Source] = []
    skipped: list[str] = []
    seen: dict[str, str] = {}
    for path in files:
        try:
            events = _events_of(path)
        except (OSError, ValueError, RecordingError) as exc:
            skipped.append(f"{path.name}: {exc}")
            continue
        key = dump_json(events)[0]
        if key in seen:
            skipped.append(f"{path.name}: same events as {seen[key]}")
            continue
        seen[key] = path.name
        sources.append(_source(path.name, events, target))
    return Corpus(tuple(sources), tuple(skipped), target)


def seed_corpus(streams: Mapping[str, Sequence[Event]], target: Target) -> Corpus:
    """A corpus of seed streams given as event lists: ``{"event", "data"}`` dicts,
    or data-named events (a Responses ``{"type": ...}`` dict is its own data)."""
    sources = []
    for name, events in streams.items():
        normal = [e if "event" in e else {"event": e.get("type"), "data": e} for e in events]
        sources.append(_source(name, normal, target))
    return Corpus(tuple(sources), (), target)


