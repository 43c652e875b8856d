"""The `labelnoise demo` walk-through, and the emulator the CLI starts when no key is set.

The demo needs no account and no configuration. It starts the embedded
PostgreSQL and the Studio emulator with the bundled BasicMotions project on
a free loopback port, and runs flows in Prefect's ephemeral mode unless
`PREFECT_API_URL` is set. It runs the project once, relabels a few samples
through the emulator's `edit-label` endpoint as a person relabelling in
Studio would, runs the project again and shows the diff of the two runs.

This module and the emulator's own command are the only parts of the
command line that import `emulator`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr
from rich.console import Console
from sqlalchemy import Engine, text

from labelnoise.database import EMBEDDED_SUBDIR, describe_database, open_engine, upgrade_database
from labelnoise.settings import Settings, get_settings

if TYPE_CHECKING:
    from emulator.server import EmulatorServer
    from tasks.report import RunOutcome

logger = logging.getLogger(__name__)

# Environment variable that carries the demo project's API key to the flows,
# named in the demo's projects file as `env:LABELNOISE_DEMO_API_KEY`.
DEMO_KEY_VARIABLE = "LABELNOISE_DEMO_API_KEY"
DEFAULT_RELABEL_COUNT = 6


@dataclass(frozen=True)
class Relabel:
    """A sample that the demo relabelled between its two runs."""

    sample_id: int
    filename: str
    old_label: str
    new_label: str


@dataclass(frozen=True)
class DemoResult:
    """Outcome of the demo: its two runs, the relabelled samples and where the data is."""

    project_id: int
    first: RunOutcome
    second: RunOutcome
    relabels: list[Relabel]
    report_markdown: str
    database: str
    data_dir: Path
    views: list[str]
    seconds: float


@contextmanager
def running_emulator() -> Iterator[EmulatorServer]:
    """Start the emulator with the bundled project on a free loopback port."""
    from emulator.server import EmulatorServer

    with EmulatorServer.start(host="127.0.0.1", port=0) as server:
        logger.info(
            "Started the Studio emulator at %s with the bundled BasicMotions project %d",
            server.base_url,
            server.project_id,
        )
        yield server


@contextmanager
def emulator_as_default_studio() -> Iterator[EmulatorServer]:
    """Start the emulator and make it the `EI_API_KEY` project for this process.

    The key, endpoint and project id go into this process's environment,
    which the settings read and which Prefect passes on to the flow runs it
    starts in subprocesses. They are removed again on exit.
    """
    with running_emulator() as server:
        logger.warning(
            "No EI_API_KEY is set, so labelnoise runs against the bundled Studio emulator "
            "at %s (project %d); set EI_API_KEY to track a real Studio project",
            server.base_url,
            server.project_id,
        )
        values = {
            "EI_API_KEY": server.api_key,
            "EI_API_ENDPOINT": server.base_url,
            "EI_PROJECT_ID": str(server.project_id),
        }
        with _environment(values):
            yield server


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    get_settings.cache_clear()
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()


def write_demo_projects_file(path: Path, project_id: int) -> Path:
    """Write the projects file of the demo: one project, key from the environment."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `labelnoise demo`: the emulator's bundled project.\n"
        "[[projects]]\n"
        f"id = {project_id}\n"
        f'api_key_source = "env:{DEMO_KEY_VARIABLE}"\n'
        'trigger_mode = "always"\n',
        encoding="utf-8",
    )
    return path


def choose_relabels(samples: list[tuple[int, str, str]], count: int) -> list[Relabel]:
    """Pick `count` training samples and a different label for each, deterministically.

    `samples` contains (sample id, filename, label) of each training sample. The
    picks go round the labels in sorted order, taking the lowest sample ids
    first, and each sample moves to the next label in that order, as a
    careless relabelling session might.
    """
    labels = sorted({label for _, _, label in samples})
    if len(labels) < 2:
        raise ValueError(f"Relabelling needs at least two labels, but the project has {labels}")

    by_label = {label: sorted(s for s in samples if s[2] == label) for label in labels}
    relabels: list[Relabel] = []
    position = 0
    while len(relabels) < count:
        label = labels[position % len(labels)]
        round_number = position // len(labels)
        if round_number >= max(len(group) for group in by_label.values()):
            break
        if round_number < len(by_label[label]):
            sample_id, filename, _ = by_label[label][round_number]
            new_label = labels[(labels.index(label) + 1) % len(labels)]
            relabels.append(Relabel(sample_id, filename, label, new_label))
        position += 1
    return relabels


def relabel_samples(
    base_url: str, api_key: SecretStr, project_id: int, relabels: list[Relabel]
) -> None:
    """Change each sample's label through Studio's `edit-label` endpoint."""
    headers = {"x-api-key": api_key.get_secret_value()}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30.0) as client:
        for relabel in relabels:
            response = client.post(
                f"/api/{project_id}/raw-data/{relabel.sample_id}/edit-label",
                json={"label": relabel.new_label},
            )
            response.raise_for_status()
            body = response.json()
            if body.get("success") is not True:
                raise RuntimeError(
                    f"Relabelling sample {relabel.sample_id} failed: {body.get('error')}"
                )
            logger.info(
                "Relabelled sample %d (%s) from %s to %s",
                relabel.sample_id,
                relabel.filename,
                relabel.old_label,
                relabel.new_label,
            )


def list_reporting_views(engine: Engine) -> list[str]:
    """List the views of the `reporting` schema, which BI tools read."""
    with engine.connect() as connection:
        names = connection.execute(
            text(
                "SELECT table_name FROM information_schema.views "
                "WHERE table_schema = 'reporting' ORDER BY table_name"
            )
        ).scalars()
        return [f"reporting.{name}" for name in names]


def run_demo(console: Console, *, relabel_count: int = DEFAULT_RELABEL_COUNT) -> DemoResult:
    """Run the bundled project twice with a relabelling in between, showing each step.

    Whatever `DATABASE_URL` and `EI_API_KEY` are set to, the demo uses the embedded
    PostgreSQL in the `data_dir` setting and the emulator, so it never
    writes demo data into a real warehouse or asks a real Studio anything.
    """
    # Imported here so that `labelnoise --help` does not import Prefect's flow machinery.
    from flows.project_run import run_project
    from studio.client import StudioClient

    started = time.monotonic()
    settings = get_settings()
    if settings.database_url is not None:
        console.print(
            "[yellow]The demo ignores DATABASE_URL and uses the embedded PostgreSQL.[/yellow]"
        )
    demo_settings = Settings(database_url=None)

    with _step(console, "Starting the embedded PostgreSQL"):
        engine = open_engine(demo_settings)
        upgrade_database(engine)
        database_url = engine.url.render_as_string(hide_password=False)

    with ExitStack() as stack:
        with _step(console, "Starting the Studio emulator with the bundled BasicMotions project"):
            server = stack.enter_context(running_emulator())
        project_id = server.project_id
        api_key = SecretStr(server.api_key)
        projects_file = write_demo_projects_file(
            demo_settings.data_dir / "demo-projects.toml", project_id
        )
        environment = {
            "DATABASE_URL": database_url,
            "EI_API_ENDPOINT": server.base_url,
            DEMO_KEY_VARIABLE: server.api_key,
        }
        stack.enter_context(_environment(environment))

        with _step(console, "Run 1: trigger the data-quality job, wait, fetch, load"):
            first = run_project(project_id=project_id, projects_file=str(projects_file))
        console.print(f"  {first.summary_line()}")

        with _step(console, f"Relabelling {relabel_count} samples through edit-label"):
            with StudioClient.open(
                api_key, project_id=project_id, base_url=server.base_url
            ) as studio:
                training = [
                    (sample.id, sample.filename, sample.label)
                    for sample in studio.iter_samples(category="training")
                ]
            relabels = choose_relabels(training, relabel_count)
            relabel_samples(server.base_url, api_key, project_id, relabels)
        for relabel in relabels:
            console.print(
                f"  sample {relabel.sample_id} ({relabel.filename}): "
                f"{relabel.old_label} -> {relabel.new_label}"
            )

        with _step(console, "Run 2: trigger, wait, fetch, load and diff with the first run"):
            second = run_project(project_id=project_id, projects_file=str(projects_file))
        console.print(f"  {second.summary_line()}")
        report = _read_report(project_id)

    views = list_reporting_views(engine)
    engine.dispose()
    return DemoResult(
        project_id=project_id,
        first=first,
        second=second,
        relabels=relabels,
        report_markdown=report or second.summary_line(),
        database=describe_database(database_url),
        data_dir=(demo_settings.data_dir / EMBEDDED_SUBDIR).resolve(),
        views=views,
        seconds=time.monotonic() - started,
    )


def _read_report(project_id: int) -> str | None:
    """Read the markdown artifact that the last run of the project published."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    from tasks.report import artifact_key

    # `Artifact.get` would leave its HTTP client open, so read through one closed on exit.
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[artifact_key(project_id)])),
            sort=ArtifactSort.UPDATED_DESC,
            limit=1,
        )
    if not artifacts or not isinstance(artifacts[0].data, str):
        return None
    return artifacts[0].data


@contextmanager
def _step(console: Console, description: str) -> Iterator[None]:
    """Show a spinner while a step runs, then a tick with its duration."""
    started = time.monotonic()
    with console.status(description):
        yield
    console.print(
        f"[green]\N{CHECK MARK}[/green] {description} ({time.monotonic() - started:.1f} s)"
    )
