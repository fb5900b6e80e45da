"""docs/rules.md names, beside each programme rule, the test that proves it: every test it names exists."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "rules.md"
NAMED = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_every_test_docs_rules_names_exists():
    named = NAMED.findall(DOC.read_text())
    assert len(named) > 50  # the doc names its tests in the form this test reads
    missing = [f"{file}::{name}" for file, name in named
               if not (ROOT / file).is_file() or name not in _tests_in(ROOT / file)]
    assert missing == []


def test_the_doc_covers_each_programme_s_rulebook():
    text = DOC.read_text()
    for rulebook in sorted((ROOT / "chalicelib" / "rulebooks").glob("*.json")):
        assert f"`{rulebook.stem}`" in text, f"docs/rules.md has no section for {rulebook.stem}"
