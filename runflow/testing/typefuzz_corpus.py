"""The type-fuzz corpus (:mod:`runflow.testing.typefuzz`): seed streams as event
lists, and every JSON path of every event."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
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


@dataclass(frozen=True)
class Corpus:
    """The seed streams to fuzz; inputs are numbered over them (:func:`run_typefuzz`)."""

    sources: tuple[Source, ...]
    skipped: tuple[str, ...] = ()
    """Recordings left out, with why (a twin of an earlier one, unreadable)."""
    target: Target = ASSISTANTS_FUZZ

    @property
    def size(self) -> int:
        """How many distinct inputs exist (paths x values x modes)."""
        per_path = len(self.target.labels) * len(self.target.modes)
        return sum(len(s.paths) for s in self.sources) * per_path


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
    return Source(name, tuple(events), blocks, paths)


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


