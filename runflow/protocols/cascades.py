"""What a protocol tells conform's grouping: which findings are consequences of which.

One lost or broken event makes a flow report many findings; conform groups them by
root cause (:mod:`runflow.conform.grouping`, which explains the links). The rows that
hold for any grammar live there; a protocol adds the rows that name its own rules
(its order rows, its REST comparisons, the codes only it reports) and the links only
its grammar has (a message announced by a step; the items of a response), as data on
its registry row (:attr:`~runflow.protocols.registry.Registered.cascades`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["LOST", "Announcement", "Cascade", "Link"]

Link = Literal["same", "root", "announcer", "group", "repeat"]
"""How an earlier finding is linked to a later one (:mod:`runflow.conform.grouping`)."""

LOST = ("grammar.",)
"""The causes of a cascade: findings about an event the flow lost, refused or applied
wrongly (the grammar's violations), which leave an entity behind."""


@dataclass(frozen=True)
class Announcement:
    """An object that names another entity it announces: a finding about the announced
    entity is a consequence of an earlier one about its announcer (the ``announcer``
    link). Read from each event's data as it comes."""

    objects: frozenset[str]
    """The values of the data's :attr:`field` that mark an announcing object."""
    path: tuple[str, ...]
    """The keys from the object to the announced entity's id."""
    kind: str
    """The announcer's kind, as finding keys name it (``kind:id``, the id the object's
    ``id``)."""
    field: str = "object"


@dataclass(frozen=True)
class Cascade:
    """Findings of ``rules`` are consequences of an earlier finding linked by ``link``."""

    rules: frozenset[str] | None
    """None: any rule."""
    link: Link
    why: str
    causes: tuple[str, ...] = LOST
    """Prefixes of the rules an earlier finding must have to cause these (an empty
    string: any rule)."""
    group: str | None = None
    """For the ``group`` link: the children's group, as finding keys name a position
    in it (``output`` of ``output/0``)."""
    announcement: Announcement | None = None
    """For the ``announcer`` link: what announces an entity."""

    def __post_init__(self) -> None:
        if (self.link == "group") != (self.group is not None):
            raise ValueError("a cascade names a group exactly when its link is 'group'")
        if (self.link == "announcer") != (self.announcement is not None):
            raise ValueError("a cascade names an announcement exactly when its link is "
                             "'announcer'")
