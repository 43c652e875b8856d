"""`StudioClient`: the Studio API calls that labelnoise makes, with typed results.

Open one client per run and pass it down::

    with StudioClient.open(api_key, project_id=42) as studio:
        job_id = studio.start_data_quality_job()
        studio.wait_for_job(job_id)
        body = studio.fetch_label_noise_body()

Every failure is a `labelnoise.exceptions.StudioError` subclass whose
message names the project, the job where there is one, the method, the
redacted URL and the HTTP status, and never the API key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import msgspec
from pydantic import SecretStr

from labelnoise.exceptions import ConfigurationError
from labelnoise.redaction import redact_url
from labelnoise.settings import Representation, Settings, get_settings
from models.studio import (
    SAMPLE_FILTER_CATEGORIES,
    ApiKeyInfoResponse,
    GetJobResponse,
    GetSampleResponse,
    HasFeaturesResponse,
    Job,
    JobLogItem,
    ListSamplesResponse,
    LogStdoutResponse,
    ProjectInfo,
    ProjectInfoResponse,
    Sample,
    StartJobResponse,
)
from studio.http import create_http_client
from studio.jobs import JobEndpoints, PollSchedule
from studio.jobs import wait_for_job as poll_until_finished
from studio.requester import Call, Requester, RetryMode
from studio.retry import Jitter, RetryPolicy, equal_jitter
from studio.samples import iter_sample_pages

logger = logging.getLogger(__name__)

_api_key_info_decoder = msgspec.json.Decoder(ApiKeyInfoResponse)
_start_job_decoder = msgspec.json.Decoder(StartJobResponse)
_job_decoder = msgspec.json.Decoder(GetJobResponse)
_log_decoder = msgspec.json.Decoder(LogStdoutResponse)
_has_features_decoder = msgspec.json.Decoder(HasFeaturesResponse)
_project_decoder = msgspec.json.Decoder(ProjectInfoResponse)
_sample_page_decoder = msgspec.json.Decoder(ListSamplesResponse)
_sample_decoder = msgspec.json.Decoder(GetSampleResponse)


class StudioClient:
    """The Studio API of one project, over one `httpx.Client`.

    Build it with `StudioClient.open`, which also closes the HTTP client.
    `sleep` and `clock` (seconds, monotonic) are used for every retry and
    poll wait, and `jitter` randomises backoff waits, so tests inject all
    three and assert exact waits without sleeping.
    """

    def __init__(
        self,
        requester: Requester,
        *,
        project_id: int,
        settings: Settings,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Jitter = equal_jitter,
    ) -> None:
        self._requester = requester
        self._requester.project_id = project_id
        self._project_id = project_id
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter

    @classmethod
    @contextmanager
    def open(
        cls,
        api_key: SecretStr,
        *,
        project_id: int | None = None,
        base_url: str | None = None,
        settings: Settings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
        jitter: Jitter = equal_jitter,
    ) -> Iterator[StudioClient]:
        """Open a client for one project and close its connections on exit.

        `base_url` defaults to `settings.ei_api_endpoint`, and `settings` to
        `get_settings()`. Without `project_id`, the project is the one the
        API key belongs to, read from `/api/projects/api-key-info`.
        """
        settings = settings or get_settings()
        policy = RetryPolicy.from_settings(settings, jitter=jitter)
        with create_http_client(
            api_key,
            base_url=base_url or settings.ei_api_endpoint,
            settings=settings,
            transport=transport,
        ) as http:
            requester = Requester(http, api_key=api_key, policy=policy, sleep=sleep)
            if project_id is None:
                project_id = _resolve_project_id(requester)
            yield cls(
                requester,
                project_id=project_id,
                settings=settings,
                sleep=sleep,
                clock=clock,
                jitter=jitter,
            )

    @property
    def project_id(self) -> int:
        return self._project_id

    # Jobs.

    def start_data_quality_job(self, representation: str | None = None) -> int:
        """Ask Studio to calculate data-quality metrics, and return the new job's id.

        `representation` is one of `keywords`, `images`, `current-impulse` or
        `current-impulse-embeddings`, or `None` for Studio's default.

        The POST is retried only on HTTP 429 and on errors raised before the
        request was sent, because then no job can have started. A timeout
        after sending, or a 5xx, leaves the outcome unknown: a job may be
        running, so a blind retry could start a second one. Those raise
        instead. The pipeline avoids duplicate jobs in the other direction
        too: it stores the returned job id in the run row as soon as this
        method returns, and a crashed run resumes polling that job instead of
        starting another.
        """
        body: dict[str, str] = {}
        if representation is not None:
            body["representation"] = _validate_representation(representation)
        call = Call(
            name="data-quality job start",
            method="POST",
            path=f"/api/{self._project_id}/jobs/data-quality-metrics",
            json=body,
            retry_mode=RetryMode.UNSENT_ONLY,
        )
        job_id = self._requester.decode(self._requester.send(call), _start_job_decoder, call).id
        logger.info("Started Studio data-quality job %d for project %d", job_id, self._project_id)
        return job_id

    def get_job(self, job_id: int) -> Job:
        """Read a job's status."""
        return self._fetch_job(job_id, retry_rate_limited=True)

    def wait_for_job(self, job_id: int, *, deadline_seconds: float | None = None) -> Job:
        """Poll a job until it finishes, and return it when it succeeded.

        Polls start `poll_interval_initial` seconds apart and double up to
        `poll_interval_max`, with jitter. `deadline_seconds` defaults to the
        `job_deadline` setting. Raises `JobFailedError` (with `.log_tail`)
        when the job finished without success, and `JobTimeoutError` when it
        is still running at the deadline. A 429 while polling slows polling
        down and is not a failure.
        """
        schedule = PollSchedule(
            initial=self._settings.poll_interval_initial,
            maximum=self._settings.poll_interval_max,
            retry_after_max=self._settings.retry_after_max,
            jitter=self._jitter,
        )
        endpoints = JobEndpoints(
            fetch_status=lambda job: self._fetch_job(job, retry_rate_limited=False),
            fetch_log=self.get_job_log,
            status_endpoint=lambda job: self._endpoint(self._job_status_call(job, True)),
        )
        return poll_until_finished(
            job_id,
            project_id=self._project_id,
            endpoints=endpoints,
            schedule=schedule,
            deadline_seconds=(
                self._settings.job_deadline if deadline_seconds is None else deadline_seconds
            ),
            sleep=self._sleep,
            clock=self._clock,
        )

    def get_job_log_tail(self, job_id: int, limit: int = 50) -> list[str]:
        """Return the text of the last `limit` lines of a job's log, oldest first."""
        return [line.data for line in self.get_job_log(job_id, limit)]

    def get_job_log(self, job_id: int, limit: int = 50) -> list[JobLogItem]:
        """Return the last `limit` lines of a job's log with their levels, oldest first.

        A line's text has the API key masked, in case the job printed it.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        call = Call(
            name="job log",
            method="GET",
            path=f"/api/{self._project_id}/jobs/{job_id}/stdout",
            params={"limit": limit},
            job_id=job_id,
        )
        response = self._requester.decode(self._requester.send(call), _log_decoder, call)
        # The order of `stdout` is not documented, so sort by time. The sort
        # is stable, which keeps Studio's order for lines of the same time.
        items = sorted(response.stdout, key=lambda item: item.created)
        return [
            msgspec.structs.replace(item, data=self._requester.scrub(item.data))
            for item in items[-limit:]
        ]

    def cancel_job(self, job_id: int) -> None:
        """Cancel a job. Studio then marks it finished with `finishedSuccessful` false."""
        # Cancelling twice has the same effect as once, so this POST is
        # retried like a GET.
        call = Call(
            name="job cancel",
            method="POST",
            path=f"/api/{self._project_id}/jobs/{job_id}/cancel",
            job_id=job_id,
        )
        self._requester.send(call)
        logger.info("Cancelled Studio job %d of project %d", job_id, self._project_id)

    # Label-noise results.

    def has_label_noise_data(self) -> bool:
        """Return whether Studio has stored label-noise results for the project."""
        call = Call(
            name="label-noise existence",
            method="GET",
            path=f"/api/{self._project_id}/raw-data/data-quality/label-noise/exists",
        )
        body = self._requester.send(call)
        return self._requester.decode(body, _has_features_decoder, call).has_features

    def fetch_label_noise_body(self) -> bytes:
        """Fetch the raw label-noise response body, for archiving before decoding.

        The body is checked to be a JSON object with `success: true`, which
        scans it without building the results. Decode it with
        `models.label_noise.decode_label_noise`.
        """
        call = Call(
            name="label-noise results",
            method="GET",
            path=f"/api/{self._project_id}/raw-data/data-quality/label-noise",
        )
        body = self._requester.send(call)
        logger.info(
            "Fetched label-noise results of project %d: %d bytes", self._project_id, len(body)
        )
        return body

    # Project and samples.

    def get_project(self) -> ProjectInfo:
        """Read the project's name, owner and label names."""
        # `truncateLabels` is left unset: it may shorten the label lists.
        call = Call(name="project info", method="GET", path=f"/api/{self._project_id}")
        response = self._requester.decode(self._requester.send(call), _project_decoder, call)
        project = ProjectInfo.from_response(response)
        if project.labels_truncated:
            logger.warning(
                "Studio returned %d of the %d labels of project %d, so label indexes "
                "past the list have no name",
                len(project.labels),
                project.total_labels,
                self._project_id,
            )
        return project

    def iter_samples(self, category: str = "all", page_size: int = 500) -> Iterator[Sample]:
        """Yield the metadata of every sample in `category`, one page at a time.

        `category` is `training`, `testing`, `validation`, `post-processing`
        or `all`. Sensor lists are left out of the pages to keep them small.
        """
        if category not in SAMPLE_FILTER_CATEGORIES:
            raise ValueError(
                f"Unknown sample category {category!r}: expected one of "
                f"{', '.join(SAMPLE_FILTER_CATEGORIES)}"
            )
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")

        def fetch_page(offset: int, limit: int) -> ListSamplesResponse:
            call = Call(
                name="sample list",
                method="GET",
                path=f"/api/{self._project_id}/raw-data",
                params={
                    "category": category,
                    "limit": limit,
                    "offset": offset,
                    "excludeSensors": "true",
                },
            )
            return self._requester.decode(self._requester.send(call), _sample_page_decoder, call)

        return iter_sample_pages(fetch_page, page_size=page_size)

    def get_sample(self, sample_id: int) -> Sample:
        """Read one sample's metadata."""
        # Ask for a single payload value, because only the metadata is needed.
        # The value is skipped while decoding.
        call = Call(
            name="sample",
            method="GET",
            path=f"/api/{self._project_id}/raw-data/{sample_id}",
            params={"limitPayloadValues": 1},
        )
        return self._requester.decode(self._requester.send(call), _sample_decoder, call).sample

    # Helpers.

    def _job_status_call(self, job_id: int, retry_rate_limited: bool) -> Call:
        return Call(
            name="job status",
            method="GET",
            path=f"/api/{self._project_id}/jobs/{job_id}/status",
            job_id=job_id,
            retry_rate_limited=retry_rate_limited,
        )

    def _fetch_job(self, job_id: int, *, retry_rate_limited: bool) -> Job:
        call = self._job_status_call(job_id, retry_rate_limited)
        return self._requester.decode(self._requester.send(call), _job_decoder, call).job

    def _endpoint(self, call: Call) -> str:
        return redact_url(self._requester.url(call))


def _resolve_project_id(requester: Requester) -> int:
    call = Call(name="API key info", method="GET", path="/api/projects/api-key-info")
    info = requester.decode(requester.send(call), _api_key_info_decoder, call)
    logger.info("The Studio API key belongs to project %d", info.project_id)
    return info.project_id


def _validate_representation(representation: str) -> str:
    try:
        return Representation(representation).value
    except ValueError as exc:
        allowed = ", ".join(member.value for member in Representation)
        raise ConfigurationError(
            f"Unknown data-quality representation {representation!r}: expected one of "
            f"{allowed}. Check LABELNOISE_REPRESENTATION."
        ) from exc
