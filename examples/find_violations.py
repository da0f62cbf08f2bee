"""Find the protocol violations in a recorded stream and print them.

    python examples/find_violations.py [RECORDING]

Without an argument it checks the demo stream shipped with runflow twice: as
recorded (no violations) and with its final ``done`` cut off (``truncated``), to
show what a report looks like. Violations are data: a stable ``code``, a
``severity``, the ``index`` of the event and a sentence saying what happened.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from runflow.adapters.recording import DEMO_STREAM, RecordingError, replay_file


def report(path: str) -> bool:
    """Print the violations of one file; True when it has no error."""
    try:
        replay = replay_file(path)
    except RecordingError as exc:  # missing, empty, binary...: one line, no traceback
        print(f"cannot read: {exc}")
        return False
    flow = replay.flow
    print(f"{Path(path).name}: {flow.event_count} events, ended {replay.ending}, "
          f"run {flow.run_status}")
    for v in flow.violations:
        line = replay.line(v.index)  # where the event is in the file (None past the end)
        at = f"event #{v.index}" + (f" (line {line})" if line else "")
        print(f"  {v.severity:<7} {v.code.value:<24} {at}: {v.message}")
    if not flow.violations:
        print("  no violations")
    return flow.ok


def main(argv: list[str]) -> int:
    if argv:
        return 0 if all([report(p) for p in argv]) else 1
    report(str(DEMO_STREAM))
    # Cut the final `done`: the flow reports the stream as truncated.
    lines = DEMO_STREAM.read_text(encoding="utf-8").splitlines(keepends=True)
    with tempfile.TemporaryDirectory() as tmp:
        cut = Path(tmp) / "demo_without_done.jsonl"
        cut.write_text("".join(lines[:-1]), encoding="utf-8")
        report(str(cut))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
