"""A quick yes for the SDK's validator: the values it surely accepts, without calling it.

Typing every delta of a stream with the SDK's validator (:mod:`runflow.conform.sdk_schema`)
costs 2 to 5 microseconds an event, about what ``runflow check`` spends on the whole
event. Nearly every delta holds only strings, integers and the lists and objects of
them the SDK's class names, which a few ``type(value) is ...`` tests confirm.
:func:`sure` compiles, once per class, a predicate from the validator's own core
schema that answers True only for a value the validator accepts (a strict subset of
pydantic's lax rules: an ``int`` field takes an ``int``, never a ``"5"``); False
means "ask the validator", which then reports the errors or accepts it after all.

Compiled: ``str``, ``int``, ``float``, ``bool``, ``none``, ``any``, a literal of
strings, nullable, default, list, dict, model fields (required keys present, extra
keys as the model allows), a union (one variant sure is enough) and a union tagged
by ``type``, and references to definitions. Anything else (a constraint, a
validator function, a date) is never sure: such a value always takes the validator.

The predicate is Python source made with ``exec``: one expression a class, its
definitions inlined (a recursive one, and a list's elements past the first, through
a function of their own). The same tests as nested closures cost more than the
validator itself (a call per field); the expression costs about half of it (a
Responses delta 0.9 against 1.9 microseconds, an Assistants message delta 1.5
against 3.1, on the loaded 2-core machine it was measured on).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from pydantic import BaseModel

from runflow.conform.sdk_schema import validator

__all__ = ["Sure", "sure"]

Sure = Callable[[Any], bool]
"""True: the SDK's validator accepts the value (False: ask it)."""

_PLAIN = {"str": "str", "int": "int", "float": ("float", "int"), "bool": "bool",
          "none": "NoneType"}
"""Scalar schemas tested by the exact type of the value (``bool`` is no ``int`` here)."""
_HARMLESS = frozenset({"type", "ref", "metadata", "serialization", "strict", "fail_fast",
                       "items_schema", "keys_schema", "values_schema"})
"""Keys of a schema that constrain nothing; any other (``ge``, ``pattern``,
``max_length``...) makes the value never sure."""


class _Source:
    """The functions of one predicate, as source, and the constants they read."""

    def __init__(self, defs: dict[str, dict[str, Any]]) -> None:
        self.defs = defs
        self.names: dict[str, str] = {}  # definition ref -> its function's name
        self.open: set[str] = set()  # the definitions being inlined (their refs)
        self.functions: list[str] = []
        self.constants: dict[str, Any] = {"NoneType": type(None)}
        self.fresh = 0

    def name(self, prefix: str) -> str:
        self.fresh += 1
        return f"{prefix}{self.fresh}"

    def constant(self, value: Any) -> str:
        name = self.name("K")
        self.constants[name] = value
        return name

    def function(self, schema: dict[str, Any]) -> str:
        """The name of a function testing ``schema`` (a definition's: made once)."""
        ref = schema.get("ref")
        if isinstance(ref, str) and ref in self.names:
            return self.names[ref]
        name = self.name("f")
        if isinstance(ref, str):
            self.names[ref] = name
            self.open.add(ref)
        body = self.expr(schema, "v", depth=0)
        if isinstance(ref, str):
            self.open.discard(ref)
        self.functions.append(f"def {name}(v):\n    return {body}\n")
        return name

    def expr(self, schema: dict[str, Any], x: str, depth: int) -> str:
        """An expression true when the value named ``x`` surely passes ``schema``."""
        kind = schema.get("type")
        if depth > 12:
            return f"{self.function(schema)}({x})"
        if kind in _PLAIN:
            if set(schema) - _HARMLESS:
                return "False"
            types = _PLAIN[kind]
            return (f"type({x}) is {types}" if isinstance(types, str)
                    else f"type({x}) in ({', '.join(types)})")
        if kind == "any":
            return "True"
        if kind == "literal":
            expected = schema.get("expected") or []
            if not all(isinstance(e, str) or e is None for e in expected):
                return "False"
            strings = self.constant(frozenset(e for e in expected if e is not None))
            none = f"{x} is None or " if None in expected else ""
            return f"({none}(type({x}) is str and {x} in {strings}))"
        if kind == "nullable":
            inner = self.expr(schema["schema"], x, depth + 1)
            plain = re.fullmatch(rf"type\({re.escape(x)}\) (?:is (\w+)|in \(([\w, ]+)\))", inner)
            if plain:  # one test of the type: None is one more type
                return f"type({x}) in ({plain.group(1) or plain.group(2)}, NoneType)"
            return f"({x} is None or {inner})"
        if kind == "default":
            return self.expr(schema["schema"], x, depth + 1)
        if kind == "definition-ref":
            ref = schema.get("schema_ref", "")
            target = self.defs.get(ref)
            if target is None:
                return "False"
            if ref in self.open:  # recursive: through its function
                return f"{self.function(target)}({x})"
            self.open.add(ref)
            try:
                return self.expr(target, x, depth + 1)
            finally:
                self.open.discard(ref)
        if kind == "definitions":
            for d in schema.get("definitions") or ():
                if "ref" in d:
                    self.defs.setdefault(d["ref"], d)
            return self.expr(schema["schema"], x, depth + 1)
        if kind == "list":
            if set(schema) - _HARMLESS:
                return "False"  # a length bound
            items = schema.get("items_schema")
            if not isinstance(items, dict):
                return f"type({x}) is list"
            y = self.name("y")
            test = self.expr(items, y, depth + 1)
            if test.startswith(f"type({y}) i") and test.count(y) == 1:  # a plain type
                return f"(type({x}) is list and all({test} for {y} in {x}))"
            first = _bound(test, y, f"{x}[0]")  # most lists of a delta hold one element
            return (f"(type({x}) is list and ((len({x}) == 1 and {first}) or "
                    f"all(map({self.function(items)}, {x}))))")
        if kind == "dict":
            keys, values = schema.get("keys_schema"), schema.get("values_schema")
            if set(schema) - _HARMLESS or (
                    isinstance(keys, dict) and keys.get("type") not in ("str", "any")):
                return "False"
            y = self.name("y")
            test = self.expr(values, y, depth + 1) if isinstance(values, dict) else "True"
            return (f"(type({x}) is dict and all(type(k) is str and ({test}) "
                    f"for k, {y} in {x}.items()))")
        if kind == "model-fields":
            return self.fields(schema, x, depth)
        if kind == "tagged-union" and schema.get("discriminator") == "type":
            table = {tag: self.function(c) for tag, c in schema["choices"].items()}
            lookup = self.constant(table)  # names, made functions by sure()
            tag = self.name("t")
            return (f"(type({x}) is dict and type({tag} := {x}.get('type')) is str and "
                    f"{tag} in {lookup} and {lookup}[{tag}]({x}))")
        if kind == "union":
            choices = [self.expr(c[0] if isinstance(c, tuple) else c, x, depth + 1)
                       for c in schema.get("choices") or ()]
            return f"({' or '.join(choices) or 'False'})"
        return "False"  # a validator function, a constraint, a date...: ask the SDK

    def fields(self, schema: dict[str, Any], x: str, depth: int) -> str:
        if schema.get("extra_behavior") == "forbid" or schema.get("computed_fields"):
            return "False"
        tests = [f"type({x}) is dict"]
        required = []
        for name, field in schema["fields"].items():
            alias = field.get("validation_alias", name)
            if not isinstance(alias, str):
                return "False"  # an alias path: the validator knows where to look
            inner = field["schema"]
            if inner.get("type") != "default":
                required.append(alias)
            y = self.name("y")
            test = self.expr(inner, y, depth + 1)
            if test == "True":
                continue
            test = _bound(test, y, f"{x}[{alias!r}]")
            tests.append(test if alias in required else f"({alias!r} not in {x} or {test})")
        if required:
            tests.insert(1, f"{self.constant(frozenset(required))} <= {x}.keys()")
        return "(" + " and ".join(tests) + ")"


def _bound(test: str, name: str, value: str) -> str:
    """``test`` of the variable ``name`` made a test of the expression ``value``: put in
    its place where it is read once, else bound (``:=``) where it is first read, which
    every test made here evaluates first."""
    word = re.compile(rf"\b{name}\b")
    if len(word.findall(test)) == 1:
        return word.sub(lambda _: value, test)
    return word.sub(lambda _: f"({name} := {value})", test, count=1)


@cache
def sure(model: type[BaseModel]) -> Sure:
    """The predicate of ``model`` (see the module docstring), built once and kept."""
    checker = validator(model)
    source = _Source(dict(checker.defs))
    top = source.function(checker.schema)
    namespace: dict[str, Any] = dict(source.constants)
    exec("\n".join(source.functions), namespace)
    for name, value in source.constants.items():
        if isinstance(value, dict):  # a tagged union's table: names -> functions
            namespace[name] = {tag: namespace[f] for tag, f in value.items()}
    found: Sure = namespace[top]
    return found
