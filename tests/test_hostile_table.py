"""The README's hostile-input table is true: every case answers what it must, within
its memory bound, every Why bullet of issue 12 is covered, every row proved
elsewhere points at a test that exists, and the README holds the table as
generated (``python -m runflow.testing.hostile --write``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from runflow.testing import hostile
from runflow.testing.hostile import CASES, PROVED_ELSEWHERE, WHY, Case, Result
from runflow.testing.hostile_memory import FLOOD

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "python -m runflow.testing.hostile --write"


@pytest.fixture(scope="module")
def results() -> dict[str, Result]:
    """Every case run once (about 3 s); the table and the per-case tests share it."""
    return {r.case.name: r for r in hostile.run_cases()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_answers_what_it_must(case: Case, results: dict[str, Result]) -> None:
    result = results[case.name]
    assert result.outcome.answer == case.expect


@pytest.mark.parametrize("case", [c for c in CASES if c.bound is not None],
                         ids=[c.name for c in CASES if c.bound is not None])
def test_memory_case_stays_under_its_bound(case: Case, results: dict[str, Result]) -> None:
    result = results[case.name]
    assert case.bound is not None and result.peak is not None
    assert result.peak < case.bound.limit, (
        f"peak {result.peak / 2**20:.2f} MiB, bound {case.bound.text}")
    assert result.peak > 0  # tracemalloc measured something


def test_bounds_would_catch_unbounded_growth() -> None:
    """Each flood carries more than its bound: memory that kept all of it would fail."""
    for case in CASES:
        if case.bound is not None and case.why == "memory" and "flood" in case.name:
            assert FLOOD > 2 * case.bound.limit, case.name


def test_every_why_bullet_is_covered() -> None:
    covered = {c.why for c in CASES} | {p.why for p in PROVED_ELSEWHERE}
    assert covered == set(WHY)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("proof", PROVED_ELSEWHERE, ids=[p.name for p in PROVED_ELSEWHERE])
def test_rows_proved_elsewhere_point_at_existing_tests(proof: hostile.Proof) -> None:
    path, _, name = proof.test.partition("::")
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    tests = {node.name for node in ast.walk(tree)
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
             and node.name.startswith("test_")}
    assert name in tests, f"{path} has no test named {name}"


def test_the_table_is_deterministic(results: dict[str, Result]) -> None:
    assert hostile.render(list(results.values())) == hostile.hostile_table()


def test_readme_holds_the_generated_table(results: dict[str, Result]) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = hostile.readme_block(text)
    assert block is not None, f"README.md has no {hostile.BEGIN} ... {hostile.END} block"
    assert text.index("## Hostile input") < text.index(hostile.BEGIN) < text.index(
        "## The local server")
    assert block == hostile.render(list(results.values())), (
        f"README.md's hostile-input table is stale; regenerate it with {REGENERATE}")


def test_write_replaces_only_the_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n\n{hostile.BEGIN}\nold\n{hostile.END}\n\nafter\n")
    hostile.write_readme("| new |\n", readme)
    expected = f"# x\n\nbefore\n\n{hostile.BEGIN}\n| new |\n{hostile.END}\n\nafter\n"
    assert readme.read_text() == expected
    assert hostile.readme_block(readme.read_text()) == "| new |\n"


def test_a_wrong_answer_shows_in_the_table() -> None:
    """The table renders what runflow answered, so a regression cannot hide."""
    case = Case("probe", "types", "input", "expected", lambda: hostile.Outcome("actual"))
    table = hostile.render([hostile.run_case(case)])
    assert "**WRONG:** actual (expected: expected)" in table
