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

from bench.report import growth_exponent, targets

ROOT = Path(__file__).parents[1]
SIZES = [10, 100, 1_000, 10_000]


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
    assert [row["observations"] for row in results["latency"]] == SIZES
    for row in results["latency"]:
        assert row["service"]["p50"] > 0
        assert row["floor"]["p50"] > 0
        assert row["ratio_p50"] == pytest.approx(row["service"]["p50"] / row["floor"]["p50"])
    assert [row["cards"] for row in results["latency"]] == [0, 0, 0, 0]  # charts with nothing to flag
    assert results["card"]["cards"] >= 1  # the same 100-observation chart with a high calcium
    assert results["throughput"]["service"]["requests"] > 0
    assert results["throughput"]["service"]["errors"] == 0
    assert set(results["fallback"]["loopback"]["query_p50_ms"]) == {
        "patient",
        "labs",
        "conditions",
        "medicationRequests",
        "medicationAdministrations",
        "procedures",
    }
    idle, after = results["memory"]["idle"], results["memory"]["after_10000"]
    assert 0 < idle["rss_kib"] <= after["peak_kib"]


def test_a_brief_run_prints_the_table_and_every_target(brief_run: tuple[dict[str, Any], str]) -> None:
    results, stdout = brief_run
    assert "hook latency, full prefetch" in stdout
    for what, *_ in targets(results):
        assert what in stdout


def _results(service_p50: dict[int, float], floor_p50: float = 10.0) -> dict[str, Any]:
    latency = [
        {
            "observations": n,
            "service": {"p50": service_p50[n]},
            "floor": {"p50": floor_p50 * n / 1000},
            "ratio_p50": service_p50[n] / (floor_p50 * n / 1000),
        }
        for n in SIZES
    ]
    fallback = {"fetch_ratio": 1.2}
    return {
        "latency": latency,
        "memory": {"idle": {"rss_kib": 100_000}, "after_10000": {"rss_kib": 150_000}},
        "throughput": {"service": {"errors": 0}, "ratio": 0.9},
        "fallback": {"loopback": fallback, "delay_40ms": fallback, "delay_ms": 40},
    }


def test_growth_exponent_is_one_for_linear_cost() -> None:
    linear = _results({n: 0.013 * n for n in SIZES})
    assert growth_exponent(linear, "service", 1_000, 10_000) == pytest.approx(1.0)
    quadratic = _results({n: 1e-6 * n * n for n in SIZES})
    assert growth_exponent(quadratic, "service", 1_000, 10_000) == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("change", "target", "met"),
    [
        (lambda r: r, "p50 at 1,000 obs / floor", True),  # 12 ms against 10 ms: 1.2
        (lambda r: r["latency"][2].update(ratio_p50=1.3), "p50 at 1,000 obs / floor", True),
        (lambda r: r["latency"][2].update(ratio_p50=1.31), "p50 at 1,000 obs / floor", False),
        (lambda r: r["throughput"].update(ratio=0.8), "throughput / floor", True),
        (lambda r: r["throughput"].update(ratio=0.79), "throughput / floor", False),
        (lambda r: r["throughput"]["service"].update(errors=1), "errors under 16 connections", False),
        (
            lambda r: r["memory"]["after_10000"].update(rss_kib=200_000),
            "RSS after 10,000-obs runs / idle",
            True,
        ),
        (
            lambda r: r["memory"]["after_10000"].update(rss_kib=200_001),
            "RSS after 10,000-obs runs / idle",
            False,
        ),
    ],
)
def test_targets_at_and_around_their_limits(change: Any, target: str, met: bool) -> None:
    results = copy.deepcopy(_results({n: 0.012 * n for n in SIZES}))
    change(results)
    verdicts = {what: ok for what, _, _, ok in targets(results)}
    assert verdicts[target] is met
