"""Small helpers for reading JSON-shaped server objects."""

from __future__ import annotations

from typing import Any

__all__ = ["dig"]


def dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...``, or None as soon as a level is not an object."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
