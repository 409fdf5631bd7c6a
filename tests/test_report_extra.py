"""matplotlib (and numpy with it) is an extra, ``calcinosis-cds[report]``, needed by ``report --plot`` only:
a plain install runs the service and the report without it, and ``--plot`` without it says what to
install in one line (issue 14)."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest

from service.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
HINT = (
    "calcinosis-cds: --plot needs matplotlib, which is not installed: pip install 'calcinosis-cds[report]'\n"
)


@pytest.fixture
def without_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As if matplotlib were not installed: importing it fails; our modules are imported afresh."""
    for name in [n for n in sys.modules if n.startswith("matplotlib.")] + ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    for ours in ("service.cli.report", "service.cli.report_render", "service.cli.report_plot"):
        monkeypatch.delitem(sys.modules, ours, raising=False)
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path / 'cds.db'}")


def test_matplotlib_is_not_a_dependency_of_a_plain_install() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    plain = " ".join(project["dependencies"])
    assert "matplotlib" not in plain
    assert "numpy" not in plain
    assert any(d.startswith("matplotlib") for d in project["optional-dependencies"]["report"])


@pytest.mark.usefixtures("without_matplotlib")
def test_the_report_needs_no_matplotlib(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["report", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"] == []


@pytest.mark.usefixtures("without_matplotlib")
def test_plot_without_matplotlib_says_what_to_install(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    chart = tmp_path / "chart.png"
    assert main(["report", "--plot", str(chart)]) == 2
    assert capsys.readouterr().err == HINT
    assert not chart.exists()
