"""Payload shapes: the fields runflow reads from remote JSON, as data.

A protocol definition describes each full object and delta with these few
combinators; :meth:`Shape.problem` walks a value and names the first field of the
wrong type by its JSON path (``content[0].text.value: expected string, got int``).
Every shape also answers :meth:`Shape.fits`, the same check without a path or a
message: ``problem`` asks it first, so a value that fits (nearly all of them) costs
no string building, and only a misfit is walked again to be named.
Fields a shape does not name are accepted as the server sent them -- real servers
add fields -- so a shape lists exactly what the engine and the accumulators rely
on, and past the check they can use those fields without ``isinstance`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ANY", "BOOL", "ID", "INDEX", "NUMBER", "STR",
    "Choice", "List", "Misfit", "Obj", "Opt", "Req", "Shape", "json_type", "within",
]


class Misfit(str):
    """A sentence naming a value of the wrong shape that knows the JSON path it is
    about (``path``: in the event's data, ``""`` for the data itself): what
    :meth:`Shape.problem` returns, and what a definition's accumulator says of a
    malformed delta. The engine keeps the path on the violation
    (:attr:`runflow.engine.violations.Violation.path`), so a reader finds the field
    without parsing the sentence (the types layer: one report per field)."""

    path: str

    def __new__(cls, text: str, path: str) -> Misfit:
        self = super().__new__(cls, text)
        self.path = path
        return self


def within(prefix: str, problem: str) -> str:
    """``prefix + problem``, still a :class:`Misfit` of the same path when ``problem``
    is one (``the data of response.output_text.delta: `` before a shape's sentence)."""
    text = prefix + problem
    return Misfit(text, problem.path) if isinstance(problem, Misfit) else text


def json_type(value: Any) -> str:
    """The JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class Shape:
    """A check on one JSON value."""

    expected = "any value"
    types: tuple[type, ...] | None = None
    """When the check is one of type alone, the Python types of exactly the values
    that fit (``STR``: ``(str,)``): an :class:`Obj` or :class:`List` then checks such a
    field by ``type(value) in types`` without calling :meth:`fits`. None: it needs
    :meth:`fits`."""

    def problem(self, value: Any, path: str = "") -> Misfit | None:
        """None when ``value`` fits, else ``"<path>: expected ..., got ..."``."""
        if self.fits(value):
            return None
        return Misfit(f"{path or 'the data'}: expected {self.expected}, got {json_type(value)}",
                      path)

    def fits(self, value: Any) -> bool:
        return True

    def explain(self, value: Any, path: str = "") -> Misfit | None:
        """:meth:`problem` by the walk that names the misfit, without asking
        :meth:`fits` first (what the tests compare ``fits`` with)."""
        return self.problem(value, path)


class _Str(Shape):
    def __init__(self, nonempty: bool = False) -> None:
        self.nonempty = nonempty
        self.expected = "a non-empty string" if nonempty else "string"
        self.types = None if nonempty else (str,)

    def fits(self, value: Any) -> bool:
        return type(value) is str and (bool(value) or not self.nonempty)


class _Int(Shape):
    expected = "an integer >= 0"

    def fits(self, value: Any) -> bool:
        return type(value) is int and value >= 0


class _Number(Shape):
    expected = "number"
    types = (int, float)

    def fits(self, value: Any) -> bool:
        return type(value) in (int, float)


class _Bool(Shape):
    expected = "boolean"
    types = (bool,)

    def fits(self, value: Any) -> bool:
        return type(value) is bool


ANY = Shape()
STR = _Str()
ID = _Str(nonempty=True)
INDEX = _Int()
NUMBER = _Number()
BOOL = _Bool()


class Opt(Shape):
    """``null`` (or absent, inside an :class:`Obj`) or ``inner``."""

    def __init__(self, inner: Shape) -> None:
        self.inner = inner
        self.expected = f"null or {inner.expected}"
        self.types = None if inner.types is None else (*inner.types, type(None))

    def fits(self, value: Any) -> bool:
        return value is None or self.inner.fits(value)

    def problem(self, value: Any, path: str = "") -> Misfit | None:
        return None if value is None else self.inner.problem(value, path)


class Req(Shape):
    """Inside an :class:`Obj` variant: a field that must be there (and not null)."""

    def __init__(self, inner: Shape) -> None:
        self.inner = inner
        self.expected = inner.expected
        self.types = inner.types

    def fits(self, value: Any) -> bool:
        return self.inner.fits(value)

    def problem(self, value: Any, path: str = "") -> Misfit | None:
        return self.inner.problem(value, path)


class Choice(Shape):
    """One of a few strings."""

    def __init__(self, *values: str) -> None:
        self.values = frozenset(values)
        self.expected = " or ".join(repr(v) for v in sorted(values))

    def fits(self, value: Any) -> bool:
        return type(value) is str and value in self.values

    def problem(self, value: Any, path: str = "") -> Misfit | None:
        if type(value) is str and value in self.values:
            return None
        got = repr(value) if type(value) is str else json_type(value)
        return Misfit(f"{path or 'the data'}: expected {self.expected}, got {got[:80]}", path)


class List(Shape):
    """An array whose items all fit ``item``."""

    def __init__(self, item: Shape = ANY) -> None:
        self.item = item
        self.expected = "array"

    def problem(self, value: Any, path: str = "") -> Misfit | None:
        if type(value) is not list:
            return super().problem(value, path)
        item = self.item
        if item is ANY:
            return None
        fits = item.fits
        for i, entry in enumerate(value):
            if fits(entry):
                continue
            found = item.problem(entry, f"{path}[{i}]")
            if found is not None:
                return found
        return None

    def fits(self, value: Any) -> bool:
        if type(value) is not list:
            return False
        item = self.item
        if item is ANY:
            return True
        types = item.types
        if types is not None:
            for entry in value:
                if type(entry) not in types:
                    return False
            return True
        fits = item.fits
        return all(fits(entry) for entry in value)


class Obj(Shape):
    """An object: ``fields`` are checked where present, ``required`` must be there
    (and not null). ``variants`` picks extra fields by the value of ``tag``."""

    expected = "object"

    def __init__(
        self,
        fields: Mapping[str, Shape] | None = None,
        *,
        required: tuple[str, ...] = (),
        tag: str | None = None,
        variants: Mapping[str, Mapping[str, Shape]] | None = None,
    ) -> None:
        self.fields = dict(fields or {})
        self.required = required
        self.tag = tag
        self.variants = {k: dict(v) for k, v in (variants or {}).items()}
        # what fits() checks: fields whose check is one of type alone by their types,
        # a non-empty string and an optional list of such values in place, the others
        # by their own fits(); a field of any value not at all
        self._typed = tuple((key, shape.types) for key, shape in self.fields.items()
                            if shape.types is not None)
        self._filled = tuple(key for key, shape in self.fields.items()
                             if type(shape) is _Str and shape.nonempty)
        self._lists = tuple((key, shape.inner.item.types) for key, shape in self.fields.items()
                            if type(shape) is Opt and type(shape.inner) is List
                            and shape.inner.item.types is not None)
        special = {*self._filled, *(key for key, _ in self._lists)}
        self._checks = tuple((key, shape.fits) for key, shape in self.fields.items()
                             if shape.types is None and type(shape) is not Shape
                             and key not in special)
        if not self.fields and not required and tag is None:
            self.types = (dict,)  # Obj(): any object
        self._variant_checks = {
            k: tuple((key, shape.fits, isinstance(shape, Req)) for key, shape in v.items())
            for k, v in self.variants.items()}

    def fits(self, value: Any) -> bool:
        if type(value) is not dict:
            return False
        get = value.get
        for key in self.required:
            if get(key) is None:
                return False
        for key, types in self._typed:
            if key in value and type(value[key]) not in types:
                return False
        for key in self._filled:  # a non-empty string
            if key in value and (type(found := value[key]) is not str or not found):
                return False
        for key, types in self._lists:  # null, or a list of values of these types
            found = get(key)
            if found is not None:
                if type(found) is not list:
                    return False
                for entry in found:
                    if type(entry) not in types:
                        return False
        for key, fits in self._checks:
            if key in value and not fits(value[key]):
                return False
        if self.tag is not None:
            tag = get(self.tag)
            extra = self._variant_checks.get(tag) if type(tag) is str else None
            for key, fits, required in extra or ():
                if key in value:
                    if not fits(value[key]) or (required and value[key] is None):
                        return False
                elif required:
                    return False
        return True

    def problem(self, value: Any, path: str = "") -> Misfit | None:
        return None if self.fits(value) else self.explain(value, path)

    def explain(self, value: Any, path: str = "") -> Misfit | None:
        if type(value) is not dict:
            return Misfit(f"{path or 'the data'}: expected object, got {json_type(value)}", path)
        for key in self.required:
            if value.get(key) is None:
                got = "null" if key in value else "nothing"
                return Misfit(f"{_join(path, key)}: required, got {got}", _join(path, key))
        for key, shape in self.fields.items():
            if key in value:
                found = shape.problem(value[key], _join(path, key))
                if found is not None:
                    return found
        if self.tag is not None:
            tag = value.get(self.tag)  # a tag that is no string picks no variant
            extra = self.variants.get(tag) if type(tag) is str else None
            for key, shape in (extra or {}).items():
                if isinstance(shape, Req) and value.get(key) is None:
                    got = "null" if key in value else "nothing"
                    return Misfit(f"{_join(path, key)}: required, got {got}", _join(path, key))
                if key in value:
                    found = shape.problem(value[key], _join(path, key))
                    if found is not None:
                        return found
        return None
