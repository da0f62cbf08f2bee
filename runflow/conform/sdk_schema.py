"""The openai SDK's pydantic types as a bounded validator, and where its errors sit.

:mod:`runflow.conform.sdk_types` checks every object an event carries against the
SDK class its snapshot is built as. Validating a hostile object with the SDK's own
validator can cost without bound: pydantic reports every failing element of every
list, and a smart union one error set per variant, so ``annotations: [1, 1, ...]``
of a million elements makes four million errors (18 s and 7 GB). :func:`validator`
builds, once per class, a validator of the same types from the class's own core
schema that

* stops each list, set, tuple and dict at its first failing element (``fail_fast``);
* picks a union's variant by its ``type`` where the SDK's union is one of models each
  requiring a distinct ``type`` literal (what the SDK's ``construct`` and
  :mod:`runflow.protocols.responses.typed` do): one variant is validated, and a tag
  the union does not know is one error;
* validates a model as its fields (``model-fields``), keeping the model's ``extra``
  setting (the SDK allows extra fields): pydantic-core validates a ``model`` node by
  its class's own validator, which the first two changes would not reach.

Everything else (strings, literals, numbers, nullability, lax coercion where the SDK
is lax) is the SDK's schema unchanged. :meth:`Checker.errors` gives each error as the
JSON path of the offending value inside the object, the model it sits in and
pydantic's message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic_core import SchemaValidator, ValidationError

__all__ = ["MAX_KEY_SHOWN", "MAX_MESSAGE", "Checker", "Error", "Path", "shown_path",
           "validator"]

Path = tuple[str | int, ...]

MAX_MESSAGE = 500
"""Characters kept of pydantic's message: some hold the value (a tagged union's
``Input tag '...' found``, found with a 1 MiB tag by the type fuzz); the middle of a
longer one is cut, keeping what the type expects at its end."""
MAX_KEY_SHOWN = 60
"""Characters of a key a path shows in a message (:func:`shown_path`)."""

_BOUNDED = frozenset({"list", "set", "frozenset", "tuple", "dict"})
"""Container schemas that take ``fail_fast``."""
_INNER = ("schema", "items_schema", "keys_schema", "values_schema", "lax_schema",
          "strict_schema", "json_schema", "python_schema", "extras_schema")
"""Keys of a schema node that hold a schema."""
_THROUGH = ("nullable", "default", "function-after", "function-before", "function-wrap",
            "function-plain", "definitions", "json-or-python", "lax-or-strict", "chain")
"""Schema nodes that add no step to an error's location."""
_LABEL = "#"
"""The prefix of a smart union's choice labels (``#0``, ``#1``...), never a wire key."""


@dataclass(frozen=True)
class Error:
    """One validation error, placed in the object."""

    path: Path
    """The JSON path of the offending value inside the validated object."""
    model: str
    """The SDK class of the innermost object holding it."""
    field: Path
    """The path from that object to the value (no list indices)."""
    message: str
    """pydantic's message (what the SDK type expects)."""
    kind: str
    """pydantic's error type (``list_type``, ``literal_error``, ``missing``...)."""
    union: tuple[tuple[Path, int, str], ...] = ()
    """The smart-union choices on the way: (the union's path, its node, the label)."""


def _bounded(node: dict[str, Any], defs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A copy of core schema ``node`` with the changes the module lists."""
    kind = node.get("type")
    if kind == "model":
        inner = _bounded(node["schema"], defs)
        if inner.get("type") == "model-fields":
            extra = (node.get("config") or {}).get("extra_fields_behavior")
            if extra is not None:
                inner["extra_behavior"] = extra
        if "ref" in node:
            inner["ref"] = node["ref"]
            defs[node["ref"]] = inner
        return inner
    out = dict(node)
    if kind == "model-fields":
        out["fields"] = {name: {**f, "schema": _bounded(f["schema"], defs)}
                         for name, f in node["fields"].items()}
    elif kind == "union":
        choices = [_bounded(c[0] if isinstance(c, tuple) else c, defs) for c in node["choices"]]
        tags = _tags(choices)
        if tags is not None:
            return {"type": "tagged-union", "choices": tags, "discriminator": "type",
                    **({"ref": node["ref"]} if "ref" in node else {})}
        out["choices"] = [(c, f"{_LABEL}{i}") for i, c in enumerate(choices)]
    elif kind == "tagged-union":
        out["choices"] = {k: _bounded(c, defs) for k, c in node["choices"].items()}
    elif kind == "definitions":
        out["definitions"] = [_bounded(d, defs) for d in node["definitions"]]
    elif kind == "chain":
        out["steps"] = [_bounded(s, defs) for s in node["steps"]]
    if kind in _BOUNDED:
        out["fail_fast"] = True
    for key in _INNER:
        value = node.get(key)
        if isinstance(value, dict):
            out[key] = _bounded(value, defs)
        elif isinstance(value, list) and key == "items_schema":
            out[key] = [_bounded(v, defs) for v in value]
    if "ref" in out and kind != "definition-ref":
        defs[out["ref"]] = out
    return out


def _tags(choices: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    """``{type tag: choice}`` when every choice is a model requiring a ``type`` literal
    and no tag names two choices; else None (the union stays a smart one)."""
    tags: dict[str, dict[str, Any]] = {}
    for choice in choices:
        if choice.get("type") != "model-fields":
            return None
        field = choice["fields"].get("type")
        schema = field.get("schema") if isinstance(field, dict) else None
        if not isinstance(schema, dict) or schema.get("type") != "literal":
            return None  # absent, optional (a default), or not a literal
        for tag in schema["expected"]:
            if not isinstance(tag, str) or tag in tags:
                return None
            tags[tag] = choice
    return tags or None


class Checker:
    """A bounded validator of one SDK class (see the module docstring)."""

    def __init__(self, model: type[BaseModel]) -> None:
        schema = model.__pydantic_core_schema__
        if not isinstance(schema, dict):  # a deferred build: build it now
            model.model_rebuild()
            schema = model.__pydantic_core_schema__
        self.defs: dict[str, dict[str, Any]] = {}
        self.schema = _bounded(dict(schema), self.defs)
        self.validator = SchemaValidator(self.schema)
        self.name = model.__name__

    def errors(self, obj: Any) -> list[Error] | None:
        """The errors of ``obj`` against the class (None: it validates)."""
        try:
            self.validator.validate_python(obj)
        except ValidationError as exc:
            found = exc.errors(include_url=False, include_context=False, include_input=False)
            return [self._placed(e["loc"], _cut(e["msg"]), e["type"]) for e in found]
        return None

    def _through(self, node: dict[str, Any] | None) -> dict[str, Any] | None:
        while node is not None:
            kind = node.get("type")
            if kind == "definition-ref":
                node = self.defs.get(node.get("schema_ref", ""))
            elif kind == "lax-or-strict":
                node = node.get("lax_schema")
            elif kind == "json-or-python":
                node = node.get("python_schema")
            elif kind == "chain":
                steps = node.get("steps") or [None]
                node = steps[0]
            elif kind in _THROUGH:
                node = node.get("schema")
            else:
                return node
        return None

    def _placed(self, loc: tuple[int | str, ...], message: str, kind: str) -> Error:
        node: dict[str, Any] | None = self.schema
        path: list[str | int] = []
        model, field = self.name, len(path)
        union: list[tuple[Path, int, str]] = []
        for seg in loc:
            node = self._through(node)
            if node is None:
                path.append(seg)
                continue
            step = node.get("type")
            if step == "model-fields":
                model, field = str(node.get("model_name") or model), len(path)
                path.append(seg)
                node = _field(node, seg)
            elif step in ("list", "set", "frozenset", "dict"):
                path.append(seg)
                node = node.get("values_schema" if step == "dict" else "items_schema")
            elif step == "tuple":
                path.append(seg)
                items = node.get("items_schema") or []
                node = items[min(seg, len(items) - 1)] if isinstance(seg, int) and items else None
            elif step == "tagged-union":
                node = node["choices"].get(seg)
            elif step == "union" and isinstance(seg, str) and seg.startswith(_LABEL):
                union.append((tuple(path), id(node), seg))
                choices = node["choices"]
                index = int(seg[len(_LABEL):])
                node = choices[index][0] if index < len(choices) else None
            else:
                path.append(seg)
                node = None
        rel = tuple(s for s in path[field:] if isinstance(s, str))
        return Error(tuple(path), model, rel, message, kind, tuple(union))


def _field(node: dict[str, Any], key: str | int) -> dict[str, Any] | None:
    """The schema of the field a model-fields node validates under wire key ``key``."""
    fields = node["fields"]
    found = fields.get(key) if isinstance(key, str) else None
    if found is not None and found.get("validation_alias") in (None, key):
        return found.get("schema")  # type: ignore[no-any-return]
    for f in fields.values():
        if f.get("validation_alias") == key:
            return f.get("schema")  # type: ignore[no-any-return]
    return None


def _cut(message: str) -> str:
    if len(message) <= MAX_MESSAGE:
        return message
    half = (MAX_MESSAGE - 3) // 2
    return f"{message[:half]} … {message[-half:]}"


def shown_path(path: Path) -> Path:
    """``path`` as a message shows it: a key past :data:`MAX_KEY_SHOWN` characters cut,
    ending ``…`` (the type fuzz's 1 MiB key made a 1 MiB message)."""
    return tuple(k[:MAX_KEY_SHOWN - 1] + "…" if isinstance(k, str) and len(k) > MAX_KEY_SHOWN
                 else k for k in path)


@cache
def validator(model: type[BaseModel]) -> Checker:
    """The :class:`Checker` of ``model``, built on first use and kept."""
    return Checker(model)


def at(obj: Any, path: Path) -> Iterator[Any]:
    """The value at ``path`` inside ``obj`` (nothing when absent)."""
    for seg in path:
        if isinstance(obj, dict) and isinstance(seg, str) and seg in obj:
            obj = obj[seg]
        elif isinstance(obj, list) and isinstance(seg, int) and 0 <= seg < len(obj):
            obj = obj[seg]
        else:
            return
    yield obj
