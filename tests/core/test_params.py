"""Parameters objects: one source of defaults, ranges and help for the CLI and Dagster."""

from __future__ import annotations

import argparse
import datetime as dt

import pytest

from pipeline.core.errors import AccidentsError
from pipeline.core.params import add_arguments, from_namespace, parse_years
from pipeline.gold.params import EvaluateParams, TrainParams
from pipeline.silver.params import FeatureParams


def parse(cls, argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser, cls)
    return from_namespace(cls, parser.parse_args(argv))


def test_options_left_out_keep_the_dataclass_defaults_and_given_ones_are_typed():
    params = parse(FeatureParams, ["--grid-step", "0.01", "--samplers", "uniform", "--history-cutoff", "2024-01-01"])
    assert params.grid_step == 0.01 and params.samplers == ("uniform",)
    assert params.history_cutoff == dt.date(2024, 1, 1) and params.neg_ratio == FeatureParams().neg_ratio


def test_switches_turn_a_default_on_or_off():
    assert parse(EvaluateParams, []).log_mlflow is True
    assert parse(EvaluateParams, ["--no-log-mlflow"]).log_mlflow is False


@pytest.mark.parametrize("argv, message", [
    (["--trials", "0"], "trials=0: expected 1..10000"),
    (["--trials", "x"], "trials='x': expected a whole number"),
    (["--algorithms", "svm"], "algorithms=('svm',): expected a comma list of catboost, lightgbm, xgboost"),
    (["--protocol", "random"], "protocol='random': expected one of intensity, reference, both"),
])
def test_errors_name_the_parameter(argv, message):
    with pytest.raises(AccidentsError) as err:
        parse(TrainParams, argv)
    assert str(err.value) == message


def test_the_dagster_config_derives_from_the_same_fields():
    from dagster_accidents.config import config_class, params_from

    config_cls = config_class(TrainParams, "TrainingConfigUnderTest")
    fields = config_cls.model_fields
    assert set(fields) == {f for f in TrainParams().as_dict()}
    assert fields["trials"].default == TrainParams().trials and fields["trials"].description
    assert params_from(config_cls(trials=3, algorithms=["lightgbm"]), TrainParams) == TrainParams(
        trials=3, algorithms=("lightgbm",))
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="greater than or equal to 1"):  # refused before the run
        config_cls(trials=0)


def test_years_ranges_and_lists():
    assert parse_years("2019-2021,2023", last=2024) == (2019, 2020, 2021, 2023)
    with pytest.raises(AccidentsError, match="years: 2030 is not a published BAAC year"):
        parse_years("2030", last=2024)
