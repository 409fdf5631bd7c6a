"""The benchmark's tables on stdout and the targets of issue 16, from the results dictionary."""

from __future__ import annotations

import itertools
import math
from typing import Any

FLOOR = "floor"


def ratio(row: dict[str, Any], app: str, stat: str = "p50") -> float:
    """``app``'s latency over the floor's on the same chart, for ``stat`` (p50 or p95)."""
    latency: float = row["latency"][app][stat] / row["latency"][FLOOR][stat]
    return latency


def growth_exponent(rows: list[dict[str, Any]], app: str, small: int, large: int) -> float:
    """Slope of log(p50) against log(observations) between two sizes: 1.0 is linear growth."""
    at = {row["observations"]: row["latency"][app]["p50"] for row in rows}
    return math.log(at[large] / at[small]) / math.log(large / small)


def targets(results: dict[str, Any], app: str = "service") -> list[tuple[str, str, float, bool]]:
    """(what, target, measured, met) for each target of issue 16, for ``app`` (the service, or before)."""
    rows: list[tuple[str, str, float, float]] = []
    for stat, limit in (("p50", 1.3), ("p95", 1.5)):
        rows += [
            (
                f"two cards, {stat} at {row['observations']:,} obs / floor",
                f"<= {limit}",
                ratio(row, app, stat),
                limit,
            )
            for row in results["card"]
        ]
    rows += [
        (f"no card, p50 at {row['observations']:,} obs / floor", "<= 1.2", ratio(row, app), 1.2)
        for row in results["plain"]
    ]
    fallback = results["fallback"][app]["loopback"]
    rows.append(("fallback fetch / slowest query (loopback)", "<= 1.3", fallback["fetch_ratio"], 1.3))
    memory = results["memory"][app]
    rss = memory["after_load"]["rss_kib"] / memory["idle"]["rss_kib"]
    rows.append(("RSS after the load runs / idle", "<= 1.3", rss, 1.3))
    load = results["throughput"]
    rows.append((f"errors under {load['connections']} connections", "0", load[app]["errors"], 0))
    measured = [(what, goal, value, value <= limit) for what, goal, value, limit in rows]
    per_second = load[app]["per_second"] / load[FLOOR]["per_second"]
    throughput = (
        f"two cards, throughput at {load['observations']} obs, {load['connections']} connections / floor",
        ">= 0.9",
        per_second,
        per_second >= 0.9,
    )
    return [*measured[:8], throughput, *measured[8:]]


def _latency_table(title: str, rows: list[dict[str, Any]], apps: list[str]) -> None:
    print(f"\n{title} (ms, client side, sequential keep-alive; ratio = p50 / floor p50 (p95 / floor p95))")
    head = "".join(f" | {name + ' p50':>12} {'p95':>7} {'ratio':>11}" for name in apps if name != FLOOR)
    print(f"{'obs':>7} {'KiB':>7}{head} | {'floor p50':>9} {'p95':>7} | {'µs/obs':>6}")
    for row in rows:
        cells = "".join(
            f" | {row['latency'][a]['p50']:>12.2f} {row['latency'][a]['p95']:>7.2f} "
            f"{ratio(row, a):>5.2f} ({ratio(row, a, 'p95'):.2f})"
            for a in apps
            if a != FLOOR
        )
        f = row["latency"][FLOOR]
        per_obs = row["latency"][apps[0]]["p50"] * 1000 / row["observations"]
        size = f"{row['observations']:>7,} {row['body_kib']:>7,.0f}"
        print(f"{size}{cells} | {f['p50']:>9.2f} {f['p95']:>7.2f} | {per_obs:>6.1f}")
    sizes = [row["observations"] for row in rows]
    slopes = ", ".join(
        f"{a:,}->{b:,}: " + " / ".join(f"{app} {growth_exponent(rows, app, a, b):.2f}" for app in apps)
        for a, b in itertools.pairwise(sizes)
    )
    print(f"growth exponent (1 = linear): {slopes}")


def _workers_table(rows: list[dict[str, Any]]) -> None:
    print("\nworkers (serve --workers N; the floor with as many; wrk, two-card chart, one round each)")
    for row in rows:
        service, floor = row["service"], row[FLOOR]
        print(
            f"  {row['workers']} worker(s): service {service['per_second']:>6,.0f} req/s "
            f"(p99 {service['p99_ms']:.0f} ms, errors {service['errors']}), "
            f"floor {floor['per_second']:>6,.0f} req/s: {service['per_second'] / floor['per_second']:.2f}"
        )


def print_report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {m['os']}")
    loads = ", ".join(f"{x:.2f}" for x in m["load_before"]), ", ".join(f"{x:.2f}" for x in m["load_after"])
    print(f"load average (1, 5, 15 min): {loads[0]} before the run, {loads[1]} after")
    apps = results["apps"]
    if results.get("before_revision"):
        print(f"before = the service at git revision {results['before_revision']}")
    _latency_table("two cards: the demo dialysis patient with an IV calcium infusion", results["card"], apps)
    _latency_table("no card", results["plain"], apps)
    load = results["throughput"]
    print(
        f"\nthroughput, {load['connections']} connections, two-card chart, {load['observations']} obs (wrk)"
    )
    for who in apps:
        t = load[who]
        print(
            f"  {who:<8} {t['per_second']:>8,.0f} req/s  p50 {t['p50_ms']:.1f} ms  p99 {t['p99_ms']:.1f} ms  "
            f"errors {t['errors']}  ({t['requests']:,} requests)"
        )
    for who, mem in results["memory"].items():
        idle, after = mem["idle"], mem["after_load"]
        print(
            f"\n{who} memory: idle {idle['rss_kib'] / 1024:.0f} MiB, after the load runs "
            f"{after['rss_kib'] / 1024:.0f} MiB (peak {after['peak_kib'] / 1024:.0f} MiB)"
        )
    for who, fallback in results["fallback"].items():
        print(f"\n{who}: FHIR fallback, {fallback['observations']} obs (ms, p50)")
        for variant, data in fallback.items():
            if isinstance(data, dict):
                queries = "  ".join(f"{k} {v:.1f}" for k, v in data["query_p50_ms"].items())
                print(f"  {variant}: queries alone: {queries}")
                print(
                    f"    slowest {data['slowest_query_ms']:.1f}, sum {data['sum_of_queries_ms']:.1f}; "
                    f"fetch phase {data['service_fetch_mean_ms']:.1f} (x{data['fetch_ratio']:.2f} the "
                    f"slowest, x{data['fetch_to_sum_ratio']:.2f} the sum); "
                    f"whole hook {data['hook']['p50']:.1f} (x{data['hook_ratio']:.2f})"
                )
    _workers_table(results["workers"])
    services = [a for a in apps if a != FLOOR]
    verdicts = {who: targets(results, who) for who in services}
    print("\ntargets (issue 16)" + "".join(f" | {who:>17}" for who in services))
    for index, (what, goal, _, _) in enumerate(verdicts[services[0]]):
        cells = "".join(
            f" | {'met   ' if verdicts[w][index][3] else 'MISSED'} {verdicts[w][index][2]:>10.2f}"
            for w in services
        )
        print(f"  {what:<62} {goal:<8}{cells}")
