"""A clone with nothing beside it passes the suite (issue 14): no file of the main suite, nor anything it
runs, reads the project's shared folder beside the repository (or the variable naming it). Only the
browser suite against the official CDS Hooks sandbox (``tests_sandbox/``, run by ``scripts/test-sandbox``)
may: the sandbox build is not part of the repository.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What `bash scripts/test` runs: the scripts, the packages, the benchmark and the main suite.
SCANNED = ["scripts/test", "scripts/setup", ".ci/run", "pyproject.toml", "service", "cards", "terminology"]
SCANNED += ["bench", "tests"]
SANDBOX_ONLY = ("tests_sandbox/", "scripts/test-sandbox")
# Spelled in pieces so that this file, which names them, is not itself a reader (nor flagged as one).
SHARED = "shared"
FORBIDDEN = (f"CDS_{SHARED.upper()}_DIR", f"../{SHARED}", f'/ "{SHARED}"', "parents[2]")


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *SCANNED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    this = Path(__file__).resolve().relative_to(ROOT).as_posix()  # names what it looks for
    return [ROOT / name for name in listed if not name.startswith(SANDBOX_ONLY) and name != this]


def test_nothing_the_main_suite_runs_reads_the_shared_folder() -> None:
    files = tracked_files()
    assert any(f.name == "conftest.py" for f in files), "git ls-files found no test files"
    readers = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary files (images) name no folder
        readers += [f"{path.relative_to(ROOT)}: {needle}" for needle in FORBIDDEN if needle in text]
    assert readers == []


def test_the_reference_data_the_suite_reads_is_in_the_repository() -> None:
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "--", "tests/data"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert untracked == [], "commit these: a clone would not have them"
    assert len(list((ROOT / "tests" / "data").rglob("*.json"))) >= 35
