"""``RunFlow``: the Assistants stream on the engine, with its read API and callbacks.

The engine (:class:`runflow.engine.flow.Flow`) runs the Assistants definition
(:data:`runflow.protocols.assistants.definition.ASSISTANTS`); this module adds what a
user of that protocol reads (:class:`~runflow.protocols.assistants.view.RunView`:
``run``, ``steps``, ``messages``, ``text``) and registers
(:class:`~runflow.protocols.assistants.callbacks.RunCallbacks`: ``on_run``,
``on_text``, a :class:`~runflow.protocols.assistants.callbacks.Handler`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from runflow.engine.definition import Protocol
from runflow.engine.flow import Flow
from runflow.engine.limits import Limits
from runflow.engine.profiles import Profile
from runflow.protocols.assistants.callbacks import Handler, RunCallbacks
from runflow.protocols.assistants.definition import ASSISTANTS
from runflow.protocols.assistants.view import RunView
from runflow.protocols.profiles import PROFILES

__all__ = ["RunFlow"]


class RunFlow(Flow, RunView, RunCallbacks):
    """Validate and reconstruct one Assistants run from its stream events.

    ``protocol`` is the definition to run (the Assistants stream by default).
    ``strict=True`` raises :class:`ProtocolError` at the first error-severity
    violation; by default violations are collected in :attr:`violations` and the
    flow goes on. Warnings never raise. ``handler`` registers a :class:`Handler`'s
    methods.
    """

    default_protocol: ClassVar[Protocol | None] = ASSISTANTS
    profiles: ClassVar[Mapping[str, Profile]] = PROFILES

    def __init__(
        self,
        *,
        strict: bool = False,
        limits: Limits | None = None,
        callback_errors: Literal["raise", "collect"] = "raise",
        handler: Handler | None = None,
        protocol: Protocol | None = None,
        profile: Profile | None = None,
    ) -> None:
        super().__init__(strict=strict, limits=limits, callback_errors=callback_errors,
                         protocol=protocol, profile=profile)
        if handler is not None:
            self.add_handler(handler)
