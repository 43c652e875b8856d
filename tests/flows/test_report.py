"""Summary lines and failure descriptions."""

from __future__ import annotations

import pytest

from labelnoise.exceptions import (
    JobFailedError,
)
from tasks.report import ProjectFailure, RunOutcome, describe_failure


def outcome(**changes: object) -> RunOutcome:
    fields: dict[str, object] = {
        "project_id": 42,
        "project_name": "Keywords",
        "run_id": 7,
        "status": "loaded",
        "job_id": 900,
        "job_resumed": False,
        "rows": 1303,
    }
    fields.update(changes)
    return RunOutcome(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        pytest.param(
            {},
            "project 42 (Keywords): run 7 loaded from job 900, 1303 rows; "
            "first loaded run, nothing to compare",
            id="first-run",
        ),
        pytest.param(
            {"verdict": "regression", "base_run_id": 6, "new_flags": 12, "cleared_flags": 3},
            "project 42 (Keywords): run 7 loaded from job 900, 1303 rows; "
            "regression against run 6: 12 new flags, 3 cleared",
            id="regression",
        ),
        pytest.param(
            {"verdict": "steady", "base_run_id": 6, "job_resumed": True},
            "project 42 (Keywords): run 7 loaded from resumed job 900, 1303 rows; "
            "steady against run 6: 0 new flags, 0 cleared",
            id="resumed-job",
        ),
        pytest.param(
            {"job_id": None, "verdict": "improvement", "base_run_id": 5, "cleared_flags": 4},
            "project 42 (Keywords): run 7 loaded from the latest results in Studio, "
            "1303 rows; improvement against run 5: 0 new flags, 4 cleared",
            id="fetch-only",
        ),
        pytest.param(
            {"status": "unchanged", "job_id": None, "rows": 0, "same_as_run_id": 6},
            "project 42 (Keywords): run 7 unchanged, same results as run 6",
            id="unchanged",
        ),
        pytest.param(
            {"project_name": None},
            "project 42: run 7 loaded from job 900, 1303 rows; "
            "first loaded run, nothing to compare",
            id="no-name",
        ),
    ],
)
def test_summary_line(changes: dict[str, object], line: str) -> None:
    assert outcome(**changes).summary_line() == line


def test_failure_summary_line() -> None:
    failure = ProjectFailure(project_label="project 3 (Wrong key)", error="Boom: no")

    assert failure.summary_line() == "project 3 (Wrong key): failed: Boom: no"


def test_describe_failure_quotes_job_log_tail() -> None:
    lines = [f"line {number}" for number in range(1, 9)]
    error = JobFailedError("The job failed", log_tail=lines, project_id=3, job_id=9)

    assert describe_failure(error) == (
        "JobFailedError: The job failed (project 3, job 9); last job log lines: "
        "line 4 | line 5 | line 6 | line 7 | line 8"
    )


def test_describe_failure_plain_error() -> None:
    assert describe_failure(ValueError("bad value")) == "ValueError: bad value"
