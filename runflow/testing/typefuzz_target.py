"""What a type-fuzz run fuzzes (:mod:`runflow.testing.typefuzz`): the flow class,
the values put in place of each field, and the ways the flow is fed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from openai._models import construct_type
from openai.types.responses import ResponseStreamEvent

from runflow.engine.flow import Flow
from runflow.engine.limits import Limits
from runflow.protocols.assistants.flow import RunFlow
from runflow.protocols.responses.flow import ResponseFlow
from runflow.testing.typefuzz_keys import KEY_MUTATIONS, KeyMutation, KeySite

JSONPath = tuple[str | int, ...]
"""A JSON path: dict keys and list indices from the event's data down."""

Mode = Literal["sse", "events", "sdk", "frames", "text"]
"""How a mutated stream is fed: the SSE and event modes of :mod:`.typefuzz`, and the
WebSocket frame modes of :mod:`.typefuzz_ws` (``frames``, ``text``)."""
MODES: Final[tuple[Mode, ...]] = ("sse", "events")
"""The ways the Assistants flow is fed."""

MIB = 1024 * 1024

VALUES: Final[tuple[tuple[str, Any], ...]] = (
    ("null", None),
    ("0", 0),
    ("-1", -1),
    ("1.5", 1.5),
    ('""', ""),
    ('"x"', "x"),
    ("[]", []),
    ("{}", {}),
    ("[1]", [1]),
    ("[{}]", [{}]),
    ("true", True),
    ("1MiB string", "x" * MIB),
)
"""Replacement values that are Python objects: ``(label, value)``."""

RAW_VALUES: Final[tuple[tuple[str, str], ...]] = (
    ("300-deep list", "[" * 300 + "]" * 300),
    ("NaN", "NaN"),
    ("lone surrogate", '"\\ud800"'),
)
"""Replacement values that exist only as JSON text: ``(label, text)``. They reach
the flow as bytes (SSE, or ``data`` bytes to ``feed``), never as objects."""


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


HOSTILE_VALUES: Final[tuple[tuple[str, Any], ...]] = (
    ("2**64", 2**64),
    ("1e308", 1e308),
    ("10k list", list(range(10_000))),
    ("150-deep object", _nested(150)),
    ("odd unicode", "\x00\u202e\ufeff\u2028\U0001f600e\u0301\uffff\x85"),
    ("1MiB of emoji", "\U0001f600" * (MIB // 4)),
)
"""More values for the Responses target: huge numbers, a long list, an object
nested deep (but within the parser's bound), control and format characters, and
a string of 4-byte characters (a limit counted in characters, not bytes)."""

_BIG = "1" + "0" * 400
HOSTILE_RAW: Final[tuple[tuple[str, str], ...]] = (
    ("1e999", "1e999"),
    ("-1E+400", "-1E+400"),
    ("400-digit integer", _BIG),
    ("out-of-range numbers in a list", f"[1e999,-1E+400,{_BIG}]"),
    ("out-of-range numbers in logprobs",
     f'[{{"token":"x","logprob":1e999,"bytes":[{_BIG}],"top_logprobs":'
     f'[{{"token":"y","logprob":-1E+400,"bytes":[]}}],"unknown":-1E+400}}]'),
)
"""JSON text the parser turns into ``inf`` and ``-inf`` (it rejects ``Infinity`` but
not an overflowing exponent) and into an integer past any fixed width: alone, and
inside a list and an object. Most recorded deltas hold ``"logprobs": []``, a list
with no element to replace, so a number put in its place replaces the list; the last
two put the numbers inside it (the last in the SDK's logprob shape, a known field, a
nested list and an unknown field), where the layers keep a delta's data whatever
numbers it holds (:func:`runflow.conform.events.layers_data`) and the types layer
reads it."""


Event = dict[str, Any]


def _responses_sdk_event(event: Event) -> Any:
    """What the openai SDK's ``Stream`` yields for one Responses event's data
    (``client._process_response_data`` with strict validation off)."""
    return construct_type(type_=ResponseStreamEvent, value=event.get("data"))


@dataclass(frozen=True)
class Target:
    """What a run fuzzes: the flow class, its replacement values, how it is fed."""

    name: str
    flow: Callable[..., Flow]
    values: tuple[tuple[str, Any], ...] = VALUES
    raw_values: tuple[tuple[str, str], ...] = RAW_VALUES
    modes: tuple[Mode, ...] = MODES
    sdk_event: Callable[[Event], Any] | None = None
    """Builds the SDK's event object for the ``sdk`` mode."""
    stepwise: bool = False
    """Feed event by event and run :func:`stepwise_problems` on every input."""
    limits: Limits | None = None
    layers: bool = True
    """Also run ``check``'s, ``conform``'s and ``watch``'s layers on ``sse`` inputs."""
    types: bool = True
    """Also run the types layer (:mod:`runflow.testing.typefuzz_types`) over every
    mutation once (its input in the first mode)."""
    layers_every: int = 1
    """Run the layers on 1 in this many ``sse`` inputs (a fixed sample by input
    number: :func:`~runflow.testing.typefuzz.layers_sampled`); every input still goes
    through ``feed_sse`` or ``feed``, the stepwise checks and the read API."""
    list_items: int | None = None
    """Fuzz only the first ``list_items`` elements of each list (None: all). The
    elements of a list are the same field over and over (the 430 ``logprobs`` of a
    capture): this keeps every field in the corpus without millions of twins."""
    keys: tuple[KeyMutation, ...] = ()
    """Key mutations (:mod:`runflow.testing.typefuzz_keys`), numbered after the
    value inputs (:func:`~runflow.testing.typefuzz.nth_input`)."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Every mutation's label: the values, then the key mutations."""
        return (*self.value_labels, *(m.label for m in self.keys))

    @property
    def value_labels(self) -> tuple[str, ...]:
        return tuple(label for label, _ in (*self.values, *self.raw_values))

    def key_labels(self, site: KeySite) -> tuple[str, ...]:
        """The labels of the key mutations applied at ``site``."""
        return tuple(m.label for m in self.keys if m.site == site)

    def key(self, label: str) -> KeyMutation | None:
        """The key mutation of ``label``, or None (a value's label)."""
        return next((m for m in self.keys if m.label == label), None)

    def new_flow(self) -> Flow:
        return self.flow(limits=self.limits)

    def value(self, label: str) -> Any:
        return dict(self.values)[label]

    def raw(self, label: str) -> str | None:
        return dict(self.raw_values).get(label)


ASSISTANTS_FUZZ: Final = Target("assistants", RunFlow, VALUES, (*RAW_VALUES, *HOSTILE_RAW))
"""The out-of-range numbers too (:data:`HOSTILE_RAW`): a delta's data holding one
reaches the layers whole, as the Responses one does."""
RESPONSES_FUZZ: Final = Target(
    "responses", ResponseFlow, (*VALUES, *HOSTILE_VALUES), (*RAW_VALUES, *HOSTILE_RAW),
    ("sse", "events", "sdk"), sdk_event=_responses_sdk_event, stepwise=True, list_items=2,
    layers_every=10)
"""The layers (``check``'s, ``conform``'s, ``watch``'s) cost more than the flow on the
large captures (``watch`` replays the stream with callbacks): they run on 1 in 10
``sse`` inputs."""


def with_keys(target: Target, values: bool = True) -> Target:
    """``target`` with the key mutations too (``values=False``: the key mutations
    only)."""
    if values:
        return replace(target, keys=KEY_MUTATIONS)
    return replace(target, keys=KEY_MUTATIONS, values=(), raw_values=())

MEMORY_BOUND: Final = 6 * Limits().max_event_bytes
"""The peak an input may reach under ``tracemalloc``: a few copies of one event at
``max_event_bytes`` (the text, its parsed object, the flow's snapshot). The largest
fuzzed value is 1 MiB; a flow that kept every event it parsed many times over would
pass it."""
MEMORY_EVERY: Final = 1000
CHECKPOINT_EVERY: Final = 10
"""1 in this many value inputs (a fixed sample by input number) also has its
checkpoint loaded back (every key input has)."""
"""Every this many-th input of a run is fed once more under ``tracemalloc``."""


