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

__all__ = ["PROFILES", "Profile", "Verdict", "profile_named", "profiles_markdown"]

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


_QUIRKS = (Code.ITEMS_INTERLEAVED, Code.ITEM_ID_MISMATCH, Code.OUTPUT_MISMATCH,
           Code.EVENT_NAME_MISMATCH, Code.STATUS_MISMATCH)

PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("openai", "responses",
            "api.openai.com: none of the known quirks; each is an error",
            {(code, None): "error" for code in _QUIRKS}),
    Profile("azure", "responses",
            "Azure OpenAI: web search and image generation items end without their "
            ".completed event, still 'searching' / 'generating'",
            {(Code.STATUS_MISMATCH, "web_search_call"): "expected",
             (Code.STATUS_MISMATCH, "image_generation_call"): "expected"}),
    Profile("openrouter", "responses",
            "OpenRouter: data-only frames, [DONE], items that interleave (reasoning closed "
            "last) and final output ids that differ from the streamed ones",
            {(Code.ITEMS_INTERLEAVED, None): "expected",
             (Code.OUTPUT_MISMATCH, None): "expected"}),
    Profile("copilot", "responses",
            "GitHub Copilot: item_id rotates on every event (the output_index holds)",
            {(Code.ITEM_ID_MISMATCH, None): "expected"}),
    Profile("codex", "responses",
            "ChatGPT Codex backend: response.completed carries output []",
            {(Code.OUTPUT_MISMATCH, None): "expected"}),
    Profile("deepseek", "responses", "DeepSeek: bare UUID ids, reasoning_text parts; "
            "nothing the grammar does not accept"),
    Profile("lmstudio", "responses", "LM Studio: function calls without argument deltas; "
            "nothing the grammar does not accept"),
    Profile("bedrock", "responses", "AWS Bedrock Mantle: data: before event:, sorted keys; "
            "nothing the grammar does not accept"),
    Profile("xai", "responses", "xAI: sequence_number first, shared ids; nothing the "
            "grammar does not accept"),
)}
"""The profiles runflow ships, by name (``runflow check --profile NAME``)."""


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
