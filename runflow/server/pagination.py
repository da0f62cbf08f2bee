"""Cursor pagination as the Assistants API documents it.

A list is ordered by creation, ``order=asc`` oldest first or ``desc`` (the
default) newest first. ``after=ID`` gives the ``limit`` objects that follow ID in
that order; ``before=ID`` the ``limit`` objects that precede it -- the ones
*closest* to ID, still listed in the requested order. With m0...m4,
``order=asc&limit=2&before=m4`` is [m2, m3]. ``has_more`` says whether objects
remain beyond the page in the direction of travel (past the end for ``after``,
before the start for ``before``). ``limit`` must be 1 to 100 (default 20), and a
cursor must name an object of the list, or the request is a 400: silently ignoring
a stale cursor would restart the iteration from the beginning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request

from runflow.server.errors import ApiError
from runflow.server.store import JSON

__all__ = ["Page", "PageQuery", "page", "page_query"]

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class PageQuery:
    limit: int = 20
    order: Order = "desc"
    after: str | None = None
    before: str | None = None


@dataclass(frozen=True)
class Page:
    data: list[JSON]
    has_more: bool

    def body(self) -> JSON:
        return {"object": "list", "data": self.data,
                "first_id": self.data[0]["id"] if self.data else None,
                "last_id": self.data[-1]["id"] if self.data else None,
                "has_more": self.has_more}


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ApiError(400, f"Invalid '{name}': given {len(values)} times.", param=name)
    return values[0] if values else None


def page_query(request: Request) -> PageQuery:
    """``limit``/``order``/``after``/``before`` from the query string; 400 if invalid."""
    raw = _one(request, "limit")
    limit = 20
    if raw is not None:
        try:
            limit = int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid 'limit': expected an integer, got {raw!r}.",
                           param="limit") from None
        if not 1 <= limit <= 100:
            raise ApiError(400, f"Invalid 'limit': {limit} is not between 1 and 100.",
                           param="limit")
    order = _one(request, "order") or "desc"
    if order not in ("asc", "desc"):
        raise ApiError(400, f"Invalid 'order': {order!r}; expected 'asc' or 'desc'.",
                       param="order")
    return PageQuery(limit, "asc" if order == "asc" else "desc", _one(request, "after"),
                     _one(request, "before"))


def page(items: list[JSON], query: PageQuery, kind: str = "object") -> Page:
    """One page of ``items`` (given oldest first) for ``query``."""
    ordered = items if query.order == "asc" else items[::-1]
    ids = [str(item["id"]) for item in ordered]
    start, end = 0, len(ordered)
    for name, cursor in (("after", query.after), ("before", query.before)):
        if cursor is not None and cursor not in ids:
            raise ApiError(400, f"Invalid '{name}': no {kind} with id {cursor!r} in this list.",
                           param=name)
    if query.after is not None:
        start = ids.index(query.after) + 1
    if query.before is not None:
        end = ids.index(query.before)
    window = ordered[start:end] if start < end else []
    if query.before is not None and query.after is None:  # the objects closest to the cursor
        data = window[-query.limit:]
        return Page(data, len(window) > len(data))
    data = window[:query.limit]
    return Page(data, len(window) > len(data))
