"""Key mutations for the type fuzz (:mod:`runflow.testing.typefuzz`): hostile keys,
not hostile values.

Remote input is hostile in its keys too: an object may hold any key, and the JSON
text may name a key twice. A pydantic or SDK builder that takes fields as keyword
arguments, a check that reads a key by attribute, a checkpoint that cannot save a
key: each is an untyped exception or a lost value. The value mutations never touch
a key, so these mutations are tables of their own (:data:`KEY_MUTATIONS`), applied
at one of two kinds of site of an event's data:

* ``object`` -- the path of an object (a dict, the data itself included): *add* one
  or more keys (:data:`ADDED_KEYS`: names of pydantic's and the SDK's internals and
  of their builders' parameters, JavaScript's, odd unicode, the empty string, a
  1 MiB key, keys that differ only by case or by Unicode normalisation), the
  event's own ``type`` at this depth, :data:`MANY` keys at once (no ``Limits``
  bounds the keys of an object: ``metadata`` holds whatever the server sends), or a
  key that exists only as JSON text (a lone-surrogate escape);
* ``key`` -- the path of a value held under a key: *remove* that key, *rename* it
  (:data:`SPELLINGS`: upper case, fullwidth -- the same key under NFKC --, with a
  NUL, empty), add a *twin* of it spelled another way beside it, or *duplicate*
  it in the JSON text (``{"a": 1, "a": "x"}``) with a value of another type after
  or before the real one.

Every parser on runflow's paths keeps the *last* of duplicate keys:
``pydantic_core.from_json`` (``feed_sse``, ``feed`` of bytes, ``check``, the
recording and checkpoint readers) and ``json.loads`` (the openai SDK's stream);
:func:`last_wins` proves it, and the fuzz checks that the text fed as SSE and the
object ``json.loads`` makes of it give the same flow.

A mutation is data (:class:`KeyMutation`): its label, its site, what it does and
its arguments; :func:`mutated_object` and :func:`object_text` apply it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

import pydantic_core

from runflow.engine.jsonparse import dump_json

__all__ = ["ADDED_KEYS", "KEY_MUTATIONS", "MANY", "SPELLINGS", "KeyMutation", "last_wins",
           "mutated_object", "object_text", "spelled"]

KeySite = Literal["object", "key"]
Op = Literal["add", "type", "many", "raw key", "remove", "rename", "twin", "dup after",
             "dup before"]
_SITES: Final[dict[Op, KeySite]] = {
    "add": "object", "type": "object", "many": "object", "raw key": "object",
    "remove": "key", "rename": "key", "twin": "key", "dup after": "key", "dup before": "key"}
_RAW: Final = frozenset(("raw key", "dup after", "dup before"))

ADDED: Final = [1]
"""The value an added key holds: a list (not a string, not hashable)."""
MIB: Final = 1024 * 1024
MANY: Final = 10_000
"""How many keys the ``many`` mutation adds to one object."""


@dataclass(frozen=True)
class KeyMutation:
    """One key mutation: ``label`` (the fuzz report's row), what it does (``op``)
    and its argument: the keys an ``add`` adds, the spelling a ``rename`` or
    ``twin`` uses (:data:`SPELLINGS`), the JSON text of a ``raw key``."""

    label: str
    op: Op
    keys: tuple[tuple[str, Any], ...] = ()
    spelling: str = ""
    text: str = ""

    @property
    def site(self) -> KeySite:
        return _SITES[self.op]

    @property
    def raw(self) -> bool:
        """The mutated object exists only as JSON text (a duplicate key, an escape
        no Python string dumps to)."""
        return self.op in _RAW

    @property
    def duplicate(self) -> bool:
        """The JSON text names a key twice."""
        return self.op in ("dup after", "dup before")


def _fullwidth(key: str) -> str:
    """``key`` with its printable ASCII in fullwidth forms: NFKC maps it back."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in key)


SPELLINGS: Final[dict[str, Callable[[str], str]]] = {
    "UPPER": lambda k: k.upper() if k.upper() != k else k + "_",
    "fullwidth": lambda k: _fullwidth(k) if _fullwidth(k) != k else k + "\u0301",
    "with NUL": lambda k: k + "\x00",
    "empty": lambda k: "" if k else " ",
}
"""Other spellings of a key (each differs from the key): ``twin`` and ``rename``."""


def spelled(spelling: str, key: str) -> str:
    return SPELLINGS[spelling](key)


_INTERNALS: Final = (
    "model_config", "model_fields", "model_fields_set", "model_extra", "model_computed_fields",
    "__dict__", "__class__", "__init__", "__slots__", "__getattr__", "__pydantic_extra__",
    "__pydantic_fields_set__", "__pydantic_private__", "__pydantic_validator__",
    "_fields_set", "cls", "self", "_BaseModel__cls", "values", "type_", "__proto__",
    "constructor", "prototype", "toString", "hasOwnProperty")
"""pydantic's and the openai SDK's attribute names, their builders' parameters, and
JavaScript's (a browser client, ``tests/node``)."""

_ODD: Final = (
    ("empty", ""), ("1MiB key", "k" * MIB), ("NUL", "\x00"), ("RTL override", "\u202e"),
    ("RTL mark", "id\u200f"), ("combining", "e\u0301"), ("BOM", "\ufeff"),
    ("emoji", "\U0001f600"), ("line separator", "a\u2028b"), ("C1 NEL", "\x85"),
    ("spaces", "  "), ("dotted", "a.b"), ("bracketed", "a[0]"), ("slash", "/id"))
"""Odd keys: control and format characters, a 1 MiB key, path-like keys."""

ADDED_KEYS: Final[tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]] = (
    *((name, ((name, ADDED),)) for name in _INTERNALS),
    *((label, ((key, ADDED),)) for label, key in _ODD),
    ("id and ID", (("id", "x1"), ("ID", "x2"))),
    ("Type and TYPE", (("Type", "a"), ("TYPE", "b"))),
    ("NFC and NFD", (("caf\u00e9", 1), ("cafe\u0301", 2))),
    ("id and fullwidth id", (("id", "x1"), (_fullwidth("id"), "x2"))),
)
"""``(label, keys added)`` of the ``add`` mutations: one key each, or a pair that
differs only by case or by Unicode normalisation (``id`` is set too: most objects
have one, and a twin beside it is the point)."""

KEY_MUTATIONS: Final[tuple[KeyMutation, ...]] = (
    *(KeyMutation(f"key add {label}", "add", keys) for label, keys in ADDED_KEYS),
    KeyMutation("key add type of the event", "type"),
    KeyMutation(f"key add {MANY // 1000}k keys", "many"),
    KeyMutation("key add lone surrogate", "raw key", text='"\\ud800"'),
    KeyMutation("key remove", "remove"),
    *(KeyMutation(f"key rename {s}", "rename", spelling=s) for s in SPELLINGS),
    *(KeyMutation(f"key twin {s}", "twin", spelling=s) for s in SPELLINGS),
    KeyMutation("key dup after", "dup after"),
    KeyMutation("key dup before", "dup before"),
)
"""Every key mutation, in the order their inputs are numbered."""


def _wrong(value: Any) -> Any:
    """A value of another type than ``value`` (a duplicate key's other value)."""
    return 7 if isinstance(value, str) else "x"


def mutated_object(m: KeyMutation, obj: dict[str, Any], key: str | None,
                   event: str | None) -> dict[str, Any]:
    """``obj`` (a copy) changed by ``m`` (not a raw one): ``key`` is the key a
    ``key``-site mutation changes, ``event`` the event's name (``type``)."""
    if m.op == "add":
        return {**obj, **dict(m.keys)}
    if m.op == "type":
        return {**obj, "type": event}
    if m.op == "many":
        return {**obj, **{f"k{i}": i for i in range(MANY)}}
    if key is None or key not in obj:
        raise ValueError(f"{m.label} needs a key of the object")
    if m.op == "remove":
        return {k: v for k, v in obj.items() if k != key}
    new = spelled(m.spelling, key)
    if m.op == "rename":
        return {(new if k == key else k): v for k, v in obj.items()}
    if m.op == "twin":
        return {**obj, new: obj[key]}
    raise ValueError(f"{m.label} is JSON text only")


def object_text(m: KeyMutation, obj: dict[str, Any], key: str | None) -> str:
    """The JSON text of ``obj`` changed by ``m`` (a raw one)."""
    pairs = [(dump_json(k)[0], dump_json(v)[0]) for k, v in obj.items()]
    if m.op == "raw key":
        pairs.append((m.text, dump_json(ADDED)[0]))
    elif key is not None and key in obj:
        quoted = dump_json(key)[0]
        at = list(obj).index(key)
        other = (quoted, dump_json(_wrong(obj[key]))[0])
        pairs.insert(at + 1 if m.op == "dup after" else at, other)
    else:
        raise ValueError(f"{m.label} needs a key of the object")
    return "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"


def last_wins() -> bool:
    """Both parsers keep the last of duplicate keys (what the module docstring
    says, checked on the installed versions)."""
    text = '{"a": 1, "b": 0, "a": "x"}'
    kept: Any = {"a": "x", "b": 0}
    return bool(pydantic_core.from_json(text) == json.loads(text) == kept)
