"""In-memory state of the test server: assistants, threads, messages, runs, steps.

Objects are plain JSON dicts in the API v2 shapes. The store is fed with the
same events that go on the wire (:meth:`Store.apply`), before they are sent, so
REST reads always agree with what a stream has shown so far. Deltas are merged
into the stored objects the way a real server accumulates them.

Reads return deep copies; all access is guarded by a lock because tests read
the store from their own thread while the server thread writes it.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
from typing import Any, Literal

__all__ = ["JSON", "NotFound", "Store", "new_id"]

JSON = dict[str, Any]
Order = Literal["asc", "desc"]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """An id shaped like OpenAI's: ``run_`` + 24 letters and digits."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


class NotFound(KeyError):
    """No object of ``kind`` with ``object_id``; the server answers 404."""

    def __init__(self, kind: str, object_id: str) -> None:
        super().__init__(f"No {kind} found with id '{object_id}'.")
        self.kind = kind
        self.object_id = object_id

    @property
    def message(self) -> str:
        return str(self.args[0])


def _page(items: list[JSON], order: Order, limit: int | None, after: str | None,
          before: str | None) -> list[JSON]:
    ordered = items if order == "asc" else list(reversed(items))
    ids = [item["id"] for item in ordered]
    if after is not None and after in ids:
        ordered = ordered[ids.index(after) + 1:]
    if before is not None and before in ids:
        ordered = ordered[: ids.index(before)]
        if limit is not None:  # the objects closest to the cursor, as the API pages
            return ordered[-limit:]
    return ordered[:limit] if limit is not None else ordered


def _ensure_slot(items: list[Any], index: int) -> None:
    while len(items) <= index:
        items.append(None)


def merge_message_delta(message: JSON, delta: JSON) -> None:
    """Accumulate a ``thread.message.delta`` into a stored message."""
    content: list[Any] = message.setdefault("content", [])
    for part in delta.get("content") or []:
        index = int(part.get("index", len(content)))
        _ensure_slot(content, index)
        kind = part.get("type")
        current = content[index] or {"type": kind}
        content[index] = current
        if kind == "text":
            text = current.setdefault("text", {"value": "", "annotations": []})
            incoming = part.get("text") or {}
            text["value"] = (text.get("value") or "") + (incoming.get("value") or "")
            for annotation in incoming.get("annotations") or []:
                text.setdefault("annotations", []).append(
                    {k: v for k, v in annotation.items() if k != "index"}
                )
        else:
            current.update({k: copy.deepcopy(v) for k, v in part.items() if k != "index"})
    message["content"] = [part for part in content if part is not None]


def merge_step_delta(step: JSON, delta: JSON) -> None:
    """Accumulate a ``thread.run.step.delta`` (tool call fragments) into a stored step."""
    incoming = delta.get("step_details") or {}
    details = step.setdefault("step_details", {"type": incoming.get("type")})
    calls: list[Any] = details.setdefault("tool_calls", [])
    for call in incoming.get("tool_calls") or []:
        index = int(call.get("index", len(calls)))
        _ensure_slot(calls, index)
        current = calls[index] or {}
        calls[index] = current
        for key in ("id", "type"):
            if key in call:
                current[key] = call[key]
        kind = call.get("type")
        body = call.get(kind) if isinstance(kind, str) else None
        if not isinstance(body, dict):
            continue
        target = current.setdefault(kind, {})
        for key, value in body.items():
            if key in ("arguments", "input") and isinstance(value, str):
                target[key] = (target.get(key) or "") + value
            elif key == "outputs" and isinstance(value, list):
                target.setdefault("outputs", []).extend(
                    {k: v for k, v in out.items() if k != "index"} for out in value
                )
            elif not isinstance(value, dict):
                target[key] = copy.deepcopy(value)
            else:
                target.setdefault(key, {}).update(copy.deepcopy(value))
    details["tool_calls"] = [call for call in calls if call is not None]


class Store:
    """All objects the server knows, keyed by id, with per-parent insertion order."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._objects: dict[str, dict[str, JSON]] = {
            kind: {} for kind in ("assistant", "thread", "message", "run", "step")
        }
        self._children: dict[str, list[str]] = {}

    # -- writing -----------------------------------------------------------

    def put(self, kind: str, obj: JSON) -> JSON:
        """Insert or replace a full object; returns a copy of what is stored."""
        with self._lock:
            table = self._objects[kind]
            object_id = obj["id"]
            if object_id not in table:
                parent = self._parent_key(kind, obj)
                if parent is not None:
                    self._children.setdefault(parent, []).append(object_id)
                if kind in ("message", "run") and obj.get("thread_id") not in self._objects[
                    "thread"
                ]:
                    self._implicit_thread(obj)
            table[object_id] = copy.deepcopy(obj)
            return copy.deepcopy(obj)

    def _implicit_thread(self, obj: JSON) -> None:
        """Runs replayed from recordings name threads this store never saw."""
        thread_id = obj.get("thread_id")
        if isinstance(thread_id, str):
            self._objects["thread"][thread_id] = {
                "id": thread_id, "object": "thread", "created_at": obj.get("created_at"),
                "metadata": {}, "tool_resources": {},
            }

    @staticmethod
    def _parent_key(kind: str, obj: JSON) -> str | None:
        if kind in ("message", "run"):
            return f"{kind}s:{obj.get('thread_id')}"
        if kind == "step":
            return f"steps:{obj.get('run_id')}"
        return None

    def apply(self, event: str, data: Any) -> None:
        """Record what an event says; events that carry no known object are ignored."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            return
        kind = {
            "assistant": "assistant", "thread": "thread", "thread.run": "run",
            "thread.run.step": "step", "thread.message": "message",
        }.get(str(data.get("object")))
        with self._lock:
            if kind is not None:
                self.put(kind, data)
            elif data.get("object") == "thread.message.delta":
                message = self._objects["message"].get(data["id"])
                if message is not None:
                    merge_message_delta(message, data.get("delta") or {})
            elif data.get("object") == "thread.run.step.delta":
                step = self._objects["step"].get(data["id"])
                if step is not None:
                    merge_step_delta(step, data.get("delta") or {})

    def delete(self, kind: str, object_id: str) -> None:
        """Remove an object (a thread takes its messages, runs and steps with it)."""
        with self._lock:
            obj = self._objects[kind].pop(object_id, None)
            if obj is None:
                raise NotFound(kind, object_id)
            parent = self._parent_key(kind, obj)
            if parent is not None and object_id in self._children.get(parent, []):
                self._children[parent].remove(object_id)
            if kind == "thread":
                for child in ("message", "run"):
                    for child_id in self._children.pop(f"{child}s:{object_id}", []):
                        self._objects[child].pop(child_id, None)
                        for step_id in self._children.pop(f"steps:{child_id}", []):
                            self._objects["step"].pop(step_id, None)

    # -- reading -----------------------------------------------------------

    def get(self, kind: str, object_id: str) -> JSON:
        with self._lock:
            obj = self._objects[kind].get(object_id)
            if obj is None:
                raise NotFound(kind, object_id)
            return copy.deepcopy(obj)

    def has(self, kind: str, object_id: str) -> bool:
        with self._lock:
            return object_id in self._objects[kind]

    def assistants(self) -> list[JSON]:
        """Every assistant, oldest first."""
        with self._lock:
            return [copy.deepcopy(a) for a in self._objects["assistant"].values()]

    def thread(self, thread_id: str) -> JSON:
        return self.get("thread", thread_id)

    def run(self, thread_id: str, run_id: str) -> JSON:
        self.thread(thread_id)  # an unknown thread is named as such
        run = self.get("run", run_id)
        if run.get("thread_id") != thread_id:
            raise NotFound("run", run_id)
        return run

    def message(self, thread_id: str, message_id: str) -> JSON:
        self.thread(thread_id)
        message = self.get("message", message_id)
        if message.get("thread_id") != thread_id:
            raise NotFound("message", message_id)
        return message

    def step(self, run_id: str, step_id: str) -> JSON:
        step = self.get("step", step_id)
        if step.get("run_id") != run_id:
            raise NotFound("step", step_id)
        return step

    def _children_of(self, kind: str, parent: str) -> list[JSON]:
        with self._lock:
            ids = self._children.get(parent, [])
            return [copy.deepcopy(self._objects[kind][i]) for i in ids]

    def messages(self, thread_id: str, *, order: Order = "desc", run_id: str | None = None,
                 limit: int | None = None, after: str | None = None,
                 before: str | None = None) -> list[JSON]:
        items = self._children_of("message", f"messages:{thread_id}")
        if run_id is not None:
            items = [m for m in items if m.get("run_id") == run_id]
        return _page(items, order, limit, after, before)

    def runs(self, thread_id: str, *, order: Order = "desc", limit: int | None = None,
             after: str | None = None, before: str | None = None) -> list[JSON]:
        return _page(self._children_of("run", f"runs:{thread_id}"), order, limit, after, before)

    def steps(self, run_id: str, *, order: Order = "desc", limit: int | None = None,
              after: str | None = None, before: str | None = None) -> list[JSON]:
        return _page(self._children_of("step", f"steps:{run_id}"), order, limit, after, before)
