"""The Responses API stream (``response.*`` with ``sequence_number``): its definition
(data), value builders, flow class, view and typed callbacks.
"""
