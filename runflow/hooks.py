"""Callbacks registered on a flow, and the queue of calls waiting to fire.

Placeholder interface used by the core; the full callback API lands with the
callbacks issue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .content import JSON
from .entities import Tracker
from .violations import Violation

if TYPE_CHECKING:
    from .flow import Ending, RunFlow


class Hooks:
    def entered(self, flow: RunFlow, tracker: Tracker, state: str) -> None: ...

    def message_delta(
        self, flow: RunFlow, tracker: Tracker, content: list[JSON], before: int
    ) -> None: ...

    def step_delta(
        self, flow: RunFlow, tracker: Tracker, items: list[JSON], before: int
    ) -> None: ...

    def violation(self, flow: RunFlow, violation: Violation) -> None: ...

    def end(self, flow: RunFlow, ending: Ending) -> None: ...

    def flush(self, flow: RunFlow) -> Any: ...
