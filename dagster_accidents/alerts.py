"""Webhook settings for the alert sensors (critical zones after a daily prediction, failed runs).

Webhook URLs carry tokens: in the deployed code location they are `dg.EnvVar`s, never plain strings.
`ACCIDENTS_DAGSTER_UI_URL` (the UI's address as people reach it) turns a run id into a link.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from pipeline.serving.notify import AlertRule, check_format, post_json

URL_ENV = "ACCIDENTS_ALERT_WEBHOOK_URL"
FAILURE_URL_ENV = "ACCIDENTS_FAILURE_WEBHOOK_URL"
UI_URL_ENV = "ACCIDENTS_DAGSTER_UI_URL"


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go and which zones are critical. No URL: the sensors skip, nothing is sent."""

    webhook_url: str | None = Field(default=None, description="critical zones after each daily prediction")
    failure_webhook_url: str | None = Field(default=None, description="failed runs (default: webhook_url)")
    format: str = Field(default="slack", description="slack (text + blocks) or json")
    ui_url: str | None = Field(default=None, description="the Dagster UI's base URL, for links to runs")
    top_n: int = Field(default=10, description="the N riskiest point-hours, unless a threshold is set")
    threshold: float | None = Field(default=None, description="point-hours whose probability reaches this")
    retries: int = 3
    backoff_seconds: float = 0.5
    timeout_seconds: float = 5.0

    def rule(self) -> AlertRule:
        return AlertRule(top_n=self.top_n, threshold=self.threshold)

    def failure_url(self) -> str | None:
        return self.failure_webhook_url or self.webhook_url

    def post(self, url: str, payload: dict) -> bool:
        check_format(self.format)
        return post_json(url, payload, retries=self.retries, backoff=self.backoff_seconds,
                         timeout=self.timeout_seconds)


def alerts_from_env(environ) -> AlertsResource:
    """URLs as EnvVar names (resolved in the run); the rest read once here."""
    def env_var(name: str):
        return dg.EnvVar(name) if environ.get(name) else None

    threshold = environ.get("ACCIDENTS_ALERT_THRESHOLD")
    return AlertsResource(
        webhook_url=env_var(URL_ENV), failure_webhook_url=env_var(FAILURE_URL_ENV),
        format=environ.get("ACCIDENTS_ALERT_FORMAT") or "slack",
        ui_url=environ.get(UI_URL_ENV) or None,
        top_n=int(environ.get("ACCIDENTS_ALERT_TOP_N") or 10),
        threshold=float(threshold) if threshold else None,
    )
