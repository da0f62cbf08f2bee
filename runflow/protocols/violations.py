"""The violation codes as each registered protocol means them.

The engine's catalogue (:data:`runflow.RULES`) says what a code means in any grammar;
each protocol's registry row says what it means in that protocol's events and entities
(:attr:`~runflow.protocols.registry.Registered.meanings`, its ``violations.py``). This
module reads both for the surfaces that show a code to a person: the README's table
(:func:`codes_markdown`; ``python -m runflow.protocols.violations --write`` rewrites
it) and :func:`meaning`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runflow.engine.violations import RULES, Code, Meanings, rules_markdown
from runflow.protocols.registry import REGISTRY

__all__ = ["README", "catalogues", "codes_markdown", "meaning", "reports"]

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- rules:begin -->\n", "<!-- rules:end -->"


def catalogues() -> dict[str, Meanings]:
    """Every registered protocol that says what its codes mean, by name, in
    registration order."""
    return {name: row.meanings for name, row in REGISTRY.items() if row.meanings is not None}


def reports(protocol: str, code: Code) -> bool:
    """Whether a flow of ``protocol`` can report ``code``: its catalogue names it, or
    it has no catalogue (a protocol of one's own is judged on every code)."""
    meanings = REGISTRY[protocol].meanings
    return meanings is None or code in meanings


def meaning(code: Code, protocol: str | None = None) -> str:
    """What ``code`` means in ``protocol`` (its catalogue's sentence), or in any grammar
    (the engine's) when the protocol is None, unknown or says nothing of it."""
    row = REGISTRY.get(protocol) if protocol is not None else None
    said = row.meanings.get(code) if row is not None and row.meanings is not None else None
    return said if said is not None else RULES[code].summary


def codes_markdown() -> str:
    """The README's violation table: each code's engine sentence and a column per
    registered protocol's meaning."""
    return rules_markdown(catalogues())


def write_readme(path: Path = README) -> bool:
    """Put :func:`codes_markdown` between the README's ``rules`` markers; whether the
    file changed."""
    text = path.read_text(encoding="utf-8")
    start = text.index(BEGIN) + len(BEGIN)
    end = text.index(END, start)
    fresh = text[:start] + codes_markdown() + text[end:]
    if fresh == text:
        return False
    path.write_text(fresh, encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    if "--write" in argv:
        write_readme()
    else:
        sys.stdout.write(codes_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
