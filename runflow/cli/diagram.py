"""``runflow diagram``: state diagrams generated from the protocol table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import EXIT_OK, CommandError
from .output import Output

HELP = "draw the protocol's state machines (Mermaid, DOT, SVG, PNG)"

EPILOG = """\
Diagrams are generated from runflow.protocol.PROTOCOL. SVG and PNG need Graphviz's
`dot` (Debian/Ubuntu: apt-get install graphviz, macOS: brew install graphviz).

--refresh rewrites the diagrams/ folder of a runflow checkout (or -o DIR): the .mmd,
.svg and README.md files that tests/test_diagrams.py compares with the table.
Without `dot`, --refresh still writes the text files (.mmd, README.md), leaves the
SVGs as they were, names on stderr each SVG it could not render, and exits 0: a
missing optional renderer is not a usage error, and the text diagrams are fresh.
"""

ENTITIES = ("run", "step", "message", "thread", "stream", "all")
FORMATS = ("mermaid", "dot", "svg", "png")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.add_argument("--entity", choices=ENTITIES, default="all",
                        help="which machine to draw (default: all, one cluster per entity)")
    parser.add_argument("--format", choices=FORMATS, default="mermaid",
                        help="output format (default: mermaid)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write here instead of stdout (with --refresh: the folder)")
    parser.add_argument("--refresh", action="store_true",
                        help="rewrite the diagrams/ folder of this checkout")


def run(args: argparse.Namespace, out: Output) -> int:
    from runflow.diagrams import GraphvizNotFoundError

    try:
        if args.refresh:
            return _refresh(args, out)
        data = _render(args.entity, args.format)
    except GraphvizNotFoundError as exc:
        raise CommandError(str(exc)) from None
    if args.output and args.output != "-":
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        return EXIT_OK
    if args.format == "png" and _isatty(out):
        raise CommandError("PNG is binary; use -o FILE or redirect stdout")
    if args.format in ("svg", "png"):
        out.clear_progress()
        out.out.flush()
        buffer = getattr(out.out, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
            return EXIT_OK
    out.out.write(data.decode())
    return EXIT_OK


def _render(entity: str, fmt: str) -> bytes:
    from runflow.diagrams import diagram_text, render
    target = entity
    if fmt == "mermaid":
        return diagram_text(target, "mermaid").encode()
    source = diagram_text(target, "dot")
    if fmt == "dot":
        return source.encode()
    return render(source, "svg" if fmt == "svg" else "png")


def _refresh(args: argparse.Namespace, out: Output) -> int:
    """Rewrite the folder; without Graphviz, the text files only (see EPILOG)."""
    from runflow.diagrams import GraphvizNotFoundError, diagram_files, write_diagram_files

    folder = Path(args.output) if args.output else checkout_diagrams()
    try:
        written = write_diagram_files(folder)
    except GraphvizNotFoundError:
        # write_diagram_files writes every text file before it renders any SVG
        text = list(diagram_files(svg=False))
        svgs = [name[: -len(".mmd")] + ".svg" for name in text if name.endswith(".mmd")]
        out.print(f"refreshed {len(text)} text files in {folder}")
        out.warn(f"warning: Graphviz's `dot` is not on PATH, so {', '.join(svgs)} were not "
                 "rendered (left as they were); install Graphviz (Debian/Ubuntu: "
                 "`apt-get install graphviz`, macOS: `brew install graphviz`) and refresh again")
        return EXIT_OK
    except OSError as exc:
        raise CommandError(f"cannot write {folder}: {exc.strerror or exc}") from None
    out.print(f"refreshed {len(written)} files in {folder}")
    return EXIT_OK


def checkout_diagrams() -> Path:
    """``diagrams/`` of the checkout runflow runs from (an editable install)."""
    import runflow

    root = Path(runflow.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise CommandError(
            f"runflow is not running from a checkout ({root}); pass -o DIR with --refresh"
        )
    return root / "diagrams"


def _isatty(out: Output) -> bool:
    try:
        return out.out.isatty() and out.out is sys.stdout
    except (AttributeError, ValueError):
        return False
