"""diff_runs on real emulator results: classification, verdict, storage and errors."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from sqlalchemy import Engine, text

from labelnoise.diffing import DiffSummary, DiffThresholds, diff_runs
from labelnoise.exceptions import DiffError, RunNotFoundError
from labelnoise.warehouse import runs
from models.diffs import CHANGES, METHODS
from tests.diff.support import StudioResults, expected_changes, flags, load

Results = dict[str, StudioResults]


def change_counts(summary: DiffSummary) -> Counter[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for method in summary.methods:
        for change in CHANGES:
            value = getattr(method, change)
            if value:
                counts[(method.method, change)] = value
    return counts


def stored_item_counts(engine: Engine, diff_id: int) -> Counter[tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT method, change, count(*) FROM labelnoise.run_diff_items "
                "WHERE diff_id = :diff_id GROUP BY method, change"
            ),
            {"diff_id": diff_id},
        )
        return Counter({(method, change): count for method, change, count in rows})


def drop_section(results: StudioResults, section: str) -> StudioResults:
    document = json.loads(results.body)
    del document["data"][section]
    return StudioResults(
        results.project_id,
        results.project_name,
        json.dumps(document).encode(),
        results.labels,
        results.samples,
    )


def test_first_run_has_no_diff(warehouse: Engine, studio_runs: Results) -> None:
    run_id = load(warehouse, studio_runs["pristine"])

    assert diff_runs(warehouse, run_id) is None


def test_relabelling_counts_match_set_algebra(warehouse: Engine, studio_runs: Results) -> None:
    base = load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])

    summary = diff_runs(warehouse, run)

    assert summary is not None
    expected = expected_changes(studio_runs["pristine"], studio_runs["relabelled"])
    assert change_counts(summary) == expected
    assert stored_item_counts(warehouse, summary.diff_id) == expected
    assert summary.base_run_id == base
    assert summary.base_is_previous is True


def test_relabelling_into_noise_is_regression(warehouse: Engine, studio_runs: Results) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])

    summary = diff_runs(warehouse, run)

    assert summary is not None
    assert summary.verdict == "regression"
    neighbors = summary.methods[0]
    assert neighbors.method == "neighbors"
    assert neighbors.outcome == "regression"
    assert summary.reasons[0].startswith(
        f"neighbors regressed: {neighbors.new} new, {neighbors.resolved} resolved"
    )


def test_fixing_labels_clears_neighbor_flags(
    warehouse: Engine, studio_runs: Results, relabelled_ids: list[int]
) -> None:
    load(warehouse, studio_runs["relabelled"])
    run = load(warehouse, studio_runs["pristine"])

    summary = diff_runs(warehouse, run)

    assert summary is not None
    neighbors = summary.methods[0]
    assert neighbors.outcome == "improvement"
    assert neighbors.relabelled
    expected = expected_changes(studio_runs["relabelled"], studio_runs["pristine"])
    assert change_counts(summary) == expected
    relabelled = sum(count for (_, change), count in expected.items() if change == "relabelled")
    assert relabelled > 0
    with warehouse.connect() as connection:
        samples = connection.execute(
            text(
                "SELECT DISTINCT sample_id FROM labelnoise.run_diff_items "
                "WHERE diff_id = :diff_id AND change = 'relabelled' ORDER BY sample_id"
            ),
            {"diff_id": summary.diff_id},
        ).scalars()
        assert set(samples) <= set(relabelled_ids)


def test_missing_sample_is_sample_removed(warehouse: Engine, studio_runs: Results) -> None:
    pristine = studio_runs["pristine"]
    flagged_sample = next(key[1] for key in flags(pristine) if key[0] == "neighbors")
    load(warehouse, pristine)
    # Studio lists neither results nor metadata of a deleted sample.
    deleted = remove_sample_flags(pristine.without_sample(flagged_sample), flagged_sample)
    run = load(warehouse, deleted)

    summary = diff_runs(warehouse, run)

    assert summary is not None
    expected_removed = sum(1 for key in flags(pristine) if key[1] == flagged_sample)
    assert sum(method.sample_removed or 0 for method in summary.methods) == expected_removed
    assert change_counts(summary) == expected_changes(pristine, deleted)


def remove_sample_flags(results: StudioResults, sample_id: int) -> StudioResults:
    document = json.loads(results.body)
    data = document["data"]
    neighbors = data["neighbors"]["scoresAndNeighbors"]
    data["neighbors"]["scoresAndNeighbors"] = [w for w in neighbors if w["id"] != sample_id]
    scores = data["crossValidation"]["scores"]
    data["crossValidation"]["scores"] = [w for w in scores if w["id"] != sample_id]
    for kind in ("similarButDifferentLabel", "differentButSameLabel"):
        issues = data["cosineSimilarity"][kind]
        data["cosineSimilarity"][kind] = [i for i in issues if i["id"] != sample_id]
    return StudioResults(
        results.project_id,
        results.project_name,
        json.dumps(document).encode(),
        results.labels,
        results.samples,
    )


def test_disabled_sample_is_sample_removed(warehouse: Engine, studio_runs: Results) -> None:
    pristine = studio_runs["pristine"]
    flagged_sample = next(key[1] for key in flags(pristine) if key[0] == "neighbors")
    load(warehouse, pristine)
    disabled = remove_sample_flags(pristine.with_disabled(flagged_sample), flagged_sample)
    run = load(warehouse, disabled)

    summary = diff_runs(warehouse, run)

    assert summary is not None
    expected_removed = sum(1 for key in flags(pristine) if key[1] == flagged_sample)
    assert sum(method.sample_removed or 0 for method in summary.methods) == expected_removed
    assert sum(method.resolved or 0 for method in summary.methods) == 0


def test_absent_section_is_not_compared(warehouse: Engine, studio_runs: Results) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, drop_section(studio_runs["relabelled"], "crossValidation"))

    summary = diff_runs(warehouse, run)

    assert summary is not None
    cross_validation = summary.methods[1]
    assert cross_validation.method == "cross_validation"
    assert cross_validation.outcome == "not_compared"
    assert (cross_validation.new, cross_validation.resolved) == (None, None)
    assert cross_validation.run_state == "absent"
    assert (
        "cross_validation not compared: the section is absent from run " + str(run)
        in summary.reasons
    )
    assert ("cross_validation", "resolved") not in stored_item_counts(warehouse, summary.diff_id)


def test_absent_window_total_leaves_rate_unknown(warehouse: Engine, studio_runs: Results) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, drop_section(studio_runs["relabelled"], "crossValidation"))

    summary = diff_runs(warehouse, run)

    assert summary is not None
    neighbors = summary.methods[0]
    assert neighbors.scored is None
    assert neighbors.flagged_rate is None
    assert neighbors.base_flagged_rate == neighbors.base_flagged / 600  # type: ignore[operator]


def test_flagged_rates_use_window_and_sample_totals(
    warehouse: Engine, studio_runs: Results
) -> None:
    pristine, relabelled = studio_runs["pristine"], studio_runs["relabelled"]
    load(warehouse, pristine)
    run = load(warehouse, relabelled)

    summary = diff_runs(warehouse, run)

    assert summary is not None
    windows = len(json.loads(relabelled.body)["data"]["crossValidation"]["scores"])
    enabled = sum(1 for sample in relabelled.samples if not sample.is_disabled)
    after = Counter(key[0] for key in flags(relabelled))
    by_method = {method.method: method for method in summary.methods}
    assert by_method["neighbors"].scored == windows
    assert by_method["neighbors"].flagged_rate == after["neighbors"] / windows
    assert by_method["cross_validation"].flagged_rate == after["cross_validation"] / windows
    cosine = by_method["cosine_similar_but_different_label"]
    assert cosine.scored == enabled
    assert cosine.flagged_rate == after["cosine_similar_but_different_label"] / enabled


def test_cv_threshold_changes_flags(warehouse: Engine, studio_runs: Results) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    thresholds = DiffThresholds(cv_zscore_threshold=-1.0)

    summary = diff_runs(warehouse, run, thresholds=thresholds)

    assert summary is not None
    expected = expected_changes(studio_runs["pristine"], studio_runs["relabelled"], -1.0)
    assert change_counts(summary) == expected
    assert summary.thresholds == thresholds


def test_tolerance_turns_regression_steady(warehouse: Engine, studio_runs: Results) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    lenient = DiffThresholds(net_new_tolerance=10_000, rate_points=100.0)

    summary = diff_runs(warehouse, run, thresholds=lenient)

    assert summary is not None
    assert summary.verdict == "steady"


def test_same_pair_replaces_stored_diff(warehouse: Engine, studio_runs: Results) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])
    first = diff_runs(warehouse, run)

    second = diff_runs(warehouse, run, thresholds=DiffThresholds(net_new_tolerance=10_000))

    assert first is not None and second is not None
    with warehouse.connect() as connection:
        diffs = connection.execute(text("SELECT diff_id FROM labelnoise.run_diffs")).scalars()
        assert list(diffs) == [second.diff_id]
        items = connection.execute(
            text("SELECT count(*) FROM labelnoise.run_diff_items WHERE diff_id = :d"),
            {"d": first.diff_id},
        ).scalar()
    assert items == 0
    assert stored_item_counts(warehouse, second.diff_id) == change_counts(second)


def test_explicit_base_is_not_previous(warehouse: Engine, studio_runs: Results) -> None:
    first = load(warehouse, studio_runs["pristine"])
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])

    summary = diff_runs(warehouse, run, base_run_id=first)

    assert summary is not None
    assert summary.base_run_id == first
    assert summary.base_is_previous is False


def test_top_new_is_worst_first_per_method(warehouse: Engine, studio_runs: Results) -> None:
    load(warehouse, studio_runs["pristine"])
    run = load(warehouse, studio_runs["relabelled"])

    summary = diff_runs(warehouse, run)

    assert summary is not None
    before, after = flags(studio_runs["pristine"]), flags(studio_runs["relabelled"])
    new_neighbors = sorted(
        (-(score or 0.0), key[1], key[2])
        for key, score in after.items()
        if key[0] == "neighbors" and key not in before
    )
    listed = [flag for flag in summary.top_new if flag.method == "neighbors"]
    assert len(listed) == min(10, len(new_neighbors))
    assert [(-(f.score or 0.0), f.sample_id, f.window_start) for f in listed] == new_neighbors[:10]
    assert [flag.method for flag in summary.top_new] == sorted(
        (flag.method for flag in summary.top_new), key=METHODS.index
    )
    samples = {sample.sample_id: sample for sample in studio_runs["relabelled"].samples}
    assert listed[0].filename == samples[listed[0].sample_id].filename


def test_unknown_run_raises(warehouse: Engine) -> None:
    with pytest.raises(RunNotFoundError) as raised:
        diff_runs(warehouse, 404)

    assert str(raised.value) == (
        "Run 404 not found in the warehouse; list the runs with `labelnoise history`"
    )


def test_run_not_loaded_raises(warehouse: Engine, studio_runs: Results) -> None:
    load(warehouse, studio_runs["pristine"])
    failed = runs.create_run(
        warehouse,
        project_id=studio_runs["pristine"].project_id,
        trigger_mode="auto",
        representation=None,
    )
    runs.mark_failed(warehouse, failed, "job failed")

    with pytest.raises(DiffError) as raised:
        diff_runs(warehouse, failed)

    assert str(raised.value) == (
        f"Run {failed} has status 'failed', but only loaded runs can be compared; "
        "load it first or pick a loaded run"
    )


def test_same_run_raises(warehouse: Engine, studio_runs: Results) -> None:
    run = load(warehouse, studio_runs["pristine"])

    with pytest.raises(DiffError) as raised:
        diff_runs(warehouse, run, base_run_id=run)

    assert str(raised.value) == f"Run {run} cannot be compared with itself; pick another base run"


def test_runs_of_other_projects_raise(warehouse: Engine, studio_runs: Results) -> None:
    pristine = studio_runs["pristine"]
    other = load(warehouse, StudioResults(99, "Other", pristine.body, pristine.labels, []))
    run = load(warehouse, pristine)

    with pytest.raises(DiffError) as raised:
        diff_runs(warehouse, run, base_run_id=other)

    assert str(raised.value) == (
        f"Run {run} belongs to project {pristine.project_id} but base run {other} belongs to "
        "project 99; pick a base run of the same project"
    )
