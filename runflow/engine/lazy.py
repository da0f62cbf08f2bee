"""``"module:Name"`` references, imported on first use.

A definition's snapshot types and a registry row's flow class can be named this
way, so that loading a definition (to detect a stream's protocol, say) does not
import the openai SDK types or the flow of a protocol the stream does not speak.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import Any

__all__ = ["resolve"]


@cache
def resolve(ref: str) -> Any:
    """The object ``ref`` (``"package.module:Name"``) names; ``ValueError`` when
    ``ref`` is not of that form, ``ImportError``/``AttributeError`` when nothing is
    there."""
    module, sep, name = ref.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"not a 'module:Name' reference: {ref!r}")
    return getattr(import_module(module), name)
