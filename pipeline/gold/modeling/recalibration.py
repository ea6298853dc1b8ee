"""Recalibration on the validation year: one odds scale so that expected accidents = observed.

Prior correction (odds / negative weight) is exact only if the booster's case-control scores are
themselves calibrated; boosting with early stopping and tuned regularisation rarely are, so the
implied yearly count can be off by 10-40 %. The fix is the simplest one that keeps the ranking: a
multiplicative odds scale `s` (an intercept shift on the log-odds scale), chosen so that on the
validation year (out of sample for the temporal protocol's final model)

    sum over the year's negatives of  sampling_weight x p_s(negative)  =  the year's accidents,

the left side being the Horvitz-Thompson estimate of the year's expected count over every road-point
hour (uniform negatives are a simple random sample of them; each stands for `sampling_weight`). The
negatives carry their own hour's weather, so the scale is fitted under the weather they really had,
not under a fixed scenario.
"""

from __future__ import annotations

import numpy as np

from pipeline.core.errors import AccidentsError

METHOD = "odds_scale"


def scaled_probability(prob: np.ndarray, odds_scale: float) -> np.ndarray:
    odds = prob / (1.0 - prob) * odds_scale
    return odds / (1.0 + odds)


def fit_odds_scale(prob: np.ndarray, weights: np.ndarray, observed: float, *, iterations: int = 60) -> float:
    """The odds scale s with sum(weights * p_s) = observed (Newton on log s; the sum is increasing in s)."""
    p = np.clip(np.asarray(prob, dtype=float), 1e-15, 1 - 1e-12)
    w = np.asarray(weights, dtype=float)
    if p.shape != w.shape or p.size == 0:
        raise AccidentsError("recalibration: needs one weight per probability and at least one negative")
    if not observed > 0:
        raise AccidentsError("recalibration: the validation year has no accidents")
    log_s = 0.0
    for _ in range(iterations):
        q = scaled_probability(p, np.exp(log_s))
        expected = float(np.dot(w, q))
        derivative = float(np.dot(w, q * (1.0 - q)))  # d expected / d log s
        step = (np.log(observed) - np.log(expected)) * expected / derivative
        log_s += float(np.clip(step, -5.0, 5.0))
        if abs(step) < 1e-12:
            break
    return float(np.exp(log_s))


def recalibration_from_rows(prob_negatives, weights, n_positives: int, year: int | list[int]) -> dict:
    """The bundle's `recalibration` entry from the validation rows' population probabilities."""
    prob_negatives = np.asarray(prob_negatives, dtype=float)
    weights = np.asarray(weights, dtype=float)
    scale = fit_odds_scale(prob_negatives, weights, float(n_positives))
    return {
        "method": METHOD, "odds_scale": scale, "year": year, "observed": int(n_positives),
        "expected_before": float(np.dot(weights, prob_negatives)),
        "expected_after": float(np.dot(weights, scaled_probability(np.clip(prob_negatives, 1e-15, 1 - 1e-12), scale))),
    }


def recalibrate(model, valid_frame) -> dict:
    """Fit the odds scale of `model` (a RiskModel) on validation rows (target, sampling_weight, year)
    and store it in `model.recalibration`; returns the entry."""
    negatives = valid_frame[valid_frame["target"] == 0]
    n_positives = int((valid_frame["target"] == 1).sum())
    if negatives.empty:
        raise AccidentsError("recalibration: the validation rows have no negatives")
    model.recalibration = {}
    prob = model.predict_probability(negatives)
    years = sorted(int(y) for y in valid_frame["year"].unique())
    entry = recalibration_from_rows(prob, negatives["sampling_weight"].to_numpy(dtype=float), n_positives,
                                    years[0] if len(years) == 1 else years)
    model.recalibration = entry
    return entry
