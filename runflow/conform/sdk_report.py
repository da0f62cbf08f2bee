"""What the types layer reports, and what it does not: the SDK's known gaps.

The pieces :mod:`runflow.conform.sdk_types` (the objects events carry) and
:mod:`runflow.conform.sdk_events` (the delta and value events themselves) share:
:data:`SDK_GAPS` (judged in the module docstring of :mod:`runflow.conform.sdk_types`),
the losing variants of a smart union left out (:func:`unreported`), and one finding
per JSON path, at most :data:`MAX_PER_EVENT` an event (:func:`report`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from runflow.conform.events import TappedEvent, entity_key
from runflow.conform.findings import Finding
from runflow.conform.sdk_schema import Error, Path, at, shown_path
from runflow.engine.accumulator import shorten
from runflow.engine.definition import Protocol

__all__ = ["MAX_PER_EVENT", "SDK_GAPS", "Gap", "dotted", "literals", "models", "overlaps",
           "report", "rule_of", "sdk_version", "unreported"]

MAX_PER_EVENT = 3
"""Paths reported per event; the last finding counts the others."""

@dataclass(frozen=True)
class Gap:
    """Errors the real service's objects make against the SDK's types: the SDK's gap,
    not the server's deviation, so not reported. An error matches when it sits at
    ``field`` of an object of class ``model`` (the path from that object, without
    list indices), is of one of pydantic's error ``kinds``, and (when ``values`` is
    set) its value, or a tagged object's ``type``, is one of them."""

    model: str
    field: str
    kinds: frozenset[str]
    why: str
    values: frozenset[str | None] | None = None

    def covers(self, error: Error, value: Any) -> bool:
        if (error.model, ".".join(map(str, error.field))) != (self.model, self.field):
            return False
        if error.kind not in self.kinds:
            return False
        if self.values is None:
            return True
        tag = value.get("type") if isinstance(value, dict) else value
        return (tag is None or isinstance(tag, str)) and tag in self.values


_MISSING = frozenset({"missing"})
SDK_GAPS: tuple[Gap, ...] = (
    Gap("Run", "parallel_tool_calls", _MISSING,
        "the SDK requires it; the runs of 2024 (openllmetry_*, rubyopenai_*, "
        "simpleopenai_*) omit it"),
    Gap("Run", "instructions", frozenset({"string_type"}),
        "the SDK types it str; OpenAI's own reference examples (docs_examples/*), the "
        "dotnet_* runs and rubyopenai_..._2024 send null", frozenset({None})),
    Gap("Run", "tools", frozenset({"union_tag_invalid"}),
        "the v1 Assistants tool 'retrieval' (renamed file_search in v2), which the SDK's "
        "v2 types do not know (simpleopenai_text_answer_v1_2024)", frozenset({"retrieval"})),
    Gap("FileSearchRankingOptions", "ranker", frozenset({"literal_error"}),
        "the service names the ranker 'default-2024-08-21', the SDK's Literal "
        "'default_2024_08_21' (simpleopenai_EDITED_file_search_step_deltas, its run and step)",
        frozenset({"default-2024-08-21"})),
    Gap("InputTokensDetails", "cache_write_tokens", _MISSING,
        "the SDK requires it; no response of the service sends it (every Responses "
        "capture's usage.input_tokens_details)"),
    Gap("ResponseFunctionWebSearch", "action", _MISSING,
        "the SDK requires it; the service sends a web_search_call without it at "
        "output_item.added, in progress, and with it at done "
        "(pydanticai_web_search_multi_gpt5)"),
    Gap("ResponseTextDeltaEvent", "logprobs", _MISSING,
        "the SDK requires it; the service's output_text deltas of before the field "
        "omit it (llmopenaiplugin_json_schema_noseq_gpt4omini, which has no sequence "
        "numbers either)"),
    Gap("ResponseTextDoneEvent", "logprobs", _MISSING,
        "the SDK requires it; the service's output_text.done of before the field omits "
        "it (llmopenaiplugin_json_schema_noseq_gpt4omini)"),
)
"""The SDK's gaps found on the shared captures (see the module docstring)."""


@cache
def sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openai")
    except PackageNotFoundError:  # pragma: no cover - the SDK is a dependency
        return "?"


def dotted(prefix: str, path: Path) -> str:
    """A JSON path as a reader writes it: ``item.content[0].annotations``."""
    out = prefix
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        elif seg.isidentifier():
            out += f".{seg}" if out else seg
        else:
            out += f"[{seg!r}]"
    return out or "(the object)"


def models(annotation: Any) -> list[type[BaseModel]]:
    """The model classes a type (a union, ``Annotated``, ``Optional``) names."""
    if get_origin(annotation) is Annotated:
        return models(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) is Union:
        return [m for a in get_args(annotation) for m in models(a)]
    return []


def literals(model: type[BaseModel], field: str) -> tuple[str, ...]:
    info = model.model_fields.get(field)
    annotation = info.annotation if info is not None else None
    if get_origin(annotation) is Literal:
        return tuple(a for a in get_args(annotation) if isinstance(a, str))
    return ()



_ABSENT = object()
"""A value absent from the object."""


def overlaps(one: str, other: str) -> bool:
    """Whether two JSON paths name the same value or one holds the other (``""``,
    the data itself, holds every value)."""
    short, long = sorted((one, other), key=len)
    return not short or long == short or long.startswith((short + ".", short + "["))


def _best_variants(errors: list[Error]) -> list[Error]:
    """Of a smart union's variants that failed, the errors of the closest one (fewest
    errors; the first on a tie), unless every variant failed at the union itself
    (a scalar of the wrong kind: all are kept, one finding says each expectation)."""
    unions: dict[tuple[Path, int], dict[str, int]] = {}
    for error in errors:
        for path, node, label in error.union:
            counts = unions.setdefault((path, node), {})
            counts[label] = counts.get(label, 0) + 1
    drop: dict[tuple[Path, int], str] = {}
    for (path, node), counts in unions.items():
        if len(counts) < 2:
            continue
        inside = [e for e in errors if any((p, n) == (path, node) for p, n, _ in e.union)]
        if all(e.path == path for e in inside):
            continue
        best = min(counts, key=lambda label: counts[label])
        drop[(path, node)] = best
    if not drop:
        return errors
    return [e for e in errors
            if all(drop.get((p, n), label) == label for p, n, label in e.union)]


def rule_of(protocol: Protocol, kind: str) -> str:
    """The rule of an entity kind's objects: ``types.<group>`` for the kinds a shared
    event dispatches by ``type`` into one group (every Responses output item is
    ``types.output``, every content part ``types.content``), else ``types.<kind>``
    (``types.run``, ``types.response``)."""
    table = protocol.tables[kind]
    return f"types.{table.group or kind}"



def unreported(errors: list[Error], obj: Any) -> list[Error]:
    """``errors`` of ``obj`` without the losing variants of a smart union and the SDK's
    gaps (:data:`SDK_GAPS`)."""
    return [e for e in _best_variants(errors) if not any(
        gap.covers(e, next(at(obj, e.path), None)) for gap in SDK_GAPS)]


def report(protocol: Protocol, event: TappedEvent, kind: str, entity: str, prefix: str,
           obj: Any, errors: list[Error]) -> list[Finding]:
    """One ``types.*`` finding per JSON path of ``errors`` (those of ``obj``, which sits
    at ``prefix`` in the event's data), at most :data:`MAX_PER_EVENT`, the last
    counting the others."""
    by_path: dict[Path, list[Error]] = {}
    for error in errors:
        by_path.setdefault(error.path, []).append(error)
    key = entity_key(protocol, event)
    out = []
    paths = list(by_path.items())
    for n, (path, group) in enumerate(paths[:MAX_PER_EVENT]):
        said = " or ".join(dict.fromkeys(e.message for e in group))
        value = next(at(obj, path), _ABSENT)
        shown = "absent" if value is _ABSENT else shorten(value)
        first = group[0]
        where = ".".join(map(str, shown_path(first.field))) or "(the object)"
        message = (f"{event.name}: {dotted(prefix, shown_path(path))} is {shown}: {said} (openai "
                   f"{sdk_version()} types: {first.model}.{where})")
        if n == MAX_PER_EVENT - 1 and len(paths) > MAX_PER_EVENT:
            message += f"; and {len(paths) - MAX_PER_EVENT} more path(s) in this event"
        out.append(Finding(rule_of(protocol, kind), "warning", message, event.index,
                           event.name, entity, key))
    return out
