"""What went wrong in a run, from its event log, in one line per failed step: the alert sensors'
reading of what Dagster already holds.

- A step that raised: the innermost exception of the step failure (the user's error, not Dagster's
  "Error occurred while executing op" wrapper), as `ExceptionType: first line of its message`.
- A step failed by blocking asset checks: each failed check's name, partition and description.
- A run that failed before any step did (launch or run-worker failure): Dagster's run message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

from pipeline.serving.notify import StepFailure

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

MAX_CAUSE = 300
# Dagster's wrappers around a user's exception: their message says where, the cause says what.
WRAPPERS = {"DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError"}


def one_line(text: str) -> str:
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return line if len(line) <= MAX_CAUSE else line[:MAX_CAUSE - 1] + "…"


def innermost_cause(error: SerializableErrorInfo) -> str:
    """`Type: message` of the user's exception under Dagster's wrappers (an exception the user's code
    raised from another keeps its own message: that is the one written for people)."""
    while error.cls_name in WRAPPERS and error.cause is not None:
        error = error.cause
    kind, sep, message = one_line(error.message).partition(": ")
    if sep and error.cls_name and kind.endswith("." + error.cls_name):
        kind = error.cls_name  # pipeline.core.errors.AccidentsError -> AccidentsError
    return one_line(f"{kind}{sep}{message}")


def failed_checks(instance: dg.DagsterInstance, run_id: str) -> dict[str, list[str]]:
    """Step key -> one line per failed asset check evaluated in that step."""
    out: dict[str, list[str]] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        if evaluation.passed:
            continue
        where = f" [{evaluation.partition}]" if evaluation.partition else ""
        text = f"check {evaluation.check_name}{where} failed"
        if evaluation.description:
            text += f": {evaluation.description}"
        out.setdefault(entry.step_key or "", []).append(one_line(text))
    return out


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list[StepFailure]:
    """Every failed step of the run with its cause, in the order they failed."""
    checks = failed_checks(instance, run_id)
    found = []
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        step = entry.step_key or "?"
        data = entry.dagster_event.step_failure_data
        if checks.get(step):
            cause = "; ".join(checks[step])
        elif data.user_failure_data is not None and data.user_failure_data.description:
            cause = one_line(data.user_failure_data.description)
        elif data.error is not None:
            cause = innermost_cause(data.error)
        else:
            cause = "failed without an error message"
        found.append(StepFailure(step, cause))
    return found


def run_url(base_url: str | None, run_id: str) -> str | None:
    """The run's page in the Dagster UI (`<base>/runs/<run id>`), when the UI's address is known."""
    return f"{base_url.rstrip('/')}/runs/{run_id}" if base_url else None
