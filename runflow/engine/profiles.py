"""Server profiles: which quirks of a real server are errors, warnings or expected.

Real servers speak the Responses grammar "each a little differently"
(``shared/RESPONSES.md`` §10). The definition reports each known quirk under its
own code with a default severity; a :class:`Profile` says, for one server, how
bad each is. A quirk marked ``"expected"`` is not stored as a violation: it is
counted in :attr:`runflow.FlowView.expected`, so a check of that server stays
quiet about what it always does while everything else is still reported.

A profile is data: ``(code, entity kind or None) -> severity``; the kind narrows
the override to one entity kind (Azure's web search items that end
``searching``), None applies it to every kind. The profiles runflow ships are
in :mod:`runflow.protocols.profiles`: they name a protocol's entities, which the
engine does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

from runflow.engine.violations import Code, Severity

__all__ = ["Profile", "Verdict"]

Verdict = Severity | Literal["expected"]
"""What a profile makes of a violation: its severity, or ``"expected"`` (counted,
not reported)."""


@dataclass(frozen=True)
class Profile:
    """How one server's known quirks are judged."""

    name: str
    protocol: str
    """The definition it applies to (``"responses"``)."""
    about: str
    overrides: Mapping[tuple[Code, str | None], Verdict] = field(default_factory=dict)
    rules: Mapping[str, Verdict] = field(default_factory=dict)
    """Verdicts on the graders' own rules (``payload.*``, ``order.*``), by rule id or
    an ``fnmatch`` pattern of ids (``payload.*.id``): what ``runflow check`` and
    ``conform`` make of a finding of that rule on this server."""

    def verdict(self, code: Code, kind: str | None) -> Verdict | None:
        """The override for ``code`` on an entity of ``kind``, if any."""
        found = self.overrides.get((code, kind))
        return found if found is not None else self.overrides.get((code, None))

    def rule_verdict(self, rule: str) -> Verdict | None:
        """The verdict on a grader's rule ``rule``, if any (an exact id first)."""
        found = self.rules.get(rule)
        if found is not None:
            return found
        return next((v for pattern, v in self.rules.items() if fnmatchcase(rule, pattern)),
                    None)
