"""Evaluate: a backtest of the shipped training on every road point x hour of a held-out year.

Rules: the test year defaults to the newest year the lake holds; the lag defaults to the publication
lag tomorrow's prediction faces (so the backtest sees as old data as users' predictions do); the
candidates and trials default to the training's; the oracle row uses the truth of the source the
lake was ingested from (the demo's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.core.cores import usable_cores
from pipeline.core.errors import AccidentsError
from pipeline.core.features import publication_lag_years
from pipeline.core.lake import DEP, lake_connection, table_exists
from pipeline.core.settings import Settings
from pipeline.evaluation.evaluation import Backtest, evaluate
from pipeline.evaluation.evaluation_mlflow import log_evaluation_to_mlflow
from pipeline.gold.params import EvaluateParams
from pipeline.gold.scenarios import tomorrow_in
from pipeline.sources.demo.model import load_truth
from pipeline.usecases.lake_source import ingested_source

if TYPE_CHECKING:
    from pipeline.evaluation.summary import EvaluationSummary
    from pipeline.sources.select import AccidentSource


@dataclass(frozen=True)
class EvaluatedBacktest:
    summary: EvaluationSummary
    mlflow_run_id: str | None


def truth_for(con, settings: Settings, params: EvaluateParams, source: AccidentSource | None):
    """The oracle's truth: an explicit folder, else the given source's, else the lake's own source's."""
    if params.truth:
        return load_truth(Path(params.truth))
    source = source or ingested_source(con, settings)
    return source.truth() if source is not None else None


def shipped_lag(newest_year: int, settings: Settings) -> int:
    """The publication lag of tomorrow's prediction: years between the newest data and the year
    before tomorrow's."""
    return publication_lag_years(newest_year, tomorrow_in(settings.department.timezone))


def evaluate_backtest(settings: Settings, params: EvaluateParams, *, source: AccidentSource | None = None,
                      tracking_uri: str | None = None, progress=None) -> EvaluatedBacktest:
    """Run the backtest, write gold.evaluation / gold.calibration, log to MLflow when asked."""
    figure_dir = Path(params.figures) if params.figures else settings.data_dir / "evaluation"
    with lake_connection(settings) as con:
        if not table_exists(con, "bronze.accidents"):
            raise AccidentsError("bronze.accidents is missing: run `accidents ingest` and `accidents features` first")
        newest = con.execute(f"SELECT max(year(event_time)) FROM bronze.accidents WHERE dep = {DEP}").fetchone()[0]
        if newest is None:
            raise AccidentsError("bronze.accidents holds no dated accident")
        test_year = params.test_year if params.test_year is not None else int(newest)
        lag = params.lag if params.lag is not None else shipped_lag(int(newest), settings)
        backtest = Backtest(test_year=test_year, lag=lag, candidates=params.candidates, trials=params.trials,
                            seed=settings.seed, threads=usable_cores(), atm=params.atm)
        truth = truth_for(con, settings, params, source)
        if progress:
            progress(f"backtest of {test_year}: candidates see the years up to {backtest.data_end} (lag {lag}), "
                     f"compete on {backtest.data_end}" + (", with the demo oracle" if truth is not None else ""))
        summary = evaluate(con, backtest, truth=truth, figure_dir=figure_dir, progress=progress)
    run_id = None
    if params.log_mlflow:
        run_id = log_evaluation_to_mlflow(tracking_uri or settings.resolved_mlflow_uri, summary,
                                          experiment=f"{settings.experiment}-evaluation")
    return EvaluatedBacktest(summary, run_id)
