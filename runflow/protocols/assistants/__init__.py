"""The Assistants stream (``thread.run.*``, ``thread.run.step.*``, ``thread.message.*``):
its definition (data), accumulators, flow class, view and typed callbacks.
"""
