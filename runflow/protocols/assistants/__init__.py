"""The Assistants stream (``thread.run.*``, ``thread.run.step.*``, ``thread.message.*``):
its definition (data), accumulators, flow class, view and typed callbacks, and the
data the other surfaces read through the registry (:mod:`runflow.protocols.registry`):
payload invariants (:mod:`.invariants`), order rows (:mod:`.order`), the committed
diagrams' folder (:mod:`.diagrams`).

Recipe: add a run status
------------------------
(``tests/test_recipes.py`` follows it on a copy of the definition.)

1. ``definition.py``: add the status to ``RUN.states``; add the event that moves
   the run there (``Transition("thread.run.<status>", sources, "<status>")``) and
   the status to the ``sources`` of the events that leave it; add the event name to
   ``PROTOCOL_EVENTS`` in ``events.py``. Say how the status behaves in the run table's sets:
   ``terminal`` (the run ends), ``pauses`` (the stream may end with ``done`` and a
   new stream continue it, as at ``requires_action``), ``children_open`` (steps and
   messages may move) or ``children_closing`` (they may only end).
2. The callbacks' ``RunState`` ``Literal`` (the typed ``on_run`` / ``Handler``
   names): add the status. A forgotten one is reported by
   ``check_state_literals`` naming it.
3. ``runflow diagram --refresh`` and commit ``diagrams/``.

Nothing else changes: the machines are compiled from the table; the payload
invariants read the run's states from it (a new status is in every "any state" row
and in the open or terminal group it belongs to, :mod:`.invariants`); the diagrams
are drawn from it; the emulator (``runflow.server``) reads the terminal and pause
states from it.
"""
