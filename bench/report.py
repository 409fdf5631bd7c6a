"""The benchmark's table on stdout and its targets (issue 8), from the results dictionary."""

from __future__ import annotations

import itertools
import math
from typing import Any


def _latency(results: dict[str, Any], size: int) -> dict[str, Any]:
    return next(row for row in results["latency"] if row["observations"] == size)


def growth_exponent(results: dict[str, Any], who: str, small: int, large: int) -> float:
    """Slope of log(p50) against log(observations) between two sizes: 1.0 is linear growth."""
    ratio = _latency(results, large)[who]["p50"] / _latency(results, small)[who]["p50"]
    return math.log(ratio) / math.log(large / small)


def targets(results: dict[str, Any]) -> list[tuple[str, str, float, bool]]:
    """(what, target, measured, met) for each target of issue 8."""
    memory = results["memory"]
    load = results["throughput"]
    fallback = results["fallback"]
    delayed = next(v for k, v in fallback.items() if k.startswith("delay_") and isinstance(v, dict))
    rss_ratio = memory["after_10000"]["rss_kib"] / memory["idle"]["rss_kib"]
    rows = [
        ("p50 at 1,000 obs / floor", "<= 1.3", _latency(results, 1_000)["ratio_p50"], 1.3),
        ("p50 at 10,000 obs / floor", "<= 1.5", _latency(results, 10_000)["ratio_p50"], 1.5),
        (
            "growth exponent 1,000 -> 10,000 obs",
            "<= 1.1 (1 = linear)",
            growth_exponent(results, "service", 1_000, 10_000),
            1.1,
        ),
        ("fallback fetch / slowest query (loopback)", "<= 1.5", fallback["loopback"]["fetch_ratio"], 1.5),
        (
            f"fallback fetch / slowest query (+{fallback['delay_ms']} ms)",
            "<= 1.5",
            delayed["fetch_ratio"],
            1.5,
        ),
        ("errors under 16 connections", "0", load["service"]["errors"], 0),
        ("RSS after 10,000-obs runs / idle", "<= 2.0", rss_ratio, 2.0),
    ]
    measured = [(what, goal, value, value <= limit) for what, goal, value, limit in rows]
    ratio = load["ratio"]
    return [*measured[:3], ("throughput / floor", ">= 0.8", ratio, ratio >= 0.8), *measured[3:]]


def print_report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['os']}")
    print("\nhook latency, full prefetch (ms, client side, sequential keep-alive)")
    print(
        f"{'obs':>7} {'KiB':>7} {'cards':>5} | {'service p50':>11} {'p95':>7} | "
        f"{'floor p50':>9} {'p95':>7} | {'ratio':>5} | {'µs/obs':>6}"
    )
    for row in results["latency"]:
        s, f = row["service"], row["floor"]
        print(
            f"{row['observations']:>7,} {row['body_kib']:>7,.0f} {row['cards']:>5} | {s['p50']:>11.2f} "
            f"{s['p95']:>7.2f} | {f['p50']:>9.2f} {f['p95']:>7.2f} | {row['ratio_p50']:>5.2f} | "
            f"{s['p50'] * 1000 / row['observations']:>6.1f}"
        )
    sizes = [row["observations"] for row in results["latency"]]
    slopes = ", ".join(
        f"{a:,}->{b:,}: service {growth_exponent(results, 'service', a, b):.2f} / "
        f"floor {growth_exponent(results, 'floor', a, b):.2f}"
        for a, b in itertools.pairwise(sizes)
    )
    print(f"growth exponent (1 = linear): {slopes}")
    card = results["card"]
    print(
        f"with {card['cards']} card(s) issued and recorded, {card['observations']} obs: service p50 "
        f"{card['service']['p50']:.2f} ms, p95 {card['service']['p95']:.2f} ms "
        f"(x{card['ratio_p50']:.2f} the floor)"
    )
    load = results["throughput"]
    print(f"\nthroughput, {load['connections']} connections, {load['observations']} obs (wrk)")
    for who in ("service", "floor"):
        t = load[who]
        print(
            f"  {who:<8} {t['per_second']:>8,.0f} req/s  p50 {t['p50_ms']:.1f} ms  p99 {t['p99_ms']:.1f} ms  "
            f"errors {t['errors']}  ({t['requests']:,} requests)"
        )
    mem = results["memory"]
    idle, after = mem["idle"], mem["after_10000"]
    print(
        f"\nservice memory: idle {idle['rss_kib'] / 1024:.0f} MiB, after the 10,000-obs runs "
        f"{after['rss_kib'] / 1024:.0f} MiB (peak {after['peak_kib'] / 1024:.0f} MiB)"
    )
    fallback = results["fallback"]
    print(f"\nFHIR fallback, {fallback['observations']} obs (ms, p50)")
    for variant, data in fallback.items():
        if isinstance(data, dict):
            queries = "  ".join(f"{k} {v:.1f}" for k, v in data["query_p50_ms"].items())
            print(f"  {variant}: queries alone: {queries}")
            print(
                f"    slowest {data['slowest_query_ms']:.1f}, sum {data['sum_of_queries_ms']:.1f}; "
                f"service fetch phase {data['service_fetch_mean_ms']:.1f} (x{data['fetch_ratio']:.2f} the "
                f"slowest, x{data['fetch_to_sum_ratio']:.2f} the sum); "
                f"whole hook {data['hook']['p50']:.1f} (x{data['hook_ratio']:.2f})"
            )
    print("\ntargets")
    for what, goal, value, met in targets(results):
        print(f"  {'met   ' if met else 'MISSED'} {what:<44} {goal:<20} measured {value:.2f}")
