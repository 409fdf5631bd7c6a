"""Every name in the rule data is resolved at start-up: a typo stops the service with one line naming the
file and the key (a typo'd concept used to start without complaint and silently never match)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cards import catalog, config, data_files
from service.cli.main import main
from terminology.knowledge import load_knowledge

K = load_knowledge()
Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def edited(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, Edit], None]]:
    """Serve one data file of cards/ with an edit applied; every cached load is cleared around the test."""
    original = data_files.read_data
    edits: dict[str, Edit] = {}

    def read(name: str) -> Any:
        data = copy.deepcopy(original(name))
        if name in edits:
            edits[name](data)
        return data

    def clear() -> None:
        for cached in (
            config.threshold_library,
            data_files.citations,
            data_files.card_words,
            data_files.override_reasons,
        ):
            cached.cache_clear()
        for service in catalog.read_data("service.json")["services"]:
            for name in service["pathways"]:
                catalog.pathway_module(name).load_config.cache_clear()

    for module in (data_files, config, catalog):
        monkeypatch.setattr(module, "read_data", read)
    clear()
    yield lambda name, edit: edits.__setitem__(name, edit)
    monkeypatch.undo()
    clear()


def _set(key: str, value: Any) -> Edit:
    return lambda data: data.__setitem__(key, value)


@pytest.mark.parametrize(
    ("file", "edit", "message"),
    [
        (
            "known_calcinosis.json",
            _set("concepts", ["calcinosis-cutiss"]),
            "known_calcinosis.json: concepts names unknown concepts ['calcinosis-cutiss']",
        ),
        (
            "calciphylaxis.json",
            lambda d: d["conceptNames"].__setitem__("warfarin", "warfarine"),
            "calciphylaxis.json: conceptNames names unknown concepts ['warfarine']",
        ),
        (
            "metastatic.json",
            lambda d: d["thresholds"].append("calciumAboveNormall"),
            "metastatic.json: thresholds ['calciumAboveNormall'] are not in thresholds.json",
        ),
        (
            "tumoral.json",
            _set("workup", ["fgf-23"]),
            "tumoral.json: workup suggests unknown orders ['fgf-23']",
        ),
        ("dystrophic.json", _set("citations", ["reiter-2011"]), "dystrophic.json cites unknown references"),
        (
            "service.json",
            lambda d: d["services"][0]["pathways"].append("metastatc"),
            "service.json: pathway 'metastatc' is not a module of cards",
        ),
        (
            "service.json",
            lambda d: d["services"][0]["supersedes"][0].__setitem__("drops", "dystrophic"),
            "service.json: service calcinosis-cutis-risk: rules ['dystrophic'] are not among its pathways",
        ),
        (
            "service.json",
            lambda d: d["services"][0]["prefetch"].append("observations"),
            "service.json: service calcinosis-cutis-risk: unknown prefetch keys ['observations']",
        ),
    ],
)
def test_a_typo_in_the_rule_data_stops_start_up_naming_file_and_key(
    edited: Callable[[str, Edit], None], file: str, edit: Edit, message: str
) -> None:
    edited(file, edit)
    with pytest.raises(ValueError, match=r"\.json") as raised:
        catalog.declared_services(K)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_shipped_data_starts(edited: Callable[[str, Edit], None]) -> None:
    assert [s.id for s in catalog.declared_services(K)] == [
        "calcinosis-cutis-risk",
        "calcinosis-order-check",
        "calcinosis-order-select",
    ]


def test_serve_with_a_typo_in_the_data_says_one_line_and_exits_2(
    edited: Callable[[str, Edit], None],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The command line, not a traceback: the line names the file and the key, the exit status is 2."""
    monkeypatch.setenv("CDS_DATABASE_URL", f"sqlite:///{tmp_path / 'cds.db'}")
    edited("service.json", lambda d: d["services"][1].__setitem__("hook", "order-sing"))
    assert main(["serve", "--port", "0"]) == 2
    assert capsys.readouterr().err == (
        "calcinosis-cds: invalid data: service 'calcinosis-order-check': no hook 'order-sing' "
        "(known: order-select, order-sign, patient-view)\n"
    )
