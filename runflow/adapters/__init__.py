"""Adapters between the sans-I/O engine and the outside: the openai SDK's streams
(:mod:`.sdk`), the drive loops that call tools and continue runs and responses
(:mod:`.drive`), recordings on disk (:mod:`.recording`) and OpenTelemetry
(:mod:`.otel`).
"""
