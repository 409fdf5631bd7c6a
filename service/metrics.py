"""Prometheus metrics (``GET /metrics``), one registry per app so several apps can live in one process.

Counts and latencies only - never an id or a value: requests per endpoint and status, cards per rule and
indicator, suppressions per rule, rule failures per rule, FHIR fetch latency and failures by reason, token
rejections by reason, card-history database failures, the card-history queue's depth and what it dropped,
calls refused because the jti replay cache was unreachable.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "cds_http_requests",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "cds_http_request_seconds",
            "HTTP request latency by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.cards = Counter(
            "cds_cards", "Cards sent by rule and indicator", ["rule", "indicator"], registry=r
        )
        self.suppressions = Counter(
            "cds_suppressions", "Cards held back after an override, by rule", ["rule"], registry=r
        )
        self.fhir_latency = Histogram(
            "cds_fhir_fetch_seconds",
            "Time to fetch all missing prefetch keys",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.fhir_failures = Counter(
            "cds_fhir_fetch_failures", "Prefetch keys that could not be fetched", ["reason"], registry=r
        )
        self.auth_rejections = Counter(
            "cds_auth_rejections", "Rejected tokens by reason", ["reason"], registry=r
        )
        self.rule_failures = Counter(
            "cds_rule_failures",
            "Rules that raised while advising (their cards are missing)",
            ["rule"],
            registry=r,
        )
        self.storage_failures = Counter(
            "cds_storage_failures", "Card-history database failures", ["operation"], registry=r
        )
        self.replay_cache_failures = Counter(
            "cds_replay_cache_failures",
            "Calls refused (503) because the jti replay cache was unreachable, by backend",
            ["backend"],
            registry=r,
        )
        self.history_queue = Gauge(
            "cds_history_queue_depth", "Card-history records waiting to be written", registry=r
        )
        self.history_dropped = Counter(
            "cds_history_dropped", "Card-history records not written, by reason", ["reason"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
