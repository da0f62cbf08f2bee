"""Seed streams for the Responses type-confusion fuzz: one per output item family.

The captures do not hold every family the Responses definition knows (no
``custom_tool_call``, ``mcp_call`` or ``mcp_list_tools``; ``shell_call`` and
``compaction`` only in captures of hundreds of events), so the fuzz also takes one
short stream per family, in the wire shape of the captures, each item with its
own sub-events (:func:`item_family_seeds`). A test checks they cover every item
table of the definition.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FAMILIES", "item_family_seeds"]

Event = dict[str, Any]
_P = "response."


class _Stream:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.output: list[Event] = []
        self.add("created", response=self.response("in_progress"))
        self.add("in_progress", response=self.response("in_progress"))

    @staticmethod
    def response(status: str, output: list[Event] | None = None) -> Event:
        return {"id": "resp_seed", "object": "response", "created_at": 1774963893,
                "status": status, "error": None, "incomplete_details": None,
                "model": "gpt-5", "output": output or [], "parallel_tool_calls": True,
                "tool_choice": "auto", "tools": [], "usage": None, "metadata": {}}

    def add(self, kind: str, **fields: Any) -> None:
        self.events.append({"type": _P + kind, "sequence_number": len(self.events), **fields})

    def item(self, item: Event, *middle: tuple[str, dict[str, Any]], done: Event) -> None:
        """``output_item.added``, the item's own events (placed by ``item_id`` and
        ``output_index``), ``output_item.done``."""
        index = len(self.output)
        self.add("output_item.added", output_index=index, item=item)
        for kind, fields in middle:
            self.add(kind, item_id=item["id"], output_index=index, **fields)
        self.add("output_item.done", output_index=index, item=done)
        self.output.append(done)

    def end(self) -> list[Event]:
        self.add("completed", response=self.response("completed", self.output))
        return self.events


def _called(tag: str, value_event: str, key: str, item: Event, value: str,
            where: tuple[str, ...] = ()) -> list[Event]:
    """An item whose one value grows by deltas (a function call's arguments...)."""
    s = _Stream()
    done = {**item, "status": "completed"}
    target = done
    for step in where:
        target[step] = dict(target[step])
        target = target[step]
    target[key] = value
    s.item(item, (value_event + ".delta", {"delta": value[:5]}),
           (value_event + ".delta", {"delta": value[5:]}),
           (value_event + ".done", {key: value}), done=done)
    return s.end()


def _hosted(tag: str, working: str, item: Event, done: Event,
            extra: tuple[tuple[str, dict[str, Any]], ...] = ()) -> list[Event]:
    s = _Stream()
    s.item(item, (f"{tag}.in_progress", {}), (f"{tag}.{working}", {}), *extra,
           (f"{tag}.completed", {}), done=done)
    return s.end()


def _message() -> list[Event]:
    s = _Stream()
    where = {"content_index": 0}
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    annotation = {"type": "url_citation", "url": "https://example.com", "title": "t",
                  "start_index": 0, "end_index": 5}
    done_part = {**part, "text": "Hello", "annotations": [annotation]}
    s.item({"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant",
            "content": []},
           ("content_part.added", {**where, "part": part}),
           ("output_text.delta", {**where, "delta": "Hel", "logprobs": []}),
           ("output_text.delta", {**where, "delta": "lo", "logprobs": []}),
           ("output_text.annotation.added", {**where, "annotation_index": 0,
                                             "annotation": annotation}),
           ("output_text.done", {**where, "text": "Hello", "logprobs": []}),
           ("content_part.done", {**where, "part": done_part}),
           ("content_part.added", {"content_index": 1, "part": {"type": "refusal",
                                                                 "refusal": ""}}),
           ("refusal.delta", {"content_index": 1, "delta": "No."}),
           ("refusal.done", {"content_index": 1, "refusal": "No."}),
           ("content_part.done", {"content_index": 1, "part": {"type": "refusal",
                                                                "refusal": "No."}}),
           done={"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                 "content": [done_part, {"type": "refusal", "refusal": "No."}]})
    return s.end()


def _reasoning() -> list[Event]:
    s = _Stream()
    summary = {"type": "summary_text", "text": "Plan"}
    text = {"type": "reasoning_text", "text": "Think"}
    s.item({"id": "rs_1", "type": "reasoning", "summary": [], "content": []},
           ("reasoning_summary_part.added", {"summary_index": 0,
                                             "part": {"type": "summary_text", "text": ""}}),
           ("reasoning_summary_text.delta", {"summary_index": 0, "delta": "Plan"}),
           ("reasoning_summary_text.done", {"summary_index": 0, "text": "Plan"}),
           ("reasoning_summary_part.done", {"summary_index": 0, "part": summary}),
           ("content_part.added", {"content_index": 0,
                                   "part": {"type": "reasoning_text", "text": ""}}),
           ("reasoning_text.delta", {"content_index": 0, "delta": "Think"}),
           ("reasoning_text.done", {"content_index": 0, "text": "Think"}),
           ("content_part.done", {"content_index": 0, "part": text}),
           done={"id": "rs_1", "type": "reasoning", "summary": [summary], "content": [text]})
    return s.end()


def _shell() -> list[Event]:
    s = _Stream()
    action: Event = {"commands": [], "max_output_length": None, "timeout_ms": None}
    call: Event = {"id": "sh_1", "type": "shell_call", "status": "in_progress",
                   "call_id": "call_sh", "action": action}
    index = 0
    s.add("output_item.added", output_index=index, item=call)
    s.add("shell_call_command.added", output_index=index, command_index=0, command="")
    s.add("shell_call_command.delta", output_index=index, command_index=0, delta="ls -l")
    s.add("shell_call_command.done", output_index=index, command_index=0, command="ls -l")
    done = {**call, "status": "completed", "action": {**action, "commands": ["ls -l"]}}
    s.add("output_item.done", output_index=index, item=done)
    s.output.append(done)
    output = [{"outcome": {"type": "exit", "exit_code": 0}, "stderr": "", "stdout": "a\n"}]
    s.item({"id": "sho_1", "type": "shell_call_output", "status": "in_progress",
            "call_id": "call_sh", "max_output_length": None, "output": []},
           ("shell_call_output_content.delta", {"command_index": 0,
                                                "delta": {"stdout": "a\n"}}),
           ("shell_call_output_content.done", {"command_index": 0, "output": output}),
           done={"id": "sho_1", "type": "shell_call_output", "status": "completed",
                 "call_id": "call_sh", "max_output_length": None, "output": output})
    return s.end()


def _plain(item: Event, *middle: tuple[str, dict[str, Any]], **done: Any) -> list[Event]:
    s = _Stream()
    s.item(item, *middle, done={**item, **done})
    return s.end()


FAMILIES: dict[str, Any] = {
    "message": _message,
    "reasoning": _reasoning,
    "function_call": lambda: _called(
        "function_call", "function_call_arguments", "arguments",
        {"id": "fc_1", "type": "function_call", "status": "in_progress", "call_id": "call_1",
         "name": "get_weather", "arguments": ""}, '{"city":"Paris"}'),
    "custom_tool_call": lambda: _called(
        "custom_tool_call", "custom_tool_call_input", "input",
        {"id": "ctc_1", "type": "custom_tool_call", "call_id": "call_2", "name": "grep",
         "input": ""}, "pattern: foo"),
    "apply_patch_call": lambda: _called(
        "apply_patch_call", "apply_patch_call_operation_diff", "diff",
        {"id": "apc_1", "type": "apply_patch_call", "status": "in_progress",
         "call_id": "call_3", "operation": {"type": "create_file", "path": "a.md", "diff": ""}},
        "+hello\n+world", where=("operation",)),
    "web_search_call": lambda: _hosted(
        "web_search_call", "searching",
        {"id": "ws_1", "type": "web_search_call", "status": "in_progress"},
        {"id": "ws_1", "type": "web_search_call", "status": "completed",
         "action": {"type": "search", "query": "weather"}}),
    "file_search_call": lambda: _hosted(
        "file_search_call", "searching",
        {"id": "fs_1", "type": "file_search_call", "status": "in_progress", "queries": [],
         "results": None},
        {"id": "fs_1", "type": "file_search_call", "status": "completed",
         "queries": ["q"], "results": None}),
    "image_generation_call": lambda: _hosted(
        "image_generation_call", "generating",
        {"id": "ig_1", "type": "image_generation_call", "status": "in_progress"},
        {"id": "ig_1", "type": "image_generation_call", "status": "completed",
         "result": "aGk="},
        (("image_generation_call.partial_image", {"partial_image_index": 0,
                                                  "partial_image_b64": "aA=="}),)),
    "code_interpreter_call": lambda: _plain(
        {"id": "ci_1", "type": "code_interpreter_call", "status": "in_progress",
         "code": "", "container_id": "cntr_1", "outputs": None},
        ("code_interpreter_call.in_progress", {}),
        ("code_interpreter_call_code.delta", {"delta": "print(1)"}),
        ("code_interpreter_call_code.done", {"code": "print(1)"}),
        ("code_interpreter_call.interpreting", {}),
        ("code_interpreter_call.completed", {}),
        status="completed", code="print(1)", outputs=[{"type": "logs", "logs": "1\n"}]),
    "mcp_call": lambda: _plain(
        {"id": "mcp_1", "type": "mcp_call", "status": "in_progress", "name": "roll",
         "server_label": "dice", "arguments": ""},
        ("mcp_call.in_progress", {}),
        ("mcp_call_arguments.delta", {"delta": '{"n":2}'}),
        ("mcp_call_arguments.done", {"arguments": '{"n":2}'}),
        ("mcp_call.completed", {}),
        status="completed", arguments='{"n":2}', output="4"),
    "mcp_list_tools": lambda: _plain(
        {"id": "mcpl_1", "type": "mcp_list_tools", "server_label": "dice", "tools": []},
        ("mcp_list_tools.in_progress", {}), ("mcp_list_tools.completed", {}),
        tools=[{"name": "roll", "input_schema": {}}]),
    "shell_call": _shell,
    "shell_call_output": _shell,
    "compaction": lambda: _plain(
        {"id": "cmp_1", "type": "compaction", "encrypted_content": "gAAA"},
        ("compaction.compacting", {})),
    "tool_search_call": lambda: _plain(
        {"id": "tsc_1", "type": "tool_search_call", "status": "in_progress",
         "arguments": {}, "call_id": None, "execution": "server"}, status="completed"),
    "tool_search_output": lambda: _plain(
        {"id": "tso_1", "type": "tool_search_output", "status": "in_progress", "tools": []},
        status="completed"),
    "item": lambda: _plain({"id": "zz_1", "type": "future_item", "status": "in_progress",
                            "payload": {"a": [1]}}, status="completed"),
}
"""Item kind (the definition's ``ITEM_KINDS``; ``item`` is an unknown type) -> its
seed stream's builder."""


def item_family_seeds() -> dict[str, list[Event]]:
    """One seed stream per item family (``shell_call`` and its output share one)."""
    seen: set[Any] = set()
    out: dict[str, list[Event]] = {}
    for kind, make in FAMILIES.items():
        if make not in seen:
            seen.add(make)
            out[f"seed: {kind}"] = make()
    return out
