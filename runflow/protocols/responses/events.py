"""The Responses stream's event names: one light module that both the definition
and the registry's detection row read, so that detecting a stream's protocol builds
no definition and the names are written once."""

from __future__ import annotations

__all__ = ["OUTSIDE_THE_SDK", "PROTOCOL_EVENTS"]

P = "response."

# --------------------------------------------------------------------------- #
# The protocol events: the openai SDK's ResponseStreamEvent union (a test keeps
# this list a superset of it), plus the events real servers send outside it.
# --------------------------------------------------------------------------- #
_SDK_EVENTS = (
    "error",
    *(P + name for name in (
        "created", "queued", "in_progress", "completed", "incomplete", "failed",
        "output_item.added", "output_item.done",
        "content_part.added", "content_part.done",
        "output_text.delta", "output_text.done", "output_text.annotation.added",
        "refusal.delta", "refusal.done",
        "reasoning_text.delta", "reasoning_text.done",
        "reasoning_summary_part.added", "reasoning_summary_part.done",
        "reasoning_summary_text.delta", "reasoning_summary_text.done",
        "function_call_arguments.delta", "function_call_arguments.done",
        "custom_tool_call_input.delta", "custom_tool_call_input.done",
        "web_search_call.in_progress", "web_search_call.searching", "web_search_call.completed",
        "file_search_call.in_progress", "file_search_call.searching",
        "file_search_call.completed",
        "code_interpreter_call.in_progress", "code_interpreter_call.interpreting",
        "code_interpreter_call.completed",
        "code_interpreter_call_code.delta", "code_interpreter_call_code.done",
        "image_generation_call.in_progress", "image_generation_call.generating",
        "image_generation_call.partial_image", "image_generation_call.completed",
        "mcp_call.in_progress", "mcp_call.completed", "mcp_call.failed",
        "mcp_call_arguments.delta", "mcp_call_arguments.done",
        "mcp_list_tools.in_progress", "mcp_list_tools.completed", "mcp_list_tools.failed",
        "shell_call_command.added", "shell_call_command.delta", "shell_call_command.done",
        "shell_call_output_content.delta", "shell_call_output_content.done",
        "compaction.compacting",
        "audio.delta", "audio.done", "audio.transcript.delta", "audio.transcript.done",
    )),
)
OUTSIDE_THE_SDK = (
    P + "apply_patch_call_operation_diff.delta",  # vercel_apply_patch_gpt51
    P + "apply_patch_call_operation_diff.done",
    P + "cancelled",  # status cancelled exists; no event in the union (RESPONSES.md §6)
    "keepalive",  # OpenAI's heartbeat on long streams (openai-node #1964)
    "ping", P + "keep_alive",  # heartbeats other clients skip (openai-php #732)
)
PROTOCOL_EVENTS: frozenset[str] = frozenset({*_SDK_EVENTS, *OUTSIDE_THE_SDK, "done"})
