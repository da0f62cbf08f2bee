"""Where a Responses flow keeps its positioned entities, and reading them back.

An item sits at ``output/<output_index>``, a part at ``<group>/<output_index>/<index>``
(groups ``content``, ``summary``, ``command``): the keys of
:attr:`runflow.engine.state.FlowState.slots`, each giving the entity's ``(kind, id)``.
The rules (:mod:`runflow.protocols.responses.definition`) and the read API
(:mod:`runflow.protocols.responses.view`) list items and parts by those keys on nearly
every event and every read; the keys of the first items are made once here, since a
key made on each lookup costs its formatting and its hash.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PART_GROUPS", "first_parts", "index_of", "item_at", "items_now", "output_key",
           "parts", "previous_slot", "streamed_items"]

PART_GROUPS = ("content", "summary", "command")
"""The groups an item's parts sit in: content parts, reasoning summary parts, shell
commands."""

_MADE = 256
_OUTPUT_KEYS = tuple(f"output/{i}" for i in range(_MADE))
_INDEX = {key: i for i, key in enumerate(_OUTPUT_KEYS)}
"""The index in each of those keys (parsing it costs a slice and an ``int``)."""
_FIRST_PARTS = tuple(tuple((group, f"{group}/{i}/0") for group in PART_GROUPS)
                     for i in range(_MADE))
_PARTS_MADE = 16
_PART_KEYS = {group: tuple(tuple(f"{group}/{i}/{j}" for j in range(_PARTS_MADE))
                           for i in range(_PARTS_MADE)) for group in PART_GROUPS}
"""The keys of the first parts of the first items, by group, item and part index."""


def output_key(index: int) -> str:
    """The slot key of the item at ``index`` (``output/2``)."""
    return _OUTPUT_KEYS[index] if 0 <= index < _MADE else f"output/{index}"


def first_parts(index: int) -> tuple[tuple[str, str], ...]:
    """For the item at ``index``: each part group with the key of its first part
    (an item has parts in one group at most, often none)."""
    if 0 <= index < _MADE:
        return _FIRST_PARTS[index]
    return tuple((group, f"{group}/{index}/0") for group in PART_GROUPS)


def index_of(tracker: Any) -> int:
    """A positioned entity's last index: an item's ``output_index``, a part's own."""
    slot: str = tracker.slot
    index = _INDEX.get(slot)
    return index if index is not None else int(slot[slot.rfind("/") + 1:])


def previous_slot(slot: str) -> str | None:
    """The key of the position before ``slot`` in its group (None at index 0)."""
    index = _INDEX.get(slot)
    if index is not None:
        return _OUTPUT_KEYS[index - 1] if index else None
    cut = slot.rfind("/")
    last = int(slot[cut + 1:])
    return f"{slot[:cut]}/{last - 1}" if last else None


def item_at(state: Any, index: int) -> Any:
    """The item at ``index`` (None if none is there)."""
    found = state.slots.get(output_key(index))
    return state.children[found[0]].get(found[1]) if found is not None else None


def streamed_items(state: Any) -> list[Any]:
    """The items at output_index 0, 1, ... up to the first gap."""
    slots, children = state.slots, state.children
    items: list[Any] = []
    for key in _OUTPUT_KEYS:
        found = slots.get(key)
        if found is None:
            return items
        item = children[found[0]].get(found[1])
        if item is None:
            return items
        items.append(item)
    while (found := slots.get(f"output/{len(items)}")) is not None:
        item = children[found[0]].get(found[1])
        if item is None:
            break
        items.append(item)
    return items


def items_now(state: Any) -> list[Any]:
    """:func:`streamed_items`, made once per event: the rules of the response's
    terminal event and the read of the response after it share one list (kept on the
    root's memo while the flow is at the same event and holds as many positions: an
    item is only ever added, or taken back by an undone event, which drops the memo).
    Read it, never change it."""
    root = state.root
    if root is None:
        return streamed_items(state)
    stamp = (state.index, len(state.slots))
    memo = root.memo
    kept = memo.get("items") if memo is not None else None
    if kept is not None and kept[0] == stamp:
        return kept[1]  # type: ignore[no-any-return]
    items = streamed_items(state)
    if memo is None:
        root.memo = memo = {}
    memo["items"] = (stamp, items)
    return items


def parts(state: Any, group: str, index: int, first: str | None = None) -> list[Any]:
    """The parts of the item at ``index`` in ``group``, in order, up to the first gap
    (most items have none in most groups: one lookup); ``first``: the key of the first
    part, if made already (:func:`first_parts`)."""
    slots = state.slots
    found = slots.get(first or f"{group}/{index}/0")
    if found is None:
        return []
    children = state.children
    keys = (_PART_KEYS[group][index] if 0 <= index < _PARTS_MADE and group in _PART_KEYS
            else ())
    out = []
    while found is not None:
        part = children[found[0]].get(found[1])
        if part is None:
            break
        out.append(part)
        j = len(out)
        found = slots.get(keys[j] if j < len(keys) else f"{group}/{index}/{j}")
    return out
