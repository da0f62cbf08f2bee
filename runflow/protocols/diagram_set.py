"""Where a protocol's committed diagrams live and what their files say.

Each protocol folder holds its :class:`DiagramSet` (``runflow/protocols/<name>/
diagrams.py``) and the registry (:mod:`runflow.protocols`) hands it to the drawing
code (:mod:`runflow.diagrams`), which knows no protocol by name.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REFRESH_COMMAND", "DiagramSet"]

REFRESH_COMMAND = "runflow diagram --refresh"
"""Regenerates every committed folder (``--protocol NAME`` for one of them)."""


@dataclass(frozen=True)
class DiagramSet:
    """Where one protocol's committed diagrams live and what their files say."""

    protocol: str
    """The :attr:`Protocol.name` it draws."""
    subfolder: str
    """Its folder under ``diagrams/`` (``""``: ``diagrams/`` itself)."""
    constant: str
    """The Python name of the definition, for the header of every file."""
    refresh: str
    """The command that regenerates this folder only."""
    title: str
    """The README's heading."""
    intro: tuple[str, ...]
    """The README's paragraph, line by line."""
    contents: bool = False
    """The README lists the machines first (when there are many)."""

    @property
    def header(self) -> str:
        return f"generated from {self.constant} by `{self.refresh}`; do not edit"

    @classmethod
    def generic(cls, protocol: str) -> DiagramSet:
        """The set of a protocol that brings none: ``diagrams/<name>/``."""
        return cls(
            protocol=protocol, subfolder=protocol,
            constant=f"the {protocol!r} protocol definition",
            refresh="runflow.diagrams.write_diagram_files", title=f"{protocol} state diagrams",
            intro=(f"Generated from the {protocol!r} protocol definition, never drawn by hand.",),
        )
