"""In-process state of the emulator: projects, samples, jobs, results and faults.

Request handlers and tests share one `EmulatorState`. Every mutation acquires
`lock`, so job threads and request threads see consistent data.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from emulator.dataset import BUNDLED_DATASET_DIR, SampleRecord, load_dataset
from emulator.engine.label_noise import (
    EngineInputError,
    EngineSettings,
    LabelNoiseResult,
    compute_label_noise,
)
from emulator.engine.windows import EngineSample
from emulator.faults import Fault, FaultKind, FaultRegistry, FaultSpec
from emulator.jobs import Job, JobLogLine, LogLevel, start_job_thread
from emulator.payloads import JsonObject, sample_json
from emulator.results import StoredResult

logger = logging.getLogger(__name__)

RefuseTrigger = Literal["forbidden", "success-false"]
REFUSE_TRIGGER_MODES: tuple[str, ...] = get_args(RefuseTrigger)
# Representations that need audio or image data, which a sensor project lacks.
UNSUPPORTED_REPRESENTATIONS = frozenset({"keywords", "images"})
RESULT_CACHE_SIZE = 16
REQUEST_LOG_SIZE = 10_000


@dataclass(frozen=True)
class ProjectSpec:
    """One emulated project.

    `dataset_dir` defaults to the bundled BasicMotions dataset.
    `refuse_trigger` makes the trigger call fail the way a non-staff key may:
    `"forbidden"` responds with HTTP 403, `"success-false"` with HTTP 200 and
    `success: false`. `include_samples` embeds `sample` objects in
    label-noise results. Sample ids count up from `first_sample_id`.
    """

    project_id: int
    name: str
    api_key: str
    dataset_dir: Path | None = None
    refuse_trigger: RefuseTrigger | None = None
    include_samples: bool = False
    first_sample_id: int = 1
    owner: str = "Emulator"
    engine: EngineSettings = field(default_factory=EngineSettings)

    def __post_init__(self) -> None:
        if self.refuse_trigger is not None and self.refuse_trigger not in REFUSE_TRIGGER_MODES:
            raise ValueError(
                f"Invalid refuse_trigger {self.refuse_trigger!r}; expected one of "
                f"{', '.join(REFUSE_TRIGGER_MODES)} or None"
            )


@dataclass
class RequestRecord:
    """One Studio request, logged when it arrives, for tests that count calls.

    `status` is None until the handler or a fault starts the response, and
    stays None when no response starts (the client disconnected first).
    """

    method: str
    operation: str  # operation id, or the path for requests outside the Studio API
    project_id: int | None
    status: int | None = None


class ProjectState:
    """A project's samples and settings, as changed by requests and tests."""

    def __init__(self, spec: ProjectSpec, created: datetime) -> None:
        self.spec = spec
        self.created = created
        samples = load_dataset(
            spec.dataset_dir or BUNDLED_DATASET_DIR,
            first_sample_id=spec.first_sample_id,
            created=created,
        )
        self.samples: list[SampleRecord] = samples
        self.samples_by_id = {sample.id: sample for sample in samples}
        self._pristine_labels = {sample.id: sample.label for sample in samples}
        self.refuse_trigger: RefuseTrigger | None = spec.refuse_trigger
        self.include_samples = spec.include_samples
        self.latest: StoredResult | None = None

    @property
    def id(self) -> int:
        return self.spec.project_id

    def training_labels(self) -> list[str]:
        """Return the sorted distinct training labels; a label's index is its position."""
        return sorted({sample.label for sample in self.samples if sample.category == "training"})

    def sample_json(self, sample: SampleRecord, *, include_sensors: bool = True) -> JsonObject:
        return sample_json(
            sample,
            project_id=self.id,
            project_name=self.spec.name,
            owner=self.spec.owner,
            include_sensors=include_sensors,
        )

    def reset(self) -> None:
        for sample in self.samples:
            sample.label = self._pristine_labels[sample.id]
            sample.last_modified = self.created
        self.refuse_trigger = self.spec.refuse_trigger
        self.include_samples = self.spec.include_samples
        self.latest = None


class EmulatorState:
    """Every project of one emulator, with its jobs, faults and request log."""

    def __init__(
        self,
        specs: Sequence[ProjectSpec],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not specs:
            raise ValueError("An emulator needs at least one ProjectSpec")
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self._released = threading.Condition(self.lock)
        created = datetime(2024, 1, 1, tzinfo=UTC)
        self.projects: dict[int, ProjectState] = {}
        self._keys: dict[str, int] = {}
        for spec in specs:
            if spec.project_id in self.projects:
                raise ValueError(f"Duplicate project id {spec.project_id} in the emulator specs")
            if spec.api_key in self._keys:
                raise ValueError(
                    f"Projects {self._keys[spec.api_key]} and {spec.project_id} "
                    "share an API key; give each project its own"
                )
            self.projects[spec.project_id] = ProjectState(spec, created)
            self._keys[spec.api_key] = spec.project_id
        self.faults = FaultRegistry()
        self.requests: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)
        self._jobs: dict[int, Job] = {}
        self._next_job_id = 1
        self._jobs_paused = False
        self._cache: OrderedDict[str, tuple[LabelNoiseResult, tuple[str, ...]]] = OrderedDict()
        self.engine_runs = 0  # engine computations, cache hits excluded

    # Projects and keys.

    def project_for_key(self, api_key: str) -> ProjectState | None:
        project_id = self._keys.get(api_key)
        return None if project_id is None else self.projects[project_id]

    def project(self, project_id: int) -> ProjectState:
        try:
            return self.projects[project_id]
        except KeyError:
            raise KeyError(f"No emulated project has id {project_id}") from None

    def set_refuse_trigger(self, project_id: int, mode: RefuseTrigger | None) -> None:
        if mode is not None and mode not in REFUSE_TRIGGER_MODES:
            raise ValueError(
                f"Invalid refuse-trigger mode {mode!r}; expected one of "
                f"{', '.join(REFUSE_TRIGGER_MODES)} or None"
            )
        with self.lock:
            self.project(project_id).refuse_trigger = mode

    def set_include_samples(self, project_id: int, include: bool) -> None:
        with self.lock:
            self.project(project_id).include_samples = include

    def edit_label(self, project_id: int, sample_id: int, label: str) -> SampleRecord:
        """Relabel a sample, as Studio's edit-label call does. Raises KeyError if unknown."""
        with self.lock:
            project = self.project(project_id)
            sample = project.samples_by_id.get(sample_id)
            if sample is None:
                raise KeyError(f"No sample {sample_id} in project {project_id}")
            sample.label = label
            sample.last_modified = self.clock()
            return sample

    # Faults.

    def add_fault(self, kind: FaultKind | str, **options: Any) -> Fault:
        """Add a fault; options are `FaultSpec` fields in snake_case or camelCase."""
        return self.faults.add(FaultSpec.model_validate({"kind": kind, **options}))

    def clear_faults(self) -> None:
        self.faults.clear()

    # Requests.

    def record_request(self, record: RequestRecord) -> None:
        with self.lock:
            self.requests.append(record)

    def set_request_status(self, record: RequestRecord, status: int) -> None:
        with self.lock:
            record.status = status

    def request_count(self, operation: str, status: int | None = None) -> int:
        """Count the requests of an operation id received so far, optionally with one status.

        A request counts from its arrival, so the count is complete as soon as
        a client call returns. With `status`, a request counts once its
        response has started with that status.
        """
        with self.lock:
            return sum(
                1
                for record in self.requests
                if record.operation == operation and (status is None or record.status == status)
            )

    # Jobs.

    def pause_jobs(self) -> None:
        """Keep new and queued jobs in the created state until `resume_jobs`."""
        with self.lock:
            self._jobs_paused = True

    def resume_jobs(self) -> None:
        with self.lock:
            self._jobs_paused = False
            self._released.notify_all()

    def job(self, project_id: int, job_id: int) -> Job | None:
        with self.lock:
            job = self._jobs.get(job_id)
            return job if job is not None and job.project_id == project_id else None

    def jobs(self, project_id: int) -> list[Job]:
        with self.lock:
            return [job for job in self._jobs.values() if job.project_id == project_id]

    def start_job(self, project_id: int, representation: str | None) -> Job:
        """Create a data-quality job and start its thread."""
        with self.lock:
            project = self.project(project_id)
            job = Job(self._next_job_id, project.id, self.clock(), representation)
            self._next_job_id += 1
            self._jobs[job.id] = job
            fault = self.faults.take_job_fault(project.id)
        logger.info("Created data-quality job %d for project %d", job.id, project.id)
        if fault is not None:
            logger.info("Injecting fault %d (%s) into job %d", fault.id, fault.spec.kind, job.id)

        def work(job: Job, emit: Callable[[str], None]) -> bool:
            return self._run_job(job, project, fault, emit)

        start_job_thread(
            job,
            wait_until_released=self._wait_until_released,
            mark_started=self._mark_started,
            work=work,
            finish=self._finish,
            append_log=self._append_log,
        )
        return job

    def cancel_job(self, job: Job) -> None:
        """Finish a job unsuccessfully; a job that already finished is left as it is."""
        with self.lock:
            job.cancelled.set()
            self._released.notify_all()
            if not job.is_finished:
                self._append_log(job, "warn", "Job was cancelled")
        self._finish(job, False)

    def wait_for_job(self, job_id: int, timeout: float = 30.0) -> Job:
        """Block until a job finishes; raise TimeoutError with its state otherwise."""
        with self.lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise KeyError(f"No job {job_id} in the emulator")
        if not job.done.wait(timeout):
            raise TimeoutError(f"Job {job_id} did not finish within {timeout} s")
        return job

    def _wait_until_released(self, job: Job) -> bool:
        with self.lock:
            self._released.wait_for(lambda: not self._jobs_paused or job.cancelled.is_set())
            return not job.cancelled.is_set()

    def _mark_started(self, job: Job) -> None:
        with self.lock:
            job.started = self.clock()
        self._append_log(job, "info", "Job started")

    def _append_log(self, job: Job, level: LogLevel, text: str) -> None:
        with self.lock:
            job.log.append(JobLogLine(self.clock(), level, text))

    def _finish(self, job: Job, succeeded: bool) -> None:
        with self.lock:
            if job.is_finished:
                return
            job.finished = self.clock()
            job.finished_successful = succeeded
            job.log.append(
                JobLogLine(
                    job.finished,
                    "info" if succeeded else "error",
                    "Job completed" if succeeded else "Job failed",
                )
            )
        job.done.set()
        logger.info(
            "Data-quality job %d of project %d finished, successful=%s",
            job.id,
            job.project_id,
            succeeded,
        )

    def _run_job(
        self,
        job: Job,
        project: ProjectState,
        fault: Fault | None,
        emit: Callable[[str], None],
    ) -> bool:
        if fault is not None and fault.spec.kind is FaultKind.JOB_HANG:
            emit("Calculating data quality metrics...")
            job.cancelled.wait()
            return False
        if fault is not None and fault.spec.kind is FaultKind.JOB_FAILURE:
            emit("Calculating data quality metrics...")
            reason = fault.spec.message or "the worker ran out of memory (injected fault)"
            self._append_log(job, "error", f"Failed to calculate data quality metrics: {reason}")
            return False
        if job.representation in UNSUPPORTED_REPRESENTATIONS:
            self._append_log(
                job,
                "error",
                f"Representation '{job.representation}' needs "
                f"{'audio' if job.representation == 'keywords' else 'image'} data, but this "
                "project has time-series sensor data; use 'current-impulse' instead",
            )
            return False

        with self.lock:
            labels = project.training_labels()
            chosen = [
                sample
                for sample in project.samples
                if sample.category == "training" and not sample.is_disabled
            ]
            engine_samples = [
                EngineSample(
                    sample.id, labels.index(sample.label), sample.interval_ms, sample.values
                )
                for sample in chosen
            ]
            settings = project.spec.engine
        emit(f"Calculating data quality metrics over {len(engine_samples)} training samples")

        try:
            result = self._cached_label_noise(engine_samples, chosen, labels, settings, emit)
        except EngineInputError as exc:
            self._append_log(job, "error", f"Failed to calculate data quality metrics: {exc}")
            return False

        with self.lock:
            if job.cancelled.is_set() or self._jobs.get(job.id) is not job:
                return False
            project.latest = StoredResult(job.id, tuple(labels), result)
        emit("Stored label noise results")
        return True

    def _cached_label_noise(
        self,
        engine_samples: list[EngineSample],
        chosen: list[SampleRecord],
        labels: list[str],
        settings: EngineSettings,
        emit: Callable[[str], None],
    ) -> LabelNoiseResult:
        """Return the engine result for these labels, computing it only on a cache miss.

        A cache hit replays the engine's log lines, so a job's log does not
        depend on whether an earlier job computed the same result.
        """
        digest = hashlib.sha256(repr((settings, labels)).encode())
        for engine_sample, sample in zip(engine_samples, chosen, strict=True):
            digest.update(f"{sample.id}:{engine_sample.label}:{sample.sha256};".encode())
        key = digest.hexdigest()

        with self.lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is not None:
            logger.debug("Reusing cached label-noise result %s", key[:12])
            result, cached_lines = cached
            for line in cached_lines:
                emit(line)
            return result

        lines: list[str] = []

        def record(line: str) -> None:
            lines.append(line)
            emit(line)

        result = compute_label_noise(engine_samples, len(labels), settings, record)
        with self.lock:
            self.engine_runs += 1
            self._cache[key] = (result, tuple(lines))
            while len(self._cache) > RESULT_CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    # Lifecycle.

    def reset(self) -> None:
        """Restore pristine labels and settings, and drop jobs, results, faults and requests.

        Running jobs are cancelled. The engine's result cache is kept, because
        it is keyed by the labels and so can never serve stale results.
        """
        with self.lock:
            for job in self._jobs.values():
                job.cancelled.set()
            self._jobs = {}
            self._jobs_paused = False
            self._released.notify_all()
            for project in self.projects.values():
                project.reset()
            self.requests.clear()
        self.faults.clear()

    def close(self) -> None:
        """Cancel every job so that no job thread outlives the server."""
        with self.lock:
            for job in self._jobs.values():
                job.cancelled.set()
            self._released.notify_all()


def with_engine(spec: ProjectSpec, **settings: Any) -> ProjectSpec:
    """Return a copy of `spec` whose engine settings are changed as given."""
    return replace(spec, engine=replace(spec.engine, **settings))
