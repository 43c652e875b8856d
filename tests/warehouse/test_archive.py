"""Payload archive: compression, deduplication and repeated payloads."""

from __future__ import annotations

import gzip
import hashlib

import pytest
from sqlalchemy import Engine, text

from labelnoise.exceptions import LoadError, RunNotFoundError
from labelnoise.warehouse import archive, loader, runs
from tests.warehouse import payloads

PROJECT_ID = 5151
OTHER_PROJECT_ID = 5252
BODY_A = payloads.body()
BODY_B = payloads.body({})


def _run(engine: Engine, project_id: int = PROJECT_ID) -> int:
    runs.upsert_project(engine, project_id=project_id, name="Vibration", owner=None)
    return runs.create_run(engine, project_id=project_id, trigger_mode="never", representation=None)


def _loaded_run(engine: Engine, body: bytes, project_id: int = PROJECT_ID) -> int:
    run_id = _run(engine, project_id)
    archive.archive_payload(engine, run_id, body)
    loader.load_run(engine, run_id, body=body, labels=payloads.LABELS, samples=[])
    return run_id


def test_archive_stores_compressed_body(warehouse: Engine) -> None:
    run_id = _run(warehouse)

    archived = archive.archive_payload(warehouse, run_id, BODY_A)

    assert archived.sha256 == hashlib.sha256(BODY_A).hexdigest()
    assert archived.size_bytes == len(BODY_A)
    assert archived.same_as_run_id is None
    with warehouse.connect() as connection:
        row = connection.execute(
            text("SELECT compression, body, size_bytes, sha256 FROM labelnoise.raw_payloads")
        ).one()
    assert row.compression == "gzip"
    assert gzip.decompress(row.body) == BODY_A
    assert (row.size_bytes, row.sha256) == (len(BODY_A), archived.sha256)


def test_archive_sets_run_payload_and_fetch_time(warehouse: Engine) -> None:
    run_id = _run(warehouse)

    archived = archive.archive_payload(warehouse, run_id, BODY_A)

    run = runs.get_run(warehouse, run_id)
    assert run.payload_id == archived.payload_id
    assert run.fetched_at is not None


def test_archive_stores_same_body_once(warehouse: Engine) -> None:
    first = archive.archive_payload(warehouse, _run(warehouse), BODY_A)
    second = archive.archive_payload(warehouse, _run(warehouse, OTHER_PROJECT_ID), BODY_A)

    assert second.payload_id == first.payload_id
    with warehouse.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM labelnoise.raw_payloads")).scalar()
    assert count == 1


def test_archive_finds_previous_identical_run(warehouse: Engine) -> None:
    loaded = _loaded_run(warehouse, BODY_A)

    archived = archive.archive_payload(warehouse, _run(warehouse), BODY_A)

    assert archived.same_as_run_id == loaded


def test_archive_follows_unchanged_run_to_loaded(warehouse: Engine) -> None:
    loaded = _loaded_run(warehouse, BODY_A)
    unchanged = _run(warehouse)
    archive.archive_payload(warehouse, unchanged, BODY_A)
    runs.mark_unchanged(warehouse, unchanged, same_as_run_id=loaded)

    archived = archive.archive_payload(warehouse, _run(warehouse), BODY_A)

    assert archived.same_as_run_id == loaded


def test_archive_compares_only_latest_run(warehouse: Engine) -> None:
    _loaded_run(warehouse, BODY_A)
    _loaded_run(warehouse, BODY_B)

    archived = archive.archive_payload(warehouse, _run(warehouse), BODY_A)

    assert archived.same_as_run_id is None


def test_archive_ignores_other_projects(warehouse: Engine) -> None:
    _loaded_run(warehouse, BODY_A, OTHER_PROJECT_ID)

    archived = archive.archive_payload(warehouse, _run(warehouse), BODY_A)

    assert archived.same_as_run_id is None


def test_archive_ignores_failed_runs(warehouse: Engine) -> None:
    failed = _run(warehouse)
    archive.archive_payload(warehouse, failed, BODY_A)
    runs.mark_failed(warehouse, failed, "Job failed")

    archived = archive.archive_payload(warehouse, _run(warehouse), BODY_A)

    assert archived.same_as_run_id is None


def test_archive_of_missing_run_stores_nothing(warehouse: Engine) -> None:
    with pytest.raises(RunNotFoundError) as caught:
        archive.archive_payload(warehouse, 31337, BODY_A)

    assert str(caught.value) == "Cannot archive a payload for run 31337: no run has that id."
    with warehouse.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM labelnoise.raw_payloads")).scalar()
    assert count == 0


def test_reload_rejects_corrupt_archive(warehouse: Engine) -> None:
    run_id = _loaded_run(warehouse, BODY_A)
    with warehouse.begin() as connection:
        connection.execute(
            text("UPDATE labelnoise.raw_payloads SET body = :body"),
            {"body": gzip.compress(BODY_B)},
        )

    with pytest.raises(LoadError) as caught:
        loader.reload_run(warehouse, run_id)

    sha256 = hashlib.sha256(BODY_A).hexdigest()
    assert isinstance(caught.value.__cause__, LoadError)
    assert str(caught.value.__cause__) == (
        f"The archived payload of run {run_id} does not match its SHA-256 {sha256}; "
        "the stored body is corrupt, so start a new run to fetch the results again."
    )
    assert runs.get_run(warehouse, run_id).status == "failed"


def test_decompress_rejects_unknown_compression() -> None:
    with pytest.raises(LoadError) as caught:
        archive.decompress(b"", "brotli")

    assert str(caught.value) == (
        "Archived payload uses compression 'brotli'; this version reads only 'gzip'. "
        "Upgrade labelnoise to read it."
    )


def test_decompress_rejects_truncated_gzip() -> None:
    truncated = gzip.compress(BODY_A)[:20]

    with pytest.raises(LoadError) as caught:
        archive.decompress(truncated, "gzip")

    assert str(caught.value).startswith("Archived payload is not valid gzip data: ")
