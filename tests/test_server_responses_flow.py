"""The local server's Responses streams, checked by runflow's own Responses flow.

Every scenario, foreground and background, streamed through the real openai
client over loopback, is fed to a :class:`ResponseFlow`: no violation, and the
rebuilt response equals what REST returns afterwards.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from runflow.protocols.responses.flow import ResponseFlow
from runflow.server.responses_scenarios import RESPONSE_SCENARIOS
from runflow.testing import Server

TOOLS: list[Any] = [{"type": "function", "name": "get_weather", "strict": False, "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}]


def _raw_stream(server: Server, body: dict[str, Any]) -> bytes:
    with httpx.stream("POST", f"{server.base_url}/responses", json=body,
                      headers={"Authorization": "Bearer test"}, timeout=20) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return response.read()


@pytest.mark.parametrize("background", [False, True], ids=["foreground", "background"])
@pytest.mark.parametrize("scenario", sorted(RESPONSE_SCENARIOS))
def test_every_scenario_passes_the_responses_flow(server: Server, scenario: str,
                                                  background: bool) -> None:
    body: dict[str, Any] = {"model": "gpt-4o", "input": "hi", "stream": True,
                            "metadata": {"scenario": scenario}, "tools": TOOLS}
    if background:
        body["background"] = True
    flow = ResponseFlow()
    flow.feed_sse(_raw_stream(server, body))
    ending = flow.close()
    assert flow.violations == []
    assert ending == ("error" if scenario == "failed" else "done")
    assert flow.response is not None
    rest = httpx.get(f"{server.base_url}/responses/{flow.response_id}",
                     headers={"Authorization": "Bearer test"}, timeout=20).json()
    assert rest["status"] == flow.status
    rebuilt = flow.response.model_dump(mode="json", exclude_unset=True)
    assert [o["id"] for o in rebuilt["output"]] == [o["id"] for o in rest["output"]]
    assert flow.text == "".join(
        c.get("text", "") for o in rest["output"] if o["type"] == "message"
        for c in o["content"] if c["type"] == "output_text")


def test_the_sdk_stream_fed_event_by_event(server: Server) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    flow = ResponseFlow()
    with client.responses.create(model="gpt-4o", input="hi", stream=True,
                                 metadata={"scenario": "reasoning"}) as stream:
        for event in stream:
            flow.feed(event)
    flow.close()
    assert (flow.violations, flow.status) == ([], "completed")
    assert [k for k, _, _ in flow.item_states] == ["reasoning", "message"]
