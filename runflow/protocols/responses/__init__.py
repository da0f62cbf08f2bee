"""The Responses API stream (``response.*`` with ``sequence_number``): its definition
(data), value builders, flow class, view and typed callbacks, and the data the other
surfaces read through the registry (:mod:`runflow.protocols.registry`): payload
invariants (:mod:`.invariants`), order rows (:mod:`.order`), the committed
diagrams' folder (:mod:`.diagrams`) and the servers' profiles (:mod:`.profiles`).

Recipe: add an output item type
-------------------------------
(``tests/test_recipes.py`` follows it on a copy of the definition.)

1. ``definition.py``: one table for the type, built like its neighbours
   (``_item("<type>", *its own events)``, or ``_hosted`` for a hosted tool call
   with a working state), added to ``ITEM_TABLES`` before ``OTHER_ITEM``, and its
   own event names added to the events. ``ITEM_KINDS`` and the tables follow.
2. The callbacks' ``ItemKind`` (and ``ItemState`` for a new state) ``Literal`` in
   ``flow.py``: add the type. A forgotten one is reported by ``check_literals``
   naming it.
3. ``runflow diagram --refresh`` and commit ``diagrams/responses/``; the README's
   list of item tables is checked against ``ITEM_KINDS`` by a test.

Nothing else changes: the machines are compiled from the tables, the diagrams
drawn from them, the item's events routed by its ``type``; payload invariants of
the new type, if any, are rows in :mod:`.invariants`.
"""
