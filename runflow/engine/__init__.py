"""The sans-I/O engine: runs any protocol definition and names none of its events,
states or entities.

A definition (:mod:`runflow.engine.definition`) is data; :class:`runflow.engine.flow.Flow`
feeds events through it -- SSE decoding, the JSON boundary, payload shapes, the
``transitions`` machines, rules, limits, the undo journal, checkpoints, and the queue
of enter callbacks. The grammars themselves live in :mod:`runflow.protocols`.
"""
