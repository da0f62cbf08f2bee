"""The docs do not drift: the README's generated tables, its Python blocks (each
runs as written, or says it is a fragment), and every install line (it names the
distribution, runflow-sse, or the checkout)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runflow.engine.violations import RULES, Code
from runflow.protocols.violations import codes_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_rule_table_matches_the_catalogue() -> None:
    text = README.read_text(encoding="utf-8")
    begin, end = "<!-- rules:begin -->\n", "<!-- rules:end -->"
    table = text[text.index(begin) + len(begin) : text.index(end)]
    assert table == codes_markdown(), (
        "README.md's rule table is stale; regenerate it with "
        "python -m runflow.protocols.violations --write"
    )


def test_every_code_has_a_rule() -> None:
    assert set(RULES) == set(Code)
    for code in Code:
        assert f"| `{code.value}` |" in codes_markdown()


def test_readme_carries_the_conform_table_as_generated() -> None:
    """docs/conform_table.md (kept fresh by tests/test_conform.py) stands in the README
    word for word (``python -m runflow.conform.table --write`` rewrites both)."""
    table = (README.parent / "docs" / "conform_table.md").read_text(encoding="utf-8")
    assert table in README.read_text(encoding="utf-8"), (
        "README.md's copy of docs/conform_table.md is stale: "
        "python -m runflow.conform.table --write")


def test_readme_profile_table_matches_the_profiles() -> None:
    from runflow.protocols.profiles import profiles_markdown

    text = README.read_text(encoding="utf-8")
    begin, end = "<!-- profiles:begin -->\n", "<!-- profiles:end -->"
    table = text[text.index(begin) + len(begin) : text.index(end)]
    assert table == profiles_markdown(), "README.md's profile table is stale"


# --------------------------------------------------------------------------- #
# the README's Python blocks run as written
# --------------------------------------------------------------------------- #
ROOT = README.parent
DISTRIBUTION = "runflow-sse"
FRAGMENT = "# fragment:"
"""First line of a Python block that is an excerpt, not a program; it says why."""


def python_blocks(path: Path = README) -> list[tuple[int, str]]:
    """(line number, code) of every ```python block of a Markdown file."""
    blocks, lines = [], path.read_text(encoding="utf-8").splitlines()
    start: int | None = None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == "```python":
            start = number
        elif start is not None and line.strip() == "```":
            blocks.append((start + 1, "\n".join(lines[start:number - 1]) + "\n"))
            start = None
    assert start is None, f"{path.name}:{start}: a ```python block is never closed"
    return blocks


def is_pytest_module(code: str) -> bool:
    return bool(re.search(r"^def test_", code, re.M))


RUN_ELSEWHERE = {
    "class MyHandler(FlowEventHandler)": (
        "tests/test_handler.py", "test_the_readme_first_example_runs_as_written"),
}
"""Blocks that run as written in another test, which hands them what the prose says
they have (the documentation's ``client``, ``thread`` and ``assistant``, from
runflow's local server): a line of the block -> (test file, test name)."""


def runs_elsewhere(code: str) -> bool:
    return any(marker in code for marker in RUN_ELSEWHERE)


def test_blocks_run_elsewhere_are_run_there() -> None:
    for marker, (path, name) in RUN_ELSEWHERE.items():
        assert any(marker in code for _, code in BLOCKS), f"no README block has {marker!r}"
        source = (ROOT / path).read_text(encoding="utf-8")
        assert f"def {name}(" in source and marker in source, (path, name)


BLOCKS = python_blocks()


def test_the_readme_has_python_blocks_and_each_is_a_program_or_says_it_is_not() -> None:
    assert len(BLOCKS) >= 8
    for line, code in BLOCKS:
        compile(code, f"README.md:{line}", "exec")  # a fragment still parses
        first = code.splitlines()[0]
        if first.startswith(FRAGMENT):
            assert first[len(FRAGMENT):].strip(), f"README.md:{line}: a fragment says why"


@pytest.mark.parametrize(("line", "code"), [b for b in BLOCKS if not is_pytest_module(b[1])
                                            and not b[1].startswith(FRAGMENT)
                                            and not runs_elsewhere(b[1])],
                         ids=lambda v: f"README.md:{v}" if isinstance(v, int) else "")
def test_readme_python_block_runs_as_written(line: int, code: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Runs in a namespace of its own, as if pasted into a fresh interpreter (the
    blocks that need a server start runflow's local one themselves)."""
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)


@pytest.mark.parametrize(("line", "code"), [b for b in BLOCKS if is_pytest_module(b[1])],
                         ids=lambda v: f"README.md:{v}" if isinstance(v, int) else "")
def test_readme_pytest_block_passes_with_the_plugin(line: int, code: str,
                                                   pytester: pytest.Pytester) -> None:
    """A block that defines tests (the pytest plugin's example) passes when pytest
    runs it as a file of its own, with the plugin loaded from its entry point."""
    pytester.makepyfile(test_readme_block=code)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider",
                                          "-W", "ignore::DeprecationWarning")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, "\n".join(result.outlines[-60:])
    assert outcomes.get("passed", 0) >= 10 and set(outcomes) <= {"passed", "warnings"}, outcomes


# --------------------------------------------------------------------------- #
# every install line names the distribution
# --------------------------------------------------------------------------- #
def install_lines() -> list[tuple[str, str]]:
    """(where, requirement) of every ``pip install`` in the docs, examples and the
    package's own messages."""
    files = [README, *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "examples").glob("*.py")), *sorted((ROOT / "runflow").rglob("*.py"))]
    found = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in re.finditer(r"pip install ((?:[^\s`&;|\"]+ ?)+)", line):
                for word in match.group(1).split():
                    requirement = re.match(r"['\"]?([\w.\-]+(\[[^\]]*\])?)", word)
                    if requirement and not word.startswith("-"):  # an option, e.g. -e
                        found.append((f"{path.relative_to(ROOT)}:{number}",
                                      requirement.group(1)))
    return found


def test_every_install_line_names_the_distribution_or_the_checkout() -> None:
    found = install_lines()
    assert any(req.startswith(DISTRIBUTION + "[") for _, req in found)
    assert any(req.startswith(".[") for _, req in found)  # the quick start
    wrong = [(where, req) for where, req in found
             if not re.fullmatch(rf"({re.escape(DISTRIBUTION)}|\.)(\[[a-z,]+\])?", req)]
    assert wrong == [], f"pip install of something other than {DISTRIBUTION} or the checkout"


def test_the_distribution_is_the_one_installed_and_its_metadata_names_both_grammars() -> None:
    from importlib import metadata

    import runflow

    meta = metadata.metadata(DISTRIBUTION)
    for text in (meta["Summary"], runflow.__doc__ or ""):
        assert "Assistants" in text and "Responses" in text, text
    assert meta["License"] == "MIT" and "License :: OSI Approved :: MIT License" in (
        meta.get_all("Classifier") or [])
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert "the runflow authors" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    testing = [r for r in meta.get_all("Requires-Dist") or [] if "extra == \"testing\"" in r]
    assert any(r.startswith("pytest-asyncio") for r in testing), testing
