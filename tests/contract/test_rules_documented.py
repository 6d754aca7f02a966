"""docs/data.md shows the contract's table: each rule, its severity and its decision."""

from __future__ import annotations

from pathlib import Path

from fttui.data.contract import RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data.md"


def test_every_rule_is_in_the_docs_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [
        code
        for code, rule in RULES.items()
        if f"| `{code}` | {rule.severity} | {rule.decision} |" not in text
    ]
    assert not missing, f"docs/data.md lacks (or has outdated) rows for {missing}"
