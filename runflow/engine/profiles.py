"""Server profiles: which quirks of a real server are errors, warnings or expected.

Real servers speak the Responses grammar "each a little differently"
(``shared/RESPONSES.md`` §10). The definition reports each known quirk under its
own code with a default severity; a :class:`Profile` says, for one server, how
bad each is. A quirk marked ``"expected"`` is not stored as a violation: it is
counted in :attr:`runflow.FlowView.expected`, so a check of that server stays
quiet about what it always does while everything else is still reported.

A profile is data: ``(code, entity kind or None) -> severity``; the kind narrows
the override to one entity kind (Azure's web search items that end
``searching``), None applies it to every kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from runflow.engine.violations import Code, Severity

__all__ = ["PROFILES", "Profile", "Verdict", "add_profiles", "profile_named", "profiles_markdown"]

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

    def verdict(self, code: Code, kind: str | None) -> Verdict | None:
        """The override for ``code`` on an entity of ``kind``, if any."""
        found = self.overrides.get((code, kind))
        return found if found is not None else self.overrides.get((code, None))


PROFILES: dict[str, Profile] = {}
"""Every registered profile, by name (``runflow check --profile NAME``). The data
lives in each protocol's folder (``runflow/protocols/<name>/profiles.py``); the
registry (:func:`runflow.protocols.register`) adds a protocol's profiles here, so
the engine (a checkpoint restoring its profile by name) finds them without naming
any protocol."""


def add_profiles(profiles: tuple[Profile, ...]) -> None:
    """Make ``profiles`` known by name; a name taken by another profile is refused."""
    for profile in profiles:
        known = PROFILES.get(profile.name)
        if known is not None and known != profile:
            raise ValueError(f"profile {profile.name!r} is already registered "
                             f"(for {known.protocol})")
    PROFILES.update((p.name, p) for p in profiles)


def profile_named(name: str) -> Profile:
    """The profile ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


def profiles_markdown() -> str:
    """The profiles as a Markdown table (README.md embeds it; a test keeps it in sync)."""
    lines = ["| profile | server | judged differently |", "|---|---|---|"]
    for profile in PROFILES.values():
        overrides = ", ".join(
            f"`{code.value}`{f' ({kind})' if kind else ''}: {verdict}"
            for (code, kind), verdict in profile.overrides.items()) or "nothing"
        lines.append(f"| `{profile.name}` | {profile.about} | {overrides} |")
    return "\n".join(lines) + "\n"
