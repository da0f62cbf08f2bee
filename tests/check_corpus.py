"""The inputs whose ``runflow check`` findings are pinned (tests/test_check_streaming.py),
and the compact form they are pinned in.

The inputs are every shared recording (``../shared/recordings``, its
``responses/`` and ``docs_examples/`` folders) and a hostile corpus made from them
on the fly, deterministically (fixed seeds): each fuzz mutation class of
:mod:`runflow.testing.fuzz` (drop, duplicate, swap, truncate, corrupt JSON, split,
unknown event, a status renamed or rewritten, an id changed), any JSON value put
where a field was, and broken JSON lines. Nothing is copied into the project: the
recordings are read in place and the mutations are rebuilt by each run.

:func:`pinned` is what a check report is reduced to: for every finding (each root
cause, then its consequences) ``[rule, index, severity, depth]`` (depth 0 for a root
cause, 1 for a consequence), plus a digest of the whole ``findings`` and
``violations`` of the ``--json`` report (rule, severity, index, line, event,
entity, message, grouping), so that any change to any of them shows.

Regenerate the pins (only when a finding is meant to change) with
``python tests/check_corpus.py > tests/data/check_findings.json``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RECORDINGS = Path(os.environ.get("RUNFLOW_RECORDINGS",
                                HERE.parent.parent / "shared" / "recordings"))
PINS = HERE / "data" / "check_findings.json"
SEEDS = (0, 1)
ODD_VALUES: tuple[Any, ...] = (None, 0, -1, 1.5, "", "x", [], {}, [1], True)


def recordings(folder: Path = RECORDINGS) -> list[Path]:
    """Every shared recording, in a stable order."""
    found = [p for p in folder.rglob("*") if p.suffix in (".jsonl", ".sse")]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _events(path: Path) -> list[dict[str, Any]]:
    from runflow.testing.fuzz import parse_sse

    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    return parse_sse(path.read_bytes())


def _paths(value: Any, prefix: tuple[str, ...] = (), depth: int = 0
           ) -> Iterator[tuple[str, ...]]:
    if isinstance(value, dict) and depth < 3:
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths(inner, (*prefix, key), depth + 1)


def _confused(events: list[dict[str, Any]], rng: random.Random) -> bytes | None:
    """One field of one event set to another JSON value, as SSE bytes."""
    from runflow.testing.fuzz import encode_sse

    candidates = [i for i, e in enumerate(events) if isinstance(e.get("data"), dict)]
    if not candidates:
        return None
    index = rng.choice(candidates)
    event = json.loads(json.dumps(events[index]))
    paths = list(_paths(event["data"]))
    if not paths:
        return None
    path = rng.choice(paths)
    where = event["data"]
    for key in path[:-1]:
        where = where[key]
    where[path[-1]] = rng.choice(ODD_VALUES)
    try:
        return encode_sse([*events[:index], event, *events[index + 1:]])[0]
    except TypeError:  # an event the reference parse could not read: no SSE for it
        return None


def _broken_lines(path: Path, rng: random.Random) -> bytes:
    """A jsonl recording with one line cut short and one line that is not an object."""
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    i = rng.randrange(len(lines))
    lines[i] = lines[i][: max(1, len(lines[i]) // 2)]
    j = rng.randrange(len(lines))
    lines.insert(j, rng.choice([b"[1, 2]", b"42", b'{"data": {}}', b"not json"]))
    return b"\n".join(lines) + b"\n"


def hostile(path: Path, folder: Path = RECORDINGS) -> Iterator[tuple[str, str, bytes]]:
    """``(case name, file suffix, bytes)`` of every hostile input made from ``path``."""
    from runflow.testing.fuzz import KINDS, mutate

    name = path.relative_to(folder).as_posix()
    events = _events(path)
    for seed in SEEDS:
        for kind in KINDS:
            try:
                mutation = mutate(events, kind, random.Random(f"{name}/{kind}/{seed}"))
            except (AssertionError, IndexError, KeyError, TypeError, ValueError):
                continue  # a class this recording has nothing for (no status event)
            yield f"{name}~{kind}~{seed}", ".sse", mutation.data
        confused = _confused(events, random.Random(f"{name}/any/{seed}"))
        if confused is not None:
            yield f"{name}~any_json~{seed}", ".sse", confused
        if path.suffix == ".jsonl":
            yield (f"{name}~broken_lines~{seed}", ".jsonl",
                   _broken_lines(path, random.Random(f"{name}/lines/{seed}")))


def check_json(path: Path) -> dict[str, Any]:
    """The ``runflow check --json --types`` object of one file (run in this process)."""
    from runflow.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        main(["check", "--json", "--types", str(path)])
    return dict(json.loads(out.getvalue().splitlines()[0]))


def pinned(report: dict[str, Any]) -> dict[str, Any]:
    """What a report is pinned as (see the module docstring)."""
    rows: list[list[Any]] = []
    for group in report.get("findings", []):
        rows.append([group["rule"], group["index"], group["severity"], 0])
        rows += [[f["rule"], f["index"], f["severity"], 1] for f in group["consequences"]]
    # a violation's "path" (the field a malformed_event names) came after the pin: the
    # pin keeps the fields it was made of
    listed = report.get("violations")
    violations = (None if listed is None
                  else [{k: v for k, v in row.items() if k != "path"} for row in listed])
    whole = json.dumps([report.get("findings"), violations,
                        report.get("events"), report.get("ending"), report.get("ok")],
                       sort_keys=True, ensure_ascii=True)
    return {"findings": rows, "digest": hashlib.sha256(whole.encode()).hexdigest()[:16]}


def cases_of(path: Path, folder: Path, tmp: Path) -> Iterator[tuple[str, Path]]:
    """``(case name, file)`` of a recording and of each hostile input made from it
    (written into ``tmp``)."""
    yield path.relative_to(folder).as_posix(), path
    for number, (name, suffix, data) in enumerate(hostile(path, folder)):
        file = tmp / f"case{number}{suffix}"
        file.write_bytes(data)
        yield name, file


def main() -> int:
    import tempfile

    pins: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for recording in recordings(RECORDINGS):
            for name, path in cases_of(recording, RECORDINGS, Path(tmp)):
                pins[name] = pinned(check_json(path))
    json.dump(pins, sys.stdout, indent=None, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
