"""The method names a handler class may define, checked when the class is created.

A handler class (:class:`runflow.FlowEventHandler`,
:class:`runflow.ResponseEventHandler`) takes two kinds of ``on_*`` methods:

* *enter hooks*, ``on_<entity>_<state>``, one per entity kind and state of the
  definition the class validates with (read from its tables: a state added there
  is a hook here). Each is called when an entity of that kind enters that state,
  with the SDK object as it stands after the event -- or with nothing, when the
  method takes no argument besides ``self`` (``def on_run_completed(self)``, as
  the SDK's documentation writes it);
* the class's *other hooks*: the SDK's own (``on_text_delta``, ``on_end``...) or
  runflow's (``on_violation``), each with its own signature.

Any other ``on_*`` name raises ``TypeError`` at class creation, naming the closest
valid names: a misspelled hook would otherwise never fire, silently.

:class:`Relay` is how the flow reaches the handler: the flow outlives one stream,
the SDK wants a new handler per stream (``handler.next()``), so the flow's
callbacks call the method of whichever handler is current.
"""

from __future__ import annotations

import difflib
import inspect
import weakref
from collections.abc import Callable, Collection, Mapping
from typing import Any

from runflow.engine.definition import Protocol

__all__ = ["Enter", "Relay", "check_handler_class", "enter_hooks", "relay_for"]

Enter = tuple[str, str]
"""What an enter hook fires on: (entity kind, state)."""


def enter_hooks(protocol: Protocol) -> dict[str, Enter]:
    """``on_<entity>_<state>`` -> (entity, state), for every state of every table of
    ``protocol`` but the initial one (nothing enters ``unseen``)."""
    out: dict[str, Enter] = {}
    for entity, table in protocol.tables.items():
        for state in table.states:
            if state == table.initial:
                continue
            name = f"on_{entity}_{state}"
            if name in out:  # e.g. entity "a_b" + state "c" and entity "a" + state "b_c"
                raise ValueError(f"the {protocol.name} definition names two hooks {name}: "
                                 f"{out[name]} and {(entity, state)}")
            out[name] = (entity, state)
    return out


def check_handler_class(cls: type, base: str, enters: Mapping[str, Enter],
                        others: Collection[str]) -> dict[str, bool]:
    """Check the ``on_*`` methods ``cls`` itself defines; return its enter hooks
    with whether each takes the object (``True``) or nothing (``False``).

    Raises ``TypeError`` for a name that is neither an enter hook nor one of
    ``others``, and for an enter hook that cannot be called with one argument or
    none."""
    found: dict[str, bool] = {}
    for name, value in vars(cls).items():
        if not name.startswith("on_"):
            continue
        if name in enters:
            found[name] = _takes_object(cls, name, value, enters[name])
        elif name not in others:
            valid = sorted({*enters, *others})
            close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
            hint = (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close
                    else "; see the class's docstring for the hooks it takes")
            raise TypeError(f"{cls.__name__}.{name} is not a hook of {base}"
                            f" (neither an SDK hook nor a state of the definition){hint}")
    return found


def _takes_object(cls: type, name: str, method: Any, enter: Enter) -> bool:
    """Whether an enter hook wants the entity's object: ``(self, obj)`` or ``(self)``."""
    function = method.__func__ if isinstance(method, classmethod | staticmethod) else method
    if not callable(function):
        raise TypeError(f"{cls.__name__}.{name} must be a method")
    params = list(inspect.signature(function).parameters.values())
    if not isinstance(method, staticmethod):
        params = params[1:]  # past self (or cls)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    required += [p for p in params if p.kind == p.KEYWORD_ONLY and p.default is p.empty]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    if len(required) > 1 or any(p.kind == p.KEYWORD_ONLY for p in required):
        raise TypeError(f"{cls.__name__}.{name} is called when a {enter[0]} enters "
                        f"{enter[1]!r}, with the {enter[0]} or with nothing: define it as "
                        f"(self, {enter[0]}) or (self)")
    return bool(positional) or varargs


class Relay:
    """The flow's side of a handler: callbacks that call the current handler's
    method. Shared by a handler and every handler :meth:`next` makes from it."""

    def __init__(self, handler: object) -> None:
        self.current = handler

    def enter(self, name: str, takes_object: bool) -> Callable[[Any], Any]:
        """A flow callback (one argument) that calls ``current.<name>``."""
        if takes_object:
            return lambda obj: getattr(self.current, name)(obj)
        return lambda obj: getattr(self.current, name)()

    def call(self, name: str) -> Callable[..., Any]:
        """A flow callback with the method's own arguments."""
        return lambda *args: getattr(self.current, name)(*args)


_RELAYS: weakref.WeakKeyDictionary[Any, dict[type, Relay]] = weakref.WeakKeyDictionary()
"""flow -> handler class -> its relay: a class's hooks are registered on a flow once."""


def relay_for(flow: Any, handler: object, register: Callable[[Relay], None]) -> Relay:
    """The relay of ``handler``'s class on ``flow``, made current for ``handler``.

    The first handler of a class on a flow makes the relay and ``register`` s its
    callbacks on the flow; a later one (``handler.next()``, or a new instance given
    the same flow) only becomes current, so every hook fires once per state entered
    however many streams the flow spans."""
    relays = _RELAYS.setdefault(flow, {})
    relay = relays.get(type(handler))
    if relay is None:
        relay = relays[type(handler)] = Relay(handler)
        register(relay)
    else:
        relay.current = handler
    return relay
