"""The architecture as tests: data flows one way (request -> service -> terminology -> cards), the rules are
pure, the report and its plotting stay off the request path, nothing is loaded at import time, and modules
stay small. Each check reads the source (or imports it in a fresh interpreter), so a violation names the
file and line.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("service", "terminology", "cards", "bench")
MAX_LINES = 300
# What a package may not import (its first dotted name), by package.
FORBIDDEN = {
    "terminology": {"service", "cards", "fastapi", "starlette", "httpx", "sqlalchemy"},
    "cards": {"service", "fastapi", "starlette", "httpx", "sqlalchemy", "requests", "redis"},
}
CLOCK_CALLS = {("datetime", "now"), ("date", "today"), ("datetime", "utcnow"), ("time", "time")}


def python_files(*packages: str) -> list[Path]:
    return sorted(
        p for package in packages for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts
    )


def imported(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: str) -> list[str]:
    banned = FORBIDDEN[package]
    out = []
    for path in python_files(package):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        out += [
            f"{path.relative_to(ROOT)}:{line} imports {name}"
            for line, name in imported(tree)
            if name.split(".")[0] in banned
        ]
        if package == "cards":
            out += [
                f"{path.relative_to(ROOT)}:{node.lineno} reads the clock"
                for node in ast.walk(tree)
                if isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and (node.func.value.id, node.func.attr) in CLOCK_CALLS
            ]
    return out


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_data_flows_one_way_and_the_rules_are_pure(package: str) -> None:
    assert violations(package) == []


def test_the_checks_can_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same check on a rule module that imports the service and reads the clock."""
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "bad.py").write_text(
        "from service.api.app import create_app\nfrom datetime import datetime\nNOW = datetime.now()\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations("cards") == ["cards/bad.py:1 imports service.api.app", "cards/bad.py:3 reads the clock"]


def _fresh_import(code: str) -> object:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout)


def test_the_request_path_imports_no_command_line_tool_report_or_plot() -> None:
    """``service.api.app`` (everything a request runs) loads neither ``service.cli`` (report, plotting,
    check) nor matplotlib."""
    loaded = _fresh_import(
        "import json, sys, service.api.app; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('service.cli', 'matplotlib')))))"
    )
    assert loaded == []


def test_nothing_is_loaded_at_import_time() -> None:
    """Importing the app factory reads no knowledge or rule data: ``create_app`` does, once."""
    sizes = _fresh_import(
        "import json, service.api.app; from terminology.knowledge import load_knowledge; "
        "from cards.data_files import citations; "
        "print(json.dumps([load_knowledge.cache_info().currsize, citations.cache_info().currsize]))"
    )
    assert sizes == [0, 0]


@pytest.mark.parametrize("path", python_files(*PACKAGES), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by what it holds"
