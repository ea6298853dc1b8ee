"""Prometheus metrics of the risk API, in a registry of their own (one per app, so tests can build
several apps in one process). With several uvicorn workers each worker answers for itself: run one
worker per pod in Kubernetes and let the HorizontalPodAutoscaler add pods."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("accidents_api_requests", "HTTP requests answered",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("accidents_api_request_seconds", "Time to answer a request",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.model_version = Gauge("accidents_api_model_version", "Version number of the champion in memory",
                                   ["model"], registry=self.registry)
        self.predictions_age = Gauge("accidents_api_latest_predictions_age_seconds",
                                     "Seconds since the latest row of gold.predictions was written",
                                     registry=self.registry)
        self.predictions_latest_date = Gauge("accidents_api_latest_predicted_date_timestamp",
                                             "Latest date in gold.predictions (Unix time of its midnight)",
                                             registry=self.registry)
        self.cached_days = Gauge("accidents_api_cached_day_grids", "(date, atm) grids held in memory",
                                 registry=self.registry)

    def observe_state(self, service) -> None:
        """Gauges from the service's state (called at scrape time, so they are never stale)."""
        if service.champion.loaded:
            loaded = service.champion.current()
            self.model_version.clear()
            try:
                self.model_version.labels(loaded.name).set(float(loaded.version))
            except ValueError:
                pass
        latest_date, created_at = service.latest_prediction
        if created_at is not None:
            self.predictions_age.set(max(0.0, time.time() - created_at.timestamp()))
        if latest_date is not None:
            self.predictions_latest_date.set(time.mktime(latest_date.timetuple()))
        self.cached_days.set(service.cached_days)
