"""Export the protocol's state diagrams, generated from the protocol table.

    python examples/export_diagrams.py [OUTDIR]

Writes Mermaid (.mmd) and Graphviz DOT (.dot) files for each entity and for all of
them together into OUTDIR (default: ./runflow-diagrams), plus SVGs when Graphviz's
`dot` is installed. It also draws the path the demo stream's run took.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from runflow import PROTOCOL
from runflow.adapters.recording import DEMO_STREAM, replay_file
from runflow.diagrams import GraphvizNotFoundError, diagram_text, path_mermaid, render
from runflow.protocols import Entity


def main(outdir: Path) -> int:
    outdir.mkdir(parents=True, exist_ok=True)
    # One diagram per entity (thread, run, step, message), then all in one.
    targets: list[tuple[str, Entity | Literal["all"]]] = [(e.value, e) for e in Entity]
    targets.append(("all", "all"))
    for name, target in targets:
        mermaid = diagram_text(target, "mermaid", PROTOCOL)
        dot = diagram_text(target, "dot", PROTOCOL)
        (outdir / f"{name}.mmd").write_text(mermaid, encoding="utf-8")
        (outdir / f"{name}.dot").write_text(dot, encoding="utf-8")
        try:
            (outdir / f"{name}.svg").write_bytes(render(dot, "svg"))
        except GraphvizNotFoundError as exc:  # Mermaid and DOT need no system binary
            print(f"skipping {name}.svg: {exc}")
        print(f"wrote {name}.mmd, {name}.dot")

    # The path one recorded run took, from the states it visited (flow.history).
    flow = replay_file(DEMO_STREAM).flow
    (outdir / "demo_path.mmd").write_text(path_mermaid(flow.history), encoding="utf-8")
    print(f"wrote demo_path.mmd ({len(flow.history)} state changes)")
    print(f"diagrams in {outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runflow-diagrams")))
