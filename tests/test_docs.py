"""The README's rule table is generated from runflow.RULES: it must not drift."""

from __future__ import annotations

from pathlib import Path

from runflow.engine.violations import RULES, Code, rules_markdown

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_rule_table_matches_the_catalogue() -> None:
    text = README.read_text(encoding="utf-8")
    begin, end = "<!-- rules:begin -->\n", "<!-- rules:end -->"
    table = text[text.index(begin) + len(begin) : text.index(end)]
    assert table == rules_markdown(), (
        "README.md's rule table is stale; regenerate it with "
        "python -c 'import runflow.engine.violations as v; print(v.rules_markdown())'"
    )


def test_every_code_has_a_rule() -> None:
    assert set(RULES) == set(Code)
    for code in Code:
        assert f"| `{code.value}` |" in rules_markdown()


def test_readme_profile_table_matches_the_profiles() -> None:
    from runflow.protocols.profiles import profiles_markdown

    text = README.read_text(encoding="utf-8")
    begin, end = "<!-- profiles:begin -->\n", "<!-- profiles:end -->"
    table = text[text.index(begin) + len(begin) : text.index(end)]
    assert table == profiles_markdown(), "README.md's profile table is stale"
