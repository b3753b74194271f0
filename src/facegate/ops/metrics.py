"""Prometheus metrics of one tier (API or worker), in a registry of its own.

A registry per app (not the client library's global one) keeps several apps in one process
apart, as the tests and the single-process mode need. Names follow Prometheus conventions:
``_total`` counters, ``_seconds`` histograms.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

Tier = Literal["api", "worker"]

# From a 2 ms decrypt to a 10 s worst-case video.
_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.4, 0.6, 1.0, 2.5, 5.0, 10.0
)  # fmt: skip
# Scores live in [0, 1]; tenths show a drift in their distribution at a glance.
_SCORE_BUCKETS = tuple(i / 10 for i in range(1, 11))

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self, tier: Tier) -> None:
        self.tier = tier
        r = self.registry = CollectorRegistry()
        # Resident memory, CPU and open files, for the soak test and for alerts.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.requests = Counter(
            "facegate_requests",
            "Requests answered, by endpoint and response code (SenseID code, or HTTP status)",
            ["endpoint", "code"],
            registry=r,
        )
        self.latency = Histogram(
            "facegate_request_duration_seconds",
            "Time from request start to response, by endpoint",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "facegate_stage_duration_seconds",
            "Time spent in each stage of the request path (decrypt, decode, detect, embed, "
            "quality, liveness; worker = the API tier's round trip to a worker)",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "facegate_requests_in_flight", "Requests being handled now", registry=r
        )
        self.verification_score = Histogram(
            "facegate_verification_score",
            "Calibrated verification scores returned, by engine call (watch for drift)",
            ["call"],
            buckets=_SCORE_BUCKETS,
            registry=r,
        )
        self.liveness_score = Histogram(
            "facegate_liveness_score",
            "Liveness scores of videos and packages, by engine call",
            ["call"],
            buckets=_SCORE_BUCKETS,
            registry=r,
        )
        self.liveness_checks = Counter(
            "facegate_liveness_checks",
            "Liveness decisions, by engine call and outcome",
            ["call", "passed"],
            registry=r,
        )
        self.liveness_refusals = Counter(
            "facegate_liveness_refusals",
            "Faces refused as attacks, by engine call and the check that refused them (the "
            "fusion's print or replay expert; for packages also action or identity)",
            ["call", "refused_by"],
            registry=r,
        )
        # The worker's, and the API's when it runs inference in-process.
        self.queue_depth = Gauge(
            "facegate_queue_depth", "Requests waiting for a free handler", registry=r
        )
        if tier == "api":
            self.worker_requests = Counter(
                "facegate_worker_requests",
                "Calls from the API tier to workers, by worker and outcome",
                ["worker", "outcome"],
                registry=r,
            )
            self.worker_retries = Counter(
                "facegate_worker_retries",
                "Calls retried on another worker, by the first worker's failure",
                ["reason"],
                registry=r,
            )
            self.worker_unavailable = Counter(
                "facegate_worker_unavailable",
                "Requests answered 503 because no worker could take them",
                registry=r,
            )
            self.worker_up = Gauge(
                "facegate_worker_up", "1 if the worker passed its last health check", ["worker"],
                registry=r,
            )  # fmt: skip
            self.worker_in_flight = Gauge(
                "facegate_worker_in_flight", "Calls in flight to each worker", ["worker"],
                registry=r,
            )  # fmt: skip

    def observe_stages(self, entries: list[tuple[str, float]]) -> None:
        for name, seconds in entries:
            self.stage.labels(name).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
