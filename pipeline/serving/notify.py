"""Webhooks: the critical zones of a predicted day, and failed pipeline runs.

- Critical zones are point-hours of gold.predictions: those whose probability reaches `threshold`
  when one is set (at most `max_zones`, riskiest first), else the `top_n` riskiest point-hours. Each
  carries its expected accidents and, when its road point is one of the day's top points
  (gold.prediction_totals), that point's 90 % interval for the day and the reasons that raise it; the
  message carries the day's expected total with its interval.
- Messages are Slack-compatible (`text` + `blocks`) by default, or plain JSON (`format="json"`) for
  sign controllers and other machines. Zones of a lake built from the synthetic demo say so
  (`"synthetic": true`, and a notice in the title).
- A failed run's message names, for each failed step, its one-line cause (what Dagster recorded: the
  innermost exception, or the failed checks' descriptions), the partition, and a link to the run.
- Delivery never fails its caller: a receiver that is down or answers 5xx/429 is retried with a
  growing pause, then the failure is logged and `post_json` returns False. Webhook URLs are secrets
  (Slack's carry a token): only their host is ever logged.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pipeline.core.errors import AccidentsError
from pipeline.core.lake import DEP, table_exists
from pipeline.gold.predictions import read_predictions
from pipeline.gold.scenarios import SCENARIO_LABELS
from pipeline.sources.provenance import SYNTHETIC_NOTICE

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger("accidents.notify")
FORMATS = ("slack", "json")


@dataclass(frozen=True)
class AlertRule:
    top_n: int = 10
    threshold: float | None = None  # a probability per point-hour; when set, replaces top_n
    max_zones: int = 50  # a threshold never floods the channel

    def __post_init__(self) -> None:
        if not 1 <= self.top_n <= 1000:
            raise AccidentsError(f"alert top_n {self.top_n}: expected 1..1000")
        if self.threshold is not None and not 0.0 < self.threshold <= 1.0:
            raise AccidentsError(f"alert threshold {self.threshold}: expected a probability in (0, 1]")


def day_totals(con: duckdb.DuckDBPyConnection, day: dt.date, atm: int) -> tuple[dict | None, dict[int, dict]]:
    """(the day's expected total with its interval, {point_id: the top point's interval and reasons})
    from gold.prediction_totals; (None, {}) for predictions made before it existed."""
    if not table_exists(con, "gold.prediction_totals"):
        return None, {}
    rows = con.execute("SELECT scope, key, expected, low, high, count_low, count_high, reasons FROM "
                       f"gold.prediction_totals WHERE date = ? AND atm = ? AND dep = {DEP} AND scope IN ('day', "
                       "'hotspot')", [day, atm]).fetchall()
    total, points = None, {}
    for scope, key, expected, low, high, count_low, count_high, reasons in rows:
        interval = {"expected": round(expected, 4), "low": round(low, 4), "high": round(high, 4),
                    "count_low": count_low, "count_high": count_high}
        if scope == "day":
            total = interval
        else:
            points[int(key)] = {"day_interval": interval, "reasons": json.loads(reasons or "[]")}
    return total, points


def critical_zones(con: duckdb.DuckDBPyConnection, day: dt.date, atm: int, rule: AlertRule, *,
                   hotspots: dict[int, dict] | None = None) -> list[dict[str, Any]]:
    """The day's critical point-hours (see module docstring), riskiest first; `hotspots`: the second
    half of `day_totals` when the caller has read it already."""
    df = read_predictions(con, day, atm).sort_values(["probability", "hour", "point_id"],
                                                     ascending=[False, True, True])  # ties: earliest first
    if rule.threshold is not None:
        df = df[df["probability"] >= rule.threshold].head(rule.max_zones)
    else:
        df = df.head(rule.top_n)
    if hotspots is None:
        _, hotspots = day_totals(con, day, atm)
    return [
        {"point_id": int(r.point_id), "lat": round(float(r.lat), 6), "lon": round(float(r.lon), 6),
         "hour": int(r.hour), "expected_accidents": float(getattr(r, "expected_accidents", r.probability)),
         "probability": float(r.probability), "risk_index": float(r.risk_index),
         "com": None if r.com is None or r.com != r.com else str(r.com),
         "road_type": None if r.road_type is None or r.road_type != r.road_type else str(r.road_type),
         **hotspots.get(int(r.point_id), {})}
        for r in df.itertuples(index=False)
    ]


def zones_message(day: dt.date, atm: int, zones: list[dict], rule: AlertRule, *, model: str, fmt: str = "slack",
                  synthetic: bool = False, day_total: dict | None = None) -> dict:
    check_format(fmt)
    selection = (f"probability ≥ {rule.threshold:g}" if rule.threshold is not None else f"top {rule.top_n}")
    if fmt == "json":
        return {"event": "critical_zones", "date": day.isoformat(), "atm": atm, "selection": selection,
                "model": model, "synthetic": synthetic, "day_expected_accidents": day_total, "zones": zones}
    title = f"Road-accident risk {day.isoformat()} ({SCENARIO_LABELS[atm]}): {len(zones)} critical zone(s), {selection}"
    if synthetic:
        title = f"[{SYNTHETIC_NOTICE}] {title}"
    if day_total:
        title += (f"; {day_total['expected']:.2f} accidents expected [{day_total['low']:.2f}-{day_total['high']:.2f}, "
                  f"90 %]")
    lines = [f"• {z['hour']:02d}:00 point {z['point_id']} ({z['lat']:.4f}, {z['lon']:.4f}) "
             f"{z['road_type'] or 'road'} {z['com'] or ''}: p={z['probability']:.4f}, index {z['risk_index']:.1f}"
             + (" · " + "; ".join(f"{r['detail']} x{r['ratio']}" for r in z["reasons"][:3]) if z.get("reasons") else "")
             for z in zones[:20]]
    if len(zones) > 20:
        lines.append(f"… and {len(zones) - 20} more")
    body = "\n".join(lines) or "No point-hour reaches the alert rule."
    return {"text": title, "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"model {model}"}]},
    ]}


@dataclass(frozen=True)
class StepFailure:
    step: str  # the step key, e.g. gold__predictions
    cause: str  # one line


def failed_run_message(job: str, run_id: str, error: str, *, partition: str | None = None,
                       failures: Sequence[StepFailure] = (), url: str | None = None, fmt: str = "slack") -> dict:
    """`error` is Dagster's run-level message; `failures` the failed steps with their causes (the
    first one is the headline); `url` the run's page in the Dagster UI."""
    check_format(fmt)
    error = (error or "no error message").strip()[:1000]
    first = failures[0] if failures else None
    cause = first.cause if first else error.splitlines()[0]
    if fmt == "json":
        return {"event": "run_failed", "job": job, "run_id": run_id, "partition": partition,
                "step": first.step if first else None, "cause": cause, "url": url,
                "failures": [{"step": f.step, "cause": f.cause} for f in failures], "error": error}
    where = f" (partition {partition})" if partition else ""
    title = f"Dagster run failed: {job}{where}"
    steps = "\n".join(f"• step `{f.step}`: {f.cause}" for f in failures) or f"• {cause}"
    link = f"<{url}|run {run_id}>" if url else f"run `{run_id}`"
    return {"text": f"{title} — {first.step + ': ' if first else ''}{cause} — run {run_id}"
                    + (f" {url}" if url else ""), "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": steps[:2900]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": link}]},
    ]}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise AccidentsError(f"webhook format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return fmt


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def post_json(url: str, payload: dict, *, retries: int = 3, backoff: float = 0.5, timeout: float = 5.0) -> bool:
    """POST `payload` as JSON; True once a 2xx arrives. Never raises for delivery problems."""
    host = urlsplit(url).netloc or "?"
    data = json.dumps(payload).encode("utf-8")
    delay = backoff
    for attempt in range(1, retries + 2):
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
                if 200 <= response.status < 300:
                    return True
                problem = f"HTTP {response.status}"
                retry = _retryable(response.status)
        except urllib.error.HTTPError as exc:
            problem, retry = f"HTTP {exc.code}", _retryable(exc.code)
        except (urllib.error.URLError, OSError) as exc:
            problem, retry = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}", True
        if not retry or attempt > retries:
            log.warning("webhook to %s not delivered after %d attempt(s): %s", host, attempt, problem)
            return False
        log.info("webhook to %s: %s, retrying in %.1fs", host, problem, delay)
        time.sleep(delay)
        delay *= 2
    return False
