"""The server profiles runflow ships (``runflow check --profile NAME``).

What a profile is, and how a flow applies one, is the engine's
(:mod:`runflow.engine.profiles`); which quirks each real server has is data about
the protocols, kept here. ``shared/RESPONSES.md`` §10 describes them.
"""

from __future__ import annotations

from runflow.engine.profiles import Profile
from runflow.engine.violations import Code

__all__ = ["PROFILES", "profile_named", "profiles_markdown"]

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
