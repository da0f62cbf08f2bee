"""``runflow diagram``: state diagrams generated from the protocol table."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from runflow.cli import EXIT_OK, CommandError
from runflow.cli.output import Output
from runflow.protocols import Protocol
from runflow.protocols.registry import PROTOCOLS

EPILOG = """\
Diagrams are generated from the protocol definitions: runflow.protocols.PROTOCOL
(--protocol assistants, the default) and runflow.protocols.RESPONSES (--protocol
responses). SVG and PNG need Graphviz's `dot` (Debian/Ubuntu: apt-get install
graphviz, macOS: brew install graphviz); without it, asking for them is refused
with that reason (exit 2) and nothing is written.

The format follows -o FILE's suffix (.mmd, .dot or .gv, .svg, .png) unless
--format says otherwise; a --format that contradicts a known suffix is refused.

--entity names a machine of the chosen protocol:
{entities}

--refresh rewrites the diagrams/ folder of a runflow checkout (or -o DIR): the .mmd,
.svg and README.md files that tests/test_diagrams.py compares with the table, for
the Assistants protocol in diagrams/ and for the Responses one in
diagrams/responses/ (DIR and DIR/responses with -o), with the Responses WebSocket
machines (connection, lane, steer) and their rules in diagrams/responses/websocket/.
With --protocol it rewrites that protocol's folders only (DIR itself with -o).
Without `dot`, --refresh still writes the text files (.mmd, README.md), leaves the
SVGs as they were, names on stderr each SVG it could not render, and exits 0: a
missing optional renderer is not a usage error, and the text diagrams are fresh.

exit codes: 0 written, 2 an unknown entity, a format that needs a missing Graphviz,
an unwritable output, 130 interrupted
"""

DEFAULT_PROTOCOL = "assistants"
FORMATS = ("mermaid", "dot", "svg", "png")
SUFFIXES = {".mmd": "mermaid", ".mermaid": "mermaid", ".dot": "dot", ".gv": "dot",
            ".svg": "svg", ".png": "png"}
"""``-o FILE``'s suffix -> the format written (without --format)."""
_LABELS = {"mermaid": "Mermaid", "dot": "DOT", "svg": "SVG", "png": "PNG"}


def entity_choices(protocol: str) -> tuple[str, ...]:
    """What ``--entity`` accepts with ``--protocol protocol``."""
    from runflow.diagrams import diagram_names

    return diagram_names(PROTOCOLS[protocol])


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG.format(entities="\n".join(
        textwrap.fill(", ".join(entity_choices(name)), width=84, initial_indent=f"  {name}: ",
                      subsequent_indent="    ", break_on_hyphens=False)
        for name in PROTOCOLS))
    parser.add_argument("--protocol", choices=tuple(PROTOCOLS), default=None,
                        help=f"which definition to draw (default: {DEFAULT_PROTOCOL}; "
                             "with --refresh: every one)")
    parser.add_argument("--entity", metavar="ENTITY", default="all",
                        help="which machine to draw: an entity of the protocol, stream or "
                             "all (default: all, one cluster per entity); see below")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="output format (default: from -o FILE's suffix, "
                             f"{', '.join(SUFFIXES)}; else mermaid)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write here instead of stdout (with --refresh: the folder)")
    parser.add_argument("--refresh", action="store_true",
                        help="rewrite the diagrams/ folder of this checkout")


def run(args: argparse.Namespace, out: Output) -> int:
    from runflow.diagrams import GraphvizNotFoundError

    _check_entity(args)
    fmt = "mermaid" if args.refresh else output_format(args.format, args.output)
    try:
        if args.refresh:
            return _refresh(args, out)
        data = _render(PROTOCOLS[args.protocol or DEFAULT_PROTOCOL], args.entity, fmt)
    except GraphvizNotFoundError as exc:
        if not args.output or args.output == "-":
            raise CommandError(str(exc)) from None
        stem = Path(args.output).with_suffix("")
        raise CommandError(
            f"cannot write {args.output}: {_LABELS[fmt]} needs Graphviz's `dot`, which is not "
            "on PATH; install Graphviz (Debian/Ubuntu: `apt-get install graphviz`, macOS: "
            f"`brew install graphviz`) or write Mermaid or DOT (-o {stem}.mmd, -o {stem}.dot)"
        ) from None
    if args.output and args.output != "-":
        try:
            Path(args.output).write_bytes(data)
        except OSError as exc:
            raise CommandError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        return EXIT_OK
    if fmt == "png" and _isatty(out):
        raise CommandError("PNG is binary; use -o FILE or redirect stdout")
    if fmt in ("svg", "png"):
        out.clear_progress()
        out.out.flush()
        buffer = getattr(out.out, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
            return EXIT_OK
    out.out.write(data.decode())
    return EXIT_OK


def output_format(asked: str | None, output: str | None) -> str:
    """The format to write: ``--format``, else ``-o FILE``'s suffix, else Mermaid. A
    ``--format`` that contradicts a known suffix (Mermaid text in ``x.svg``) is refused."""
    suffix = Path(output).suffix.lower() if output and output != "-" else ""
    implied = SUFFIXES.get(suffix)
    if asked is None:
        return implied or "mermaid"
    if implied is not None and implied != asked:
        raise CommandError(f"-o {output}: its suffix means {_LABELS[implied]}, but --format "
                           f"{asked} was asked; drop --format or give a matching suffix")
    return asked


def _render(protocol: Protocol, entity: str, fmt: str) -> bytes:
    from runflow.diagrams import diagram_text, render

    if fmt == "mermaid":
        return diagram_text(entity, "mermaid", protocol).encode()
    source = diagram_text(entity, "dot", protocol)
    if fmt == "dot":
        return source.encode()
    return render(source, "svg" if fmt == "svg" else "png")


def _check_entity(args: argparse.Namespace) -> None:
    """``--entity`` names a machine of the chosen protocol (of any, with a bare
    ``--refresh``, which draws every machine anyway)."""
    from runflow.diagrams import UnknownDiagramError

    protocol = PROTOCOLS[args.protocol or DEFAULT_PROTOCOL]
    if args.refresh and args.protocol is None:
        if any(args.entity in entity_choices(name) for name in PROTOCOLS):
            return
        raise CommandError(f"no protocol has an entity {args.entity!r} "
                           "(`runflow diagram --help` lists them)")
    if args.entity in entity_choices(protocol.name):
        return
    raise CommandError(str(UnknownDiagramError(protocol, args.entity))
                       + _elsewhere(protocol, args.entity))


def _elsewhere(protocol: Protocol, entity: str) -> str:
    """A hint naming the protocols that do have ``entity``."""
    others = [name for name, other in PROTOCOLS.items()
              if other is not protocol and entity in other.tables]
    return f" ({entity!r} is in --protocol {' and '.join(others)})" if others else ""


def _refresh(args: argparse.Namespace, out: Output) -> int:
    """Rewrite the folders; without Graphviz, the text files only (see EPILOG)."""
    from runflow.diagrams import (
        GraphvizNotFoundError,
        diagram_files,
        diagram_set,
        write_diagram_files,
        write_more_diagram_files,
    )

    base = Path(args.output) if args.output else checkout_diagrams()
    chosen = [args.protocol] if args.protocol else list(PROTOCOLS)
    unrendered: list[str] = []
    for name in chosen:
        protocol = PROTOCOLS[name]
        # -o DIR with --protocol is that protocol's folder; otherwise DIR is diagrams/
        sub = "" if args.output and args.protocol else diagram_set(protocol).subfolder
        folder = base / sub
        try:
            try:
                written = write_diagram_files(folder, protocol)
                out.print(f"refreshed {len(written)} files in {folder}")
            except GraphvizNotFoundError:
                # write_diagram_files writes every text file before it renders any SVG
                text = list(diagram_files(protocol, svg=False))
                unrendered += [str(Path(sub) / (n[: -len(".mmd")] + ".svg"))
                               for n in text if n.endswith(".mmd")]
                out.print(f"refreshed {len(text)} text files in {folder}")
            # the machines the row draws beside the definition's (text only)
            for more, files in write_more_diagram_files(folder, protocol).items():
                out.print(f"refreshed {len(files)} files in {more}")
        except OSError as exc:
            raise CommandError(f"cannot write {folder}: {exc.strerror or exc}") from None
    if unrendered:
        out.warn(f"warning: Graphviz's `dot` is not on PATH, so {', '.join(unrendered)} were "
                 "not rendered (left as they were); install Graphviz (Debian/Ubuntu: "
                 "`apt-get install graphviz`, macOS: `brew install graphviz`) and refresh again")
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
