"""What each interop stream is, finding by finding, and why.

Every finding ``runflow check`` makes on a stream of :mod:`servers` is listed here
for that (server, scenario) and classified:

* ``DEFECT`` -- the server breaks the contract; the evidence quotes the API
  reference / the openai SDK's types / the Open Responses spec, or the server's
  source file and line;
* ``DEVIATION`` -- legal, but unlike every capture of a real service; runflow is
  right to say so as a *warning* (its rule names its captures as the source);
* ``FALSE_ALARM`` -- runflow is wrong. These are not fixed here (the rules belong
  to other engineers): each is a strict xfail in ``test_interop.py`` that passes
  the day the rule is fixed, and is then removed from this table.

The test compares the findings with this table in both directions, so a new false
alarm fails as loudly as a defect runflow stops seeing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

__all__ = ["DEFECT", "DEVIATION", "FALSE_ALARM", "VERDICTS", "Finding", "Verdict"]

Kind = Literal["defect", "deviation", "false alarm"]
DEFECT: Kind = "defect"
DEVIATION: Kind = "deviation"
FALSE_ALARM: Kind = "false alarm"


@dataclass(frozen=True)
class Finding:
    kind: Kind
    severity: str
    """The severity runflow gives it today."""
    evidence: str
    should_be: str | None = None
    """The severity it should have, when runflow under-rates a real defect (a strict
    xfail in test_interop.py until it does; either severity passes the verdict)."""


@dataclass(frozen=True)
class Verdict:
    """What the stream gave (as runflow reads it) and every finding on it."""

    status: str | None
    """The response's final state; None: the request failed before any stream."""
    text: str = ""
    arguments: tuple[str, ...] = ()
    findings: Mapping[str, Finding] = field(default_factory=dict)
    http_status: int = 200


# --------------------------------------------------------------------------- #
# shared evidence
# --------------------------------------------------------------------------- #
USAGE_NULL = Finding(
    DEVIATION, "warning",
    "payload.response.usage: usage is nullable (openai/types/responses/response.py: "
    "`usage: Optional[ResponseUsage] = None`; the Open Responses spec makes it nullable), so "
    "a server that leaves it null keeps the contract: not an error (issue 23). Every real "
    "capture of a completed response carries usage, so the rule's source is the captures and "
    "its severity a warning.")
AZURE_ID = Finding(
    FALSE_ALARM, "warning",
    "payload.response.id: the 'resp_' prefix is a convention of OpenAI's ids, not the "
    "contract (response.py: `id: str`, 'Unique identifier for this Response'). The vendor SDK "
    "mints 'caresp_' ids, so the warning fires on every stream of a server that keeps the "
    "contract; it should be at most a profile's expectation.")
MOCK_ITEM_ID = Finding(
    FALSE_ALARM, "warning",
    "payload.function_call.id: an item id's 'fc_' prefix is OpenAI's convention "
    "(ResponseFunctionToolCall: `id: Optional[str]`), not the contract; llm-mock-api reuses the "
    "call id (formats/openai/responses/serialize.py:201-205).")
ROSETTA_QUEUED = Finding(
    DEVIATION, "warning",
    "response.created carries status 'queued' on a foreground request and no response.queued "
    "follows (codex_rosetta/converters/stream_converter.py:122 builds created as 'queued').")
ROSETTA_INTERLEAVED = Finding(
    DEVIATION, "warning",
    "the gateway opens a message item on the upstream's role chunk and adds the next item "
    "while that message is still in_progress; OpenAI closes each item before the next.")
ORS_NO_CONTENT_INDEX = Finding(
    DEFECT, "error",
    "output_text.delta has no content_index and no sequence_number, both required "
    "(openai/types/responses/response_text_delta_event.py: `content_index: int`, "
    "`sequence_number: int`); built without them at open_responses_server/"
    "responses_service.py:543-548. The message is never added (no output_item.added), so "
    "every event about it is about an unknown item.")
ORS_NO_ITEM = Finding(
    DEFECT, "warning",
    "consequence of the missing output_item.added: response.completed's output has items "
    "the stream never added (open_responses_server/responses_service.py emits no "
    "response.output_item.added for messages).")


def _ors(text_unknown: bool = False) -> dict[str, Finding]:
    found = {"grammar.malformed_event": ORS_NO_CONTENT_INDEX,
             "grammar.output_mismatch": ORS_NO_ITEM,
             "payload.response.usage": USAGE_NULL}
    if text_unknown:
        found["grammar.unknown_entity"] = Finding(
            DEFECT, "error",
            "function_call_arguments.delta for an item never added (item_id 'tool_call_...' "
            "at output_index 0, where the message was): open_responses_server/"
            "responses_service.py emits no output_item.added for the call.")
        found["order.response.in_progress_after_queued"] = Finding(
            DEVIATION, "warning",
            "a second response.in_progress mid-stream, after content events "
            "(responses_service.py:504); no capture repeats it.")
    return found


_STREAMS: Mapping[tuple[str, str], Verdict] = {
    # ---------------------------------------------------------------- azure
    ("azure-ai-agentserver-responses", "text"): Verdict(
        "completed", "Hello, world!",
        findings={"payload.response.id": AZURE_ID, "payload.response.usage": USAGE_NULL}),
    ("azure-ai-agentserver-responses", "tool"): Verdict(
        "completed", "", ('{"city": "Paris"}',),
        findings={"payload.response.id": AZURE_ID, "payload.response.usage": USAGE_NULL}),
    ("azure-ai-agentserver-responses", "reasoning"): Verdict(
        "completed", "The answer is 4.",
        findings={"payload.response.id": AZURE_ID, "payload.response.usage": USAGE_NULL}),
    ("azure-ai-agentserver-responses", "error"): Verdict(
        "failed", findings={"payload.response.id": AZURE_ID}),
    ("azure-ai-agentserver-responses", "incomplete"): Verdict(
        "incomplete", "This answer is cut",
        findings={"payload.response.id": AZURE_ID, "payload.response.usage": USAGE_NULL}),
    # ------------------------------------------------- open-responses-server
    # It never adds the message item and its deltas have no content_index, so runflow
    # keeps no text: the client's own accumulator fails on the same stream.
    ("open-responses-server", "text"): Verdict("completed", findings=_ors()),
    ("open-responses-server", "tool"): Verdict("completed", findings=_ors(text_unknown=True)),
    ("open-responses-server", "reasoning"): Verdict("completed", findings=_ors()),
    ("open-responses-server", "length"): Verdict("completed", findings=_ors()),
    ("open-responses-server", "error"): Verdict("unseen", findings={
        "order.response.failed_after_error": Finding(
            DEFECT, "error",
            "a lone data-only `error` event with only a message (no sequence_number, code or "
            "param, all in response_error_event.py) and no response.failed after it, which the "
            "Open Responses spec requires ('any error incurred while streaming will be "
            "followed by a response.failed event'); api_controller.py:259. The rule is "
            "sourced from the spec's words, so by issue 23's policy it is an error.")}),
    # --------------------------------------------------------- codex-rosetta
    ("codex-rosetta", "text"): Verdict(
        "completed", "Hello, world!",
        findings={"order.response.queued_after_created": ROSETTA_QUEUED}),
    ("codex-rosetta", "tool"): Verdict(
        "completed", "", ('{"city": "Paris"}',),
        findings={"order.response.queued_after_created": ROSETTA_QUEUED,
                  "grammar.items_interleaved": ROSETTA_INTERLEAVED}),
    ("codex-rosetta", "reasoning"): Verdict(
        "completed", "The answer is 4.",
        findings={"order.response.queued_after_created": ROSETTA_QUEUED,
                  "grammar.items_interleaved": ROSETTA_INTERLEAVED,
                  "grammar.unknown_event": Finding(
                      DEFECT, "warning",
                      "'response.reasoning.delta' is no event of the API reference (reasoning "
                      "text streams as response.reasoning_text.delta); "
                      "codex_rosetta/converters/stream_converter.py:270.")}),
    ("codex-rosetta", "length"): Verdict(
        "completed", "This answer is cut",
        findings={"order.response.queued_after_created": ROSETTA_QUEUED,
                  "grammar.status_mismatch": Finding(
                      DEFECT, "error",
                      "response.completed carries status 'incomplete' "
                      "(stream_converter.py:410 always sends response.completed; :602 sets "
                      "the status); a response that ends incomplete is announced by "
                      "response.incomplete. The event contradicts its own payload: an error "
                      "(issue 23)."),
                  "grammar.output_mismatch": Finding(
                      DEFECT, "error",
                      "output_item.done ends the message 'incomplete' (the upstream stopped at "
                      "its length limit) while response.completed's output says 'completed': "
                      "the stream contradicts itself about one item (issue 23's rule)."),
                  "grammar.out_of_order": Finding(
                      DEFECT, "error",
                      "the response is said completed while its last item ended incomplete "
                      "(output_item.done status 'incomplete')."),
                  "grammar.incomplete_details_on_completed": Finding(
                      DEFECT, "warning",
                      "incomplete_details on a response.completed: same cause as above.")}),
    ("codex-rosetta", "error"): Verdict("failed", findings={
        "grammar.unknown_event": Finding(
            DEFECT, "warning",
            "'response.error' is no event of the API reference (the event is `error`, "
            "response_error_event.py: `type: Literal['error']`); codex_rosetta/api/router.py:640."),
        "payload.response.created_at": Finding(
            DEFECT, "error",
            "response.failed's response has no created_at, which is required "
            "(response.py: `created_at: float`, not Optional); router.py:646-653 builds it "
            "from id, object, status and error only.")}),
    # ---------------------------------------------------------- llm-mock-api
    ("llm-mock-api", "text"): Verdict("completed", "Hello, world!"),
    ("llm-mock-api", "tool"): Verdict(
        "completed", "", ('{"city": "Paris"}',),
        findings={"payload.function_call.id": MOCK_ITEM_ID}),
    ("llm-mock-api", "reasoning"): Verdict("completed", "The answer is 4."),
    # The mock answers an error rule with HTTP 500 before any stream: the client
    # raises APIStatusError and there is no stream to grade.
    ("llm-mock-api", "error"): Verdict(None, http_status=500),
}

# --------------------------------------------------------------------------- #
# the types layer (types.response): each carried Response against the openai SDK's
# types, generated from the API reference (runflow/conform/sdk_types.py); a warning
# --------------------------------------------------------------------------- #
NO_TOOLS = Finding(
    DEFECT, "warning",
    "the Response object leaves out `tools` and `tool_choice`, which the openai SDK's types "
    "require (openai/types/responses/response.py: `tools: List[Tool]`, `tool_choice: "
    "ToolChoice`) and every capture of a real service carries (even as [] and 'auto').")
NO_TOOL_FIELDS = Finding(
    DEFECT, "warning",
    "the Response object leaves out `parallel_tool_calls`, `tool_choice` and `tools`, which the "
    "openai SDK's types require (openai/types/responses/response.py: `parallel_tool_calls: "
    "bool`, `tool_choice: ToolChoice`, `tools: List[Tool]`) and every capture of a real "
    "service carries.")
ROSETTA_FAILED = Finding(
    DEFECT, "warning",
    "response.failed's Response has no `model` and no `output` (required: response.py "
    "`model: ResponsesModel`, `output: List[ResponseOutputItem]`) nor the tool fields, and "
    "its error code 'stream_error' is none of the API's (response_error.py: `code: "
    "Literal['server_error', 'rate_limit_exceeded', ...]`).")
ORS_OUTPUT = Finding(
    DEFECT, "warning",
    "the output's message has no `status` and its output_text part no `annotations`, both "
    "required (response_output_message.py: `status: Literal['in_progress', 'completed', "
    "'incomplete']`; response_output_text.py: `annotations: List[Annotation]`); in the tool "
    "scenario a function call's status is 'ready', none of those three "
    "(response_function_tool_call.py).")
_TYPES: Mapping[tuple[str, str], Finding] = {
    **{("azure-ai-agentserver-responses", s): NO_TOOLS
       for s in ("error", "incomplete", "reasoning", "text", "tool")},
    **{("codex-rosetta", s): NO_TOOL_FIELDS for s in ("length", "reasoning", "text", "tool")},
    ("codex-rosetta", "error"): ROSETTA_FAILED,
    **{("llm-mock-api", s): NO_TOOL_FIELDS for s in ("reasoning", "text", "tool")},
    **{("open-responses-server", s): ORS_OUTPUT
       for s in ("length", "reasoning", "text", "tool")},
}
VERDICTS: Mapping[tuple[str, str], Verdict] = {
    case: replace(v, findings={**v.findings, "types.response": _TYPES[case]})
    if case in _TYPES else v for case, v in _STREAMS.items()}

# --------------------------------------------------------------------------- #
# runflow conform --base-url (its own scenarios, and REST reads of each response)
# --------------------------------------------------------------------------- #
NO_RETRIEVE = Finding(
    DEFECT, "error",
    "GET /responses/{id} answers 404 for a response the same server just streamed (stored: "
    "`store` defaults to true). The API reference's 'Retrieve a model response' is not served; "
    "the server keeps no responses.")
FASTAPI_404 = Finding(
    DEFECT, "error",
    "the 404 body is FastAPI's {'detail': 'Not Found'}, not the API's error object "
    "{'error': {'message', 'type', 'param', 'code'}} that the openai client reads.")
CONFORM: Mapping[str, Mapping[str, Finding]] = {
    "azure-ai-agentserver-responses": {
        "payload.response.id": AZURE_ID, "payload.response.usage": USAGE_NULL,
        "types.response": NO_TOOLS},
    "open-responses-server": {
        "grammar.malformed_event": ORS_NO_CONTENT_INDEX, "grammar.output_mismatch": ORS_NO_ITEM,
        "payload.response.usage": USAGE_NULL, "types.response": ORS_OUTPUT,
        # It proxies GET /v1/responses/{id} to the Chat Completions upstream
        # (api_controller.py:392-418), which has no such route.
        "http.status": NO_RETRIEVE},
    "codex-rosetta": {
        "order.response.queued_after_created": ROSETTA_QUEUED,
        "http.status": NO_RETRIEVE, "http.error_shape": FASTAPI_404,
        "types.response": NO_TOOL_FIELDS},
    "llm-mock-api": {"http.status": NO_RETRIEVE, "http.error_shape": FASTAPI_404,
                     "types.response": NO_TOOL_FIELDS},
}
