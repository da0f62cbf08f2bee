"""One run's script across its streams (:class:`ScriptedRun`): start it, take its
tool outputs, cancel it. The statuses it checks come from the definition's run
table: outputs are taken in its pause state, a run is cancelled unless it ended or
is already on its way to ``cancelled``."""

from __future__ import annotations

from collections.abc import Iterator

from runflow.protocols.assistants.definition import RUN
from runflow.server.breaks import Breaker
from runflow.server.scenarios import (
    CannotCancel,
    Event,
    RunScript,
    Scenario,
    ScenarioOptions,
    SubmitError,
)
from runflow.server.store import JSON

__all__ = ["ScriptedRun"]

_CANCELLING = RUN.children_closing - RUN.pauses
"""The closing states that are not a pause: a run being cancelled (``cancelling``)."""


class ScriptedRun:
    """One run's script across its streams: start, submit outputs, cancel.

    Event iterators are lazy; the server applies each event to the store just
    before sending it. A cancel arriving while a stream is live cuts the
    scripted events short and the stream carries the cancellation instead.
    """

    def __init__(self, scenario: Scenario, script: RunScript, options: ScenarioOptions,
                 breaks: tuple[str, ...] = ()) -> None:
        self.scenario = scenario
        self.script = script
        self.options = options
        self._cancelled: list[Event] | None = None
        self._breaker = Breaker(breaks)  # X-Runflow-Break (see .breaks)

    @property
    def run_id(self) -> str:
        return str(self.script.run["id"])

    def start(self) -> Iterator[Event]:
        return self._breaker.events(self._guard(self.scenario.start(self.script, self.options)))

    def submit(self, tool_outputs: list[JSON]) -> Iterator[Event]:
        """Validate outputs now (raising :class:`SubmitError`), then continue lazily."""
        if self.script.status not in RUN.pauses or self.scenario.resume is None:
            raise SubmitError(
                f'Runs in status "{self.script.status}" do not accept tool outputs.'
            )
        expected = [call["id"] for call in self.script.tool_calls]
        outputs = {str(o.get("tool_call_id")): str(o.get("output", "")) for o in tool_outputs}
        if sorted(outputs) != sorted(expected) or len(tool_outputs) != len(expected):
            raise SubmitError(
                f"Expected tool outputs for call_ids {expected}, got {list(outputs)}"
            )
        self.script.run["status"] = "queued"  # a second submit is refused from now on
        return self._breaker.events(
            self._guard(self.scenario.resume(self.script, self.options, outputs)))

    def cancel(self) -> list[Event]:
        if self.script.status in RUN.terminal | _CANCELLING:
            raise CannotCancel(f"Cannot cancel run with status '{self.script.status}'.")
        self._cancelled = self.script.cancel_tail()
        return self._cancelled

    def _guard(self, events: Iterator[Event]) -> Iterator[Event]:
        # The flag is checked before resuming the scenario: once cancelled, the
        # script's open step and message are closed and must not be touched again.
        while self._cancelled is None:
            try:
                event = next(events)
            except StopIteration:
                return
            yield event
        yield from self._cancelled
