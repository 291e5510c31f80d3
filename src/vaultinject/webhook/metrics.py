"""The webhook's Prometheus metrics, on a registry of its own (so tests and embedders do not collide)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# From a quarter of a millisecond: a review takes well under a millisecond, and the API server's timeout
# (10 s by default, at most 30 s) is the far end.
LATENCY_BUCKETS = (
    0.00025,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class Metrics:
    """Counters and histograms for reviews, injections, rejections and the serving certificate."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        prefix = "vaultinject_webhook_"
        self.reviews = Counter(
            prefix + "reviews", "AdmissionReviews answered, by result", ["result"], registry=self.registry
        )
        self.latency = Histogram(
            prefix + "review_duration_seconds",
            "Time from receiving a review to having its answer",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.injections = Counter(
            prefix + "injections", "Pods injected, by namespace and mode", ["namespace", "mode"],
            registry=self.registry,
        )  # fmt: skip
        self.rejections = Counter(
            prefix + "rejections", "Pods rejected, by the annotation at fault", ["annotation"],
            registry=self.registry,
        )  # fmt: skip
        self._reviews: dict[str, Any] = {}  # a label's child, looked up once
        self.certificate_expiry = Gauge(
            prefix + "certificate_expiry_seconds",
            "Seconds until the serving certificate expires",
            registry=self.registry,
        )

    def decided(
        self, result: str, namespace: str, mode: str, rejected: tuple[str, ...], seconds: float
    ) -> None:
        """Count and time one decision."""
        self.latency.observe(seconds)
        reviews = self._reviews.get(result)
        if reviews is None:
            reviews = self._reviews[result] = self.reviews.labels(result)
        reviews.inc()
        if result == "injected":
            self.injections.labels(namespace, mode).inc()
        for annotation in rejected:
            self.rejections.labels(annotation).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
