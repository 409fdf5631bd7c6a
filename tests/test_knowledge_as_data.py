"""Knowledge is data: no code-shaped literal outside terminology/, no bare numbers in rule modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE_SHAPES = {
    "LOINC": re.compile(r"^\d{3,6}-\d$"),
    "SNOMED/RxNorm": re.compile(r"^\d{6,18}$"),
    "ICD-10": re.compile(r"^[A-TV-Z]\d{2}\.[0-9A-Z]{1,4}$"),
}
ALLOWED_NUMBERS = {0, 1, -1}


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _string_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstring_nodes(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("path", _python_files("cards", "service"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_literals_outside_terminology(path: Path) -> None:
    found = [
        f"{path.name}:{line} {kind} {text!r}"
        for line, text in _string_literals(path)
        for kind, shape in CODE_SHAPES.items()
        if shape.match(text.strip())
    ]
    assert found == []


RULE_MODULES = [
    p
    for p in _python_files("cards")
    if p.name not in {"__init__.py", "config.py", "render.py", "catalog.py", "finding.py"}
]


@pytest.mark.parametrize("path", RULE_MODULES, ids=lambda p: p.name)
def test_rule_modules_read_numbers_from_config(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    numbers = [
        f"{path.name}:{node.lineno} {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
        and node.value not in ALLOWED_NUMBERS
    ]
    assert numbers == []


def test_the_checks_can_fail() -> None:
    assert CODE_SHAPES["LOINC"].match("17861-6")
    assert CODE_SHAPES["SNOMED/RxNorm"].match("55464009")
    assert CODE_SHAPES["ICD-10"].match("M34.1")
