"""The Responses servers' profiles (:class:`runflow.engine.profiles.Profile`): which
quirk of each real server is an error, a warning or expected (RESPONSES.md §10)."""

from __future__ import annotations

from runflow.engine.profiles import Profile
from runflow.engine.violations import Code

__all__ = ["PROFILES"]

_QUIRKS = (Code.ITEMS_INTERLEAVED, Code.ITEM_ID_MISMATCH, Code.OUTPUT_MISMATCH,
           Code.EVENT_NAME_MISMATCH, Code.STATUS_MISMATCH)

PROFILES: tuple[Profile, ...] = (
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
    Profile("deepseek", "responses", "DeepSeek: bare UUID ids (documented), reasoning_text "
            "parts; nothing the grammar does not accept",
            rules={"payload.*.id": "expected"}),
    Profile("lmstudio", "responses", "LM Studio: function calls without argument deltas; "
            "nothing the grammar does not accept"),
    Profile("bedrock", "responses", "AWS Bedrock Mantle: data: before event:, sorted keys; "
            "nothing the grammar does not accept"),
    Profile("xai", "responses", "xAI: sequence_number first, shared ids; nothing the "
            "grammar does not accept"),
)
"""The profiles of the Responses servers runflow knows."""
