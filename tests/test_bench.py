"""The benchmark suite keeps working (a brief run), and its target checks say met or missed correctly.

The numbers of this run mean nothing (few calls, a busy machine); ``bash scripts/bench`` is the measurement.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.client import fresh_instance
from bench.report import growth_exponent, ratio, targets

ROOT = Path(__file__).parents[1]
SIZES = [10, 100, 1_000, 10_000]
THROUGHPUT = "two cards, throughput at 100 obs, 16 connections / floor"
FALLBACK = "fallback fetch / slowest query (loopback)"
RSS = "RSS after the load runs / idle"


@pytest.fixture(scope="module")
def brief_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    output = tmp_path_factory.mktemp("bench") / "results.json"
    command = [
        sys.executable,
        "-m",
        "bench.run",
        "--scale",
        "0.02",
        "--seconds",
        "1",
        "--output",
        str(output),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(output.read_text()), done.stdout


def test_a_brief_run_measures_every_size_and_part(brief_run: tuple[dict[str, Any], str]) -> None:
    results, _ = brief_run
    assert results["apps"] == ["service", "floor"]
    for chart in ("card", "plain"):
        assert [row["observations"] for row in results[chart]] == SIZES
        for row in results[chart]:
            for app in ("service", "floor"):
                assert 0 < row["latency"][app]["p50"] <= row["latency"][app]["p95"]
            assert ratio(row, "service") == pytest.approx(
                row["latency"]["service"]["p50"] / row["latency"]["floor"]["p50"]
            )
    assert [row["cards"]["service"] for row in results["card"]] == [2, 2, 2, 2]  # the headline chart
    assert [row["cards"]["service"] for row in results["plain"]] == [0, 0, 0, 0]  # nothing to flag
    assert results["throughput"]["service"]["requests"] > 0
    assert results["throughput"]["service"]["errors"] == 0
    assert set(results["fallback"]["service"]["loopback"]["query_p50_ms"]) == {
        "patient",
        "labs",
        "conditions",
        "medicationRequests",
        "medicationAdministrations",
        "procedures",
    }
    idle, after = results["memory"]["service"]["idle"], results["memory"]["service"]["after_load"]
    assert 0 < idle["rss_kib"] <= after["peak_kib"]
    assert len(results["machine"]["load_before"]) == 3
    assert [row["workers"] for row in results["workers"]] == [1, 2, 4]
    for row in results["workers"]:
        assert row["service"]["requests"] > 0
        assert row["service"]["errors"] == 0


def test_a_brief_run_prints_the_machine_the_tables_and_every_target(
    brief_run: tuple[dict[str, Any], str],
) -> None:
    results, stdout = brief_run
    assert "two cards: the demo dialysis patient" in stdout
    assert "load average (1, 5, 15 min)" in stdout
    assert f"{results['machine']['cores']} cores" in stdout
    for what, *_ in targets(results):
        assert what in stdout
    for workers in (1, 2, 4):
        assert f"{workers} worker(s): service" in stdout


def test_each_call_carries_its_own_hook_instance() -> None:
    """No figure may come from an answer kept for an identical body: each call is a new hook instance."""
    body = b'{"hook":"patient-view","hookInstance":"d1577c69-dfbe-44ad-ba6d-3e05e953b2ea","context":{}}'
    first, second = fresh_instance(body), fresh_instance(body)
    assert first is not None
    assert second is not None
    assert len({body, first, second}) == 3
    assert [json.loads(b)["hook"] for b in (first, second)] == ["patient-view"] * 2
    assert [len(json.loads(b)["hookInstance"]) for b in (first, second)] == [36, 36]


def _row(size: int, service_p50: float, floor_p50: float) -> dict[str, Any]:
    return {
        "observations": size,
        "latency": {
            "service": {"p50": service_p50, "p95": service_p50 * 1.2},
            "floor": {"p50": floor_p50, "p95": floor_p50},
        },
    }


def _results(service_p50: dict[int, float], floor_p50: float = 10.0) -> dict[str, Any]:
    rows = [_row(n, service_p50[n], floor_p50 * n / 1000) for n in SIZES]
    return {
        "card": copy.deepcopy(rows),
        "plain": copy.deepcopy(rows),
        "memory": {"service": {"idle": {"rss_kib": 100_000}, "after_load": {"rss_kib": 120_000}}},
        "throughput": {
            "service": {"errors": 0, "per_second": 900.0},
            "floor": {"per_second": 1000.0},
            "observations": 100,
            "connections": 16,
        },
        "fallback": {"service": {"loopback": {"fetch_ratio": 1.2}}},
    }


def test_growth_exponent_is_one_for_linear_cost() -> None:
    linear = _results({n: 0.013 * n for n in SIZES})
    assert growth_exponent(linear["card"], "service", 1_000, 10_000) == pytest.approx(1.0)
    quadratic = _results({n: 1e-6 * n * n for n in SIZES})
    assert growth_exponent(quadratic["card"], "service", 1_000, 10_000) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("change", "target", "met"),
    [
        (lambda r: r, "two cards, p50 at 1,000 obs / floor", True),  # 11.5 ms against 10 ms: 1.15
        (
            lambda r: r["card"][2]["latency"]["service"].update(p50=13.0),
            "two cards, p50 at 1,000 obs / floor",
            True,
        ),
        (
            lambda r: r["card"][2]["latency"]["service"].update(p50=13.1),
            "two cards, p50 at 1,000 obs / floor",
            False,
        ),
        (
            lambda r: r["card"][0]["latency"]["service"].update(p95=0.15),
            "two cards, p95 at 10 obs / floor",
            True,
        ),
        (
            lambda r: r["card"][0]["latency"]["service"].update(p95=0.151),
            "two cards, p95 at 10 obs / floor",
            False,
        ),
        (
            lambda r: r["plain"][3]["latency"]["service"].update(p50=120.0),
            "no card, p50 at 10,000 obs / floor",
            True,
        ),
        (
            lambda r: r["plain"][3]["latency"]["service"].update(p50=121.0),
            "no card, p50 at 10,000 obs / floor",
            False,
        ),
        (lambda r: r, THROUGHPUT, True),  # 900 against 1,000 req/s
        (lambda r: r["throughput"]["service"].update(per_second=899.0), THROUGHPUT, False),
        (lambda r: r["throughput"]["service"].update(errors=1), "errors under 16 connections", False),
        (lambda r: r["fallback"]["service"]["loopback"].update(fetch_ratio=1.31), FALLBACK, False),
        (lambda r: r["memory"]["service"]["after_load"].update(rss_kib=130_000), RSS, True),
        (lambda r: r["memory"]["service"]["after_load"].update(rss_kib=130_001), RSS, False),
    ],
)
def test_targets_at_and_around_their_limits(change: Any, target: str, met: bool) -> None:
    results = copy.deepcopy(_results({n: 0.0115 * n for n in SIZES}))
    change(results)
    verdicts = {what: ok for what, _, _, ok in targets(results)}
    assert verdicts[target] is met


def test_every_target_of_issue_16_is_checked() -> None:
    whats = [what for what, *_ in targets(_results({n: 0.0115 * n for n in SIZES}))]
    assert len(whats) == 4 + 4 + 1 + 4 + 3  # p50 and p95 with two cards, throughput, no card, the rest
    assert len(set(whats)) == len(whats)
