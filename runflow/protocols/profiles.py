"""The server profiles runflow ships (``runflow check --profile NAME``).

What a profile is, and how a flow applies one, is the engine's
(:mod:`runflow.engine.profiles`); which quirks each real server has is data in each
protocol's folder (``runflow/protocols/<name>/profiles.py``), gathered here.
``shared/RESPONSES.md`` §10 describes them.
"""

from __future__ import annotations

from runflow.engine.profiles import Profile
from runflow.protocols.responses.profiles import PROFILES as RESPONSES_PROFILES

__all__ = ["PROFILES", "add_profiles", "profile_named", "profiles_markdown"]

PROFILES: dict[str, Profile] = {p.name: p for p in RESPONSES_PROFILES}
"""Every known profile, by name (``runflow check --profile NAME``): the ones runflow
ships, plus those of protocols added with :func:`runflow.protocols.registry.register`.
The flows restore a checkpoint's profile by name from here."""


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
        overrides = ", ".join([
            *(f"`{code.value}`{f' ({kind})' if kind else ''}: {verdict}"
              for (code, kind), verdict in profile.overrides.items()),
            *(f"`{rule}`: {verdict}" for rule, verdict in profile.rules.items())]) or "nothing"
        lines.append(f"| `{profile.name}` | {profile.about} | {overrides} |")
    return "\n".join(lines) + "\n"
