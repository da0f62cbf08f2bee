"""Data shipped with runflow (``demo_stream.jsonl``) and the script that makes it."""
