"""The ``call_id`` each call item of a response holds, kept on the root.

The ``call_id_unique`` rule (:mod:`runflow.protocols.responses.definition`) asks,
at each call's ``output_item.done``, whether an earlier item of the response (at
``output_index`` 0, 1, ... before the call, up to the first gap) is a call with the
same ``call_id``. Walking the earlier items at every call made the work calls x
calls (2,000 calls: 164 µs a call); :class:`CallIds` answers in time independent of
the number of items.

It is derived data, kept on the root's :attr:`~runflow.engine.entities.Tracker.memo`
under :data:`MEMO`, never saved in checkpoints: it is made from the items as they
are when the rule first asks (and again in a flow loaded from a checkpoint), then
kept current by the ``call_ids_noted`` rule, which runs after every event of a call
kind -- the only events that replace a call's object (``raw``). An event undone
half-way (:mod:`runflow.engine.journal`) drops the root's memo, so it is made again
from the items as they were put back.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

from runflow.protocols.responses.slots import index_of, item_at

__all__ = ["CALL_KINDS", "MEMO", "CallIds", "call_ids", "note_call_id"]

CALL_KINDS = ("function_call", "custom_tool_call", "apply_patch_call", "shell_call",
              "tool_search_call")
"""The item kinds a client answers by ``call_id`` (with a ``*_output`` item of the same
id, which is why the outputs are not among them)."""

MEMO = "call_ids"
"""The key of :class:`CallIds` in the root's memo."""


def _call_id(item: Any) -> str | None:
    raw = item.raw
    found = raw.get("call_id") if type(raw) is dict else None
    return found if type(found) is str else None


class CallIds:
    """The positions of the call items of each ``call_id``, in order; and how many
    positions from 0 on are known to hold an item (no gap)."""

    __slots__ = ("filled", "held", "positions")

    def __init__(self, state: Any) -> None:
        self.held: dict[Any, tuple[int, str | None]] = {}
        """Each call item noted: its position and the call_id its object holds."""
        self.positions: dict[str, list[int]] = {}
        """By call_id, the positions of the call items holding it, ascending."""
        self.filled = 0
        """Positions 0 .. filled - 1 hold an item (slots are never taken back but by
        an undone event, which drops this memo)."""
        children = state.children
        for kind in CALL_KINDS:
            for item in (children.get(kind) or {}).values():
                self.note(item)

    def note(self, item: Any) -> None:
        """Take the call_id ``item``'s object holds now."""
        if item.slot is None:
            return
        call_id = _call_id(item)
        kept = self.held.get(item)
        if kept is not None and kept[1] == call_id:
            return
        position = kept[0] if kept is not None else index_of(item)
        if kept is not None and kept[1] is not None:
            taken = self.positions[kept[1]]
            del taken[bisect_left(taken, position)]
            if not taken:
                del self.positions[kept[1]]
        if call_id is not None:
            insort(self.positions.setdefault(call_id, []), position)
        self.held[item] = (position, call_id)

    def earlier(self, state: Any, call: Any, call_id: str) -> Any:
        """The first item before ``call`` (with no gap before it) that is a call with
        ``call_id``, or None: what walking the items from output_index 0 finds."""
        found = self.positions.get(call_id)
        if not found:
            return None
        first = found[0]  # the earliest: a walk from 0 meets it before any other
        if first >= index_of(call):
            return None
        while self.filled <= first:  # a gap before it: the walk stops there
            if item_at(state, self.filled) is None:
                return None
            self.filled += 1
        return item_at(state, first)


def call_ids(state: Any) -> CallIds | None:
    """The root's :class:`CallIds`, made now if it has none yet (None: no root)."""
    root = state.root
    if root is None:
        return None
    memo = root.memo
    kept = memo.get(MEMO) if memo is not None else None
    if kept is not None:
        return kept[1]  # type: ignore[no-any-return]
    made = CallIds(state)
    if memo is None:
        root.memo = memo = {}
    memo[MEMO] = (None, made)
    return made


def note_call_id(state: Any, item: Any) -> None:
    """Note the call_id ``item``'s object holds now, in the root's :class:`CallIds`
    if it has one (else nothing: it is made from the items as they are when asked)."""
    root = state.root
    memo = root.memo if root is not None else None
    kept = memo.get(MEMO) if memo is not None else None
    if kept is not None:
        kept[1].note(item)
