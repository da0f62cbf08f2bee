"""The sans-I/O engine: runs any protocol definition it is given and names none of
its events, states or entities; it imports nothing from :mod:`runflow.protocols`.

* what a definition is: :mod:`.tables` (entity and stream tables), :mod:`.checks`
  (what they must pass), :mod:`.definition` (rules, the built definition),
  :mod:`.shapes` (payload shapes), :mod:`.machines` (the ``transitions`` machines
  and lookups built from it);
* the flow (:class:`runflow.engine.flow.Flow`), one idea per module: :mod:`.core`
  (its parts, violations, the end of an event), :mod:`.stream` (the stream
  machine), :mod:`.resolving` (which entity an event is about), :mod:`.status` and
  :mod:`.journal` (status events and their undo), :mod:`.deltas` (the hot path),
  :mod:`.recovery` (objects read over REST), :mod:`.flow` (input and dispatch);
* what a flow holds and reads: :mod:`.state` (the one state record),
  :mod:`.entities` (trackers), :mod:`.accumulator` (what deltas grow, as an
  interface), :mod:`.view` (the read side and its interface);
* around it: :mod:`.sse`, :mod:`.jsonparse`, :mod:`.limits`, :mod:`.violations`,
  :mod:`.profiles`, :mod:`.checkpoint`, :mod:`.hooks` and :mod:`.callbacks` (the
  callback registry and queue), :mod:`.driving` (async driving).

Each protocol's package makes its flow class from :class:`~runflow.engine.flow.Flow`
(``runflow.RunFlow``, ``runflow.ResponseFlow``) and names its definition there.
"""
