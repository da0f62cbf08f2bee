"""Adapters between the sans-I/O engine and the outside: the openai SDK's streams
(:mod:`.sdk`), the drive loops that call tools and continue runs (:mod:`.drive`,
:mod:`.drive_responses`), recordings on disk (:mod:`.recording`) and OpenTelemetry
(:mod:`.otel`).
"""
