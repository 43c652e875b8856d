"""The Studio client against the emulator over real HTTP on loopback.

Faults are injected through the emulator's state. Retries and polls sleep
on a `FakeClock`, so no test waits for a backoff. Where a test needs a job
to change state between two polls, the fake sleep waits for the emulator's
job thread in real time, which takes about a second on 2 cores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from emulator.server import EmulatorServer
from emulator.state import RefuseTrigger
from labelnoise.exceptions import (
    InvalidPayloadError,
    JobFailedError,
    JobTimeoutError,
    StudioApiError,
    StudioAuthenticationError,
    StudioNotFoundError,
    StudioServerError,
    StudioTransportError,
)
from models.label_noise import EmbeddedSample, decode_label_noise
from models.studio import Sample
from studio.client import StudioClient
from studio.retry import no_jitter
from tests.studio.helpers import FakeClock, make_settings

OpenClient = Callable[..., StudioClient]


class CountingTransport(httpx.HTTPTransport):
    """The real HTTP transport, recording each request's path and response status.

    Counting on the client side sees exactly what the client sent and
    received. A request that got no response (a timeout) has status `None`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, int | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1")
        self.requests.append((path, None))
        response = super().handle_request(request)
        self.requests[-1] = (path, response.status_code)
        return response

    def count(self, path: str, status: int | None = None) -> int:
        return sum(
            1 for seen, code in self.requests if seen == path and (status is None or code == status)
        )


@pytest.fixture
def transport() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def open_studio(
    emulator: EmulatorServer, clock: FakeClock, transport: CountingTransport
) -> Iterator[OpenClient]:
    """Open clients on the emulator's project with the fake clock; closed after the test."""
    opened: list[Any] = []

    def open_(*, api_key: str | None = None, **overrides: Any) -> StudioClient:
        context = StudioClient.open(
            SecretStr(api_key or emulator.api_key),
            project_id=overrides.pop("project_id", emulator.project_id),
            base_url=emulator.base_url,
            settings=overrides.pop("settings", None) or make_settings(),
            sleep=overrides.pop("sleep", clock.sleep),
            clock=clock.monotonic,
            jitter=no_jitter,
            transport=transport,
        )
        opened.append(context)
        return context.__enter__()

    yield open_
    for context in reversed(opened):
        context.__exit__(None, None, None)


def wait_until_finished(emulator: EmulatorServer, job_id: int) -> None:
    emulator.state.wait_for_job(job_id, timeout=60.0)


def api(emulator: EmulatorServer, rest: str = "") -> str:
    """Return the path of a project endpoint, without the `/v1` prefix."""
    return f"/api/{emulator.project_id}{rest}"


def test_open_resolves_project_from_key(
    open_studio: OpenClient, emulator: EmulatorServer, transport: CountingTransport
) -> None:
    client = open_studio(project_id=None)

    assert client.project_id == emulator.project_id
    assert transport.count("/api/projects/api-key-info") == 1


def test_wrong_key_is_authentication_error(
    open_studio: OpenClient, emulator: EmulatorServer, transport: CountingTransport
) -> None:
    with pytest.raises(StudioAuthenticationError) as caught:
        open_studio(api_key="ei_" + "0" * 64).get_project()

    assert caught.value.status_code == 401
    assert caught.value.reason.startswith(
        "Studio rejected the API key for the project info request: Invalid API key"
    )
    assert transport.count(api(emulator)) == 1


def test_unknown_job_is_not_found_without_retry(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    with pytest.raises(StudioNotFoundError) as caught:
        open_studio().get_job(999)

    assert caught.value.reason == (
        "Studio found nothing for the job status request: Job 999 not found in project 1. "
        "Check the project id and the job or sample id."
    )
    assert caught.value.job_id == 999
    assert transport.count(api(emulator, "/jobs/999/status")) == 1
    assert clock.sleeps == []


def test_trigger_wait_and_fetch(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    # Hold the job so that it is queued at the first poll, then let it run
    # while the client sleeps before its second poll.
    job_ids: list[int] = []

    def release_job(seconds: float) -> None:
        clock.sleep(seconds)
        emulator.state.resume_jobs()
        wait_until_finished(emulator, job_ids[0])

    client = open_studio(sleep=release_job)
    assert client.has_label_noise_data() is False
    emulator.state.pause_jobs()
    job_ids.append(client.start_data_quality_job("current-impulse"))
    job_id = job_ids[0]
    assert client.get_job(job_id).state == "queued"

    job = client.wait_for_job(job_id)

    assert job.succeeded is True
    assert clock.sleeps == [2.0]
    # One status read by `get_job`, then two polls: queued, then succeeded.
    assert transport.count(api(emulator, f"/jobs/{job_id}/status")) == 3
    assert client.has_label_noise_data() is True

    data = decode_label_noise(client.fetch_label_noise_body(), project_id=client.project_id)
    assert data.neighbors is not None
    assert data.cross_validation is not None
    assert len(data.cross_validation.scores) > 0


def test_get_project_and_samples(
    open_studio: OpenClient, emulator: EmulatorServer, transport: CountingTransport
) -> None:
    client = open_studio()
    project_state = emulator.state.project(emulator.project_id)

    project = client.get_project()
    samples = list(client.iter_samples(page_size=7))

    assert project.id == emulator.project_id
    assert project.labels == project_state.training_labels()
    assert project.labels_truncated is False
    assert sorted(s.id for s in samples) == sorted(s.id for s in project_state.samples)
    assert transport.count(api(emulator, "/raw-data")) == -(-len(samples) // 7)
    assert client.get_sample(samples[0].id) == samples[0]


def test_training_samples_only(open_studio: OpenClient, emulator: EmulatorServer) -> None:
    project_state = emulator.state.project(emulator.project_id)
    expected = sorted(s.id for s in project_state.samples if s.category == "training")

    samples = list(open_studio().iter_samples(category="training", page_size=500))

    assert sorted(s.id for s in samples) == expected
    assert {s.category for s in samples} == {"training"}


def test_rate_limit_fault_is_retried(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    emulator.state.add_fault("rate-limit", endpoint="getProjectInfo", count=2, retry_after=3)

    project = open_studio().get_project()

    assert project.id == emulator.project_id
    assert clock.sleeps == [3.0, 3.0]
    assert transport.count(api(emulator), status=429) == 2
    assert transport.count(api(emulator), status=200) == 1


def test_503_fault_is_retried(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    emulator.state.add_fault(
        "server-error", endpoint="hasLabelNoiseData", status=503, count=1, retry_after=2
    )

    assert open_studio().has_label_noise_data() is False

    assert clock.sleeps == [2.0]
    assert transport.count(api(emulator, "/raw-data/data-quality/label-noise/exists")) == 2


def test_500_fault_is_not_retried(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    emulator.state.add_fault("server-error", endpoint="hasLabelNoiseData", status=500)

    with pytest.raises(StudioServerError) as caught:
        open_studio().has_label_noise_data()

    assert caught.value.status_code == 500
    assert transport.count(api(emulator, "/raw-data/data-quality/label-noise/exists")) == 1
    assert clock.sleeps == []


def test_trigger_503_fault_is_raised_once(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    emulator.state.add_fault("server-error", endpoint="calculateDataQualityMetrics", status=503)

    with pytest.raises(StudioServerError) as caught:
        open_studio().start_data_quality_job()

    assert "so it was not retried, to avoid starting a second one" in caught.value.reason
    assert transport.count(api(emulator, "/jobs/data-quality-metrics")) == 1
    assert clock.sleeps == []


def test_trigger_rate_limit_fault_starts_one_job(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    emulator.state.add_fault("rate-limit", endpoint="calculateDataQualityMetrics", count=1)

    job_id = open_studio().start_data_quality_job()

    assert [job.id for job in emulator.state.jobs(emulator.project_id)] == [job_id]
    assert transport.count(api(emulator, "/jobs/data-quality-metrics")) == 2
    assert clock.sleeps == [1.0]


def test_trigger_timeout_after_send_is_not_retried(
    open_studio: OpenClient, emulator: EmulatorServer, transport: CountingTransport
) -> None:
    emulator.state.add_fault(
        "latency", endpoint="calculateDataQualityMetrics", count=1, latency_seconds=1.0
    )
    client = open_studio(settings=make_settings(read_timeout=0.2))

    with pytest.raises(StudioTransportError) as caught:
        client.start_data_quality_job()

    assert caught.value.reason.startswith(
        "The data-quality job start request failed with ReadTimeout"
    )
    assert transport.requests == [(api(emulator, "/jobs/data-quality-metrics"), None)]
    # The server started the job although the client never saw its id, which
    # is why the trigger is not retried: a retry would start a second job.
    assert len(emulator.state.jobs(emulator.project_id)) == 1


def test_read_timeout_on_get_is_retried(
    open_studio: OpenClient, emulator: EmulatorServer, clock: FakeClock
) -> None:
    emulator.state.add_fault("latency", endpoint="getProjectInfo", count=1, latency_seconds=1.0)
    client = open_studio(settings=make_settings(read_timeout=0.2))

    assert client.get_project().id == emulator.project_id

    assert clock.sleeps == [1.0]


def test_success_false_fault_is_api_error(
    open_studio: OpenClient, emulator: EmulatorServer
) -> None:
    emulator.state.add_fault(
        "success-false", endpoint="getProjectInfo", message="Project is being migrated"
    )

    with pytest.raises(StudioApiError) as caught:
        open_studio().get_project()

    assert caught.value.reason == (
        "Studio reported a failure for the project info request: Project is being migrated"
    )
    assert caught.value.status_code == 200


def test_dropped_connection_is_retried(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    emulator.state.add_fault(
        "truncate", endpoint="getProjectInfo", count=1, truncate_mode="connection-close"
    )

    assert open_studio().get_project().id == emulator.project_id

    assert clock.sleeps == [1.0]
    assert transport.count(api(emulator)) == 2


def test_truncated_json_is_invalid_payload(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    emulator.state.add_fault(
        "truncate", endpoint="getProjectInfo", count=1, truncate_mode="invalid-json"
    )

    with pytest.raises(InvalidPayloadError) as caught:
        open_studio().get_project()

    assert "response is not valid JSON" in caught.value.reason
    assert "Input data was truncated" in caught.value.reason
    assert transport.count(api(emulator)) == 1
    assert clock.sleeps == []


def test_failed_job_carries_log_tail(open_studio: OpenClient, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("job-failure", message="the worker ran out of memory")
    client = open_studio()
    job_id = client.start_data_quality_job()
    wait_until_finished(emulator, job_id)

    with pytest.raises(JobFailedError) as caught:
        client.wait_for_job(job_id)

    assert caught.value.job_id == job_id
    assert caught.value.reason.startswith(
        f"Job {job_id} finished unsuccessfully (finishedSuccessful is false)."
    )
    assert (
        "Failed to calculate data quality metrics: the worker ran out of memory"
        in caught.value.log_tail
    )
    assert caught.value.log_tail[-1] == "Job failed"


def test_failed_job_message_names_cause(open_studio: OpenClient, emulator: EmulatorServer) -> None:
    emulator.state.add_fault("job-failure", message="out of memory on node")
    client = open_studio()
    job_id = client.start_data_quality_job()
    wait_until_finished(emulator, job_id)

    with pytest.raises(JobFailedError) as caught:
        client.wait_for_job(job_id)

    assert caught.value.reason == (
        f"Job {job_id} finished unsuccessfully (finishedSuccessful is false). Last errors "
        "in its log: 'Failed to calculate data quality metrics: out of memory on node' | "
        "'Job failed'. See the job's log in Studio for details."
    )


def test_hung_job_times_out_and_can_be_cancelled(
    open_studio: OpenClient, emulator: EmulatorServer, clock: FakeClock
) -> None:
    emulator.state.add_fault("job-hang")
    client = open_studio()
    job_id = client.start_data_quality_job()

    with pytest.raises(JobTimeoutError):
        client.wait_for_job(job_id, deadline_seconds=20)
    client.cancel_job(job_id)
    job = client.get_job(job_id)

    assert sum(clock.sleeps) == 20.0
    assert job.state == "failed"
    assert job.finished_successful is False


def test_rate_limit_while_polling_is_not_a_failure(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    clock: FakeClock,
) -> None:
    client = open_studio()
    job_id = client.start_data_quality_job()
    wait_until_finished(emulator, job_id)
    emulator.state.add_fault("rate-limit", endpoint="getJobStatus", count=1, retry_after=9)

    job = client.wait_for_job(job_id)

    assert job.succeeded is True
    # The 429 doubles the poll interval to 4 s, and Retry-After requests 9 s.
    assert clock.sleeps == [9.0]
    assert transport.count(api(emulator, f"/jobs/{job_id}/status"), status=429) == 1


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("forbidden", StudioAuthenticationError), ("success-false", StudioApiError)],
)
def test_refused_trigger(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    transport: CountingTransport,
    mode: RefuseTrigger,
    expected: type[Exception],
) -> None:
    emulator.state.set_refuse_trigger(emulator.project_id, mode)

    with pytest.raises(expected) as caught:
        open_studio().start_data_quality_job()

    assert "Only available for EI staff" in str(caught.value)
    assert emulator.state.jobs(emulator.project_id) == []
    assert transport.count(api(emulator, "/jobs/data-quality-metrics")) == 1


def test_embedded_samples_decode(open_studio: OpenClient, emulator: EmulatorServer) -> None:
    emulator.state.set_include_samples(emulator.project_id, True)
    client = open_studio()
    job_id = client.start_data_quality_job()
    wait_until_finished(emulator, job_id)
    client.wait_for_job(job_id)

    data = decode_label_noise(client.fetch_label_noise_body(), project_id=client.project_id)

    assert data.cross_validation is not None
    first = data.cross_validation.scores[0]
    assert first.sample is not None
    assert first.sample.id == first.id
    assert first.sample == _embedded(client.get_sample(first.id))


def test_key_never_logged_during_run(
    open_studio: OpenClient,
    emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.state.add_fault("server-error", endpoint="getProjectInfo", status=503, count=1)
    emulator.state.add_fault("job-failure", message="boom")
    client = open_studio(project_id=None)

    client.get_project()
    job_id = client.start_data_quality_job()
    wait_until_finished(emulator, job_id)
    with pytest.raises(JobFailedError) as caught:
        client.wait_for_job(job_id)

    assert emulator.api_key not in str(caught.value)
    assert len(caplog.records) > 0
    for record in caplog.records:
        assert emulator.api_key not in record.getMessage()


def _embedded(sample: Sample) -> EmbeddedSample:
    return EmbeddedSample(
        id=sample.id,
        filename=sample.filename,
        label=sample.label,
        category=sample.category,
        is_disabled=sample.is_disabled,
    )
