"""Run commands: `labelnoise demo`, `run`, `nightly` and `serve`.

Flows run in Prefect's ephemeral mode unless `PREFECT_API_URL` is set.
Without `EI_API_KEY` and without a projects file, `run`, `nightly` and
`serve` start the bundled Studio emulator and log a warning. Each command exits
with status 0 on success, 1 when a run failed and 2 when the settings or
the projects file are invalid.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markdown import Markdown

from labelnoise.cli.app import app
from labelnoise.demo import DEFAULT_RELABEL_COUNT, DemoResult
from labelnoise.exceptions import ConfigurationError, LabelnoiseError
from labelnoise.projects import ENV_PREFIX, load_projects, resolve_api_key, select_project
from labelnoise.settings import TriggerMode, get_settings

# Prefect's server sends anonymous usage data to Prefect on startup unless
# this is false. labelnoise commands talk to no host the user did not configure.
PREFECT_ANALYTICS_VARIABLE = "PREFECT_SERVER_ANALYTICS_ENABLED"

logger = logging.getLogger(__name__)

EXIT_RUN_FAILED = 1
EXIT_BAD_CONFIGURATION = 2

ProjectsFileOption = Annotated[
    Path | None,
    typer.Option(
        "--projects-file",
        help=(
            "TOML projects file. Default: the LABELNOISE_PROJECTS_FILE setting. "
            "Without either, the EI_API_KEY project is the only project."
        ),
    ),
]
MaxConcurrencyOption = Annotated[
    int | None,
    typer.Option(
        "--max-concurrency",
        min=1,
        help="Projects run at once. Default: the LABELNOISE_MAX_CONCURRENCY setting (4).",
    ),
]


@app.command()
def demo(
    relabel: Annotated[
        int,
        typer.Option(
            "--relabel",
            min=1,
            max=40,
            help="Number of training samples relabelled between the two runs.",
        ),
    ] = DEFAULT_RELABEL_COUNT,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Show every flow and task log line as well."),
    ] = False,
) -> None:
    """Try labelnoise with no account: two runs of the bundled project and their diff.

    Starts the embedded PostgreSQL and the Studio emulator on a free
    loopback port, and runs the bundled BasicMotions project. Then it
    relabels a few samples through the emulator's edit-label API, runs the
    project again, and shows the diff with its verdict and where the data is.
    """
    from labelnoise.demo import run_demo

    _keep_prefect_server_quiet()
    console = Console()
    try:
        with nullcontext() if verbose else _console_logs(logging.WARNING):
            result = run_demo(console, relabel_count=relabel)
    except LabelnoiseError as exc:
        _fail(exc)
    _print_demo_result(console, result)


@app.command("run")
def run_command(
    project: Annotated[
        int | None,
        typer.Option(
            "--project",
            help="Id of the Edge Impulse project to run. Optional with one project.",
        ),
    ] = None,
    projects_file: ProjectsFileOption = None,
    trigger: Annotated[
        TriggerMode | None,
        typer.Option(
            "--trigger",
            case_sensitive=False,
            help="Trigger mode of this run: always, auto or never. Default: the project's mode.",
        ),
    ] = None,
) -> None:
    """Run one project now: trigger its data-quality job, load the results and diff them."""
    _keep_prefect_server_quiet()
    path = _projects_file(projects_file)
    try:
        _check_selection(path, project)
    except ConfigurationError as exc:
        _fail(exc)
    _open_warehouse()

    # Imported after the checks, because importing Prefect takes over a second.
    from flows.project_run import run_project

    try:
        with _default_studio(path) as emulator_project_id:
            _check_emulator_selection(emulator_project_id, project)
            outcome = run_project(
                project_id=project,
                projects_file=str(path) if path else None,
                trigger_mode=trigger,
            )
    except LabelnoiseError as exc:
        _fail(exc)
    typer.echo(outcome.summary_line())


@app.command()
def nightly(
    projects_file: ProjectsFileOption = None,
    max_concurrency: MaxConcurrencyOption = None,
) -> None:
    """Run every configured project once, as the nightly schedule does.

    A failing project does not stop the others. After all have run, the
    command exits with status 1 if any failed, naming each failed project.
    """
    _keep_prefect_server_quiet()
    path = _projects_file(projects_file)
    try:
        # A missing key of one project fails only that project, in its run.
        if path is not None:
            load_projects(path)
    except ConfigurationError as exc:
        _fail(exc)
    _open_warehouse()

    # Imported after the checks, because importing Prefect takes over a second.
    from flows.nightly import nightly as nightly_flow

    try:
        with _default_studio(path):
            outcomes = nightly_flow(
                projects_file=str(path) if path else None, max_concurrency=max_concurrency
            )
    except LabelnoiseError as exc:
        _fail(exc)
    for outcome in outcomes:
        typer.echo(outcome.summary_line())


def _open_warehouse() -> None:
    """Connect to the warehouse and migrate it before any flow starts.

    An unreachable database then fails the command with one line from the
    CLI's error handler, instead of a failed flow run and Prefect's
    tracebacks. The flow's tasks reuse the engine opened here.
    """
    from tasks.resources import warehouse_engine

    warehouse_engine()


@app.command()
def serve(
    projects_file: ProjectsFileOption = None,
    cron: Annotated[
        str, typer.Option("--cron", help="When the nightly run starts, as a cron expression.")
    ] = "0 2 * * *",
    timezone: Annotated[
        str,
        typer.Option("--timezone", help="IANA time zone of --cron, such as Europe/Amsterdam."),
    ] = "UTC",
    max_concurrency: MaxConcurrencyOption = None,
) -> None:
    """Serve the nightly schedule and ad-hoc project runs from this process, with no work pool.

    Needs a Prefect server (PREFECT_API_URL), whose scheduler creates the
    nightly runs. This process runs them until it is stopped.
    """
    from prefect import serve as serve_deployments
    from prefect.settings import PREFECT_API_URL

    from flows.schedule import build_deployments

    _keep_prefect_server_quiet()
    if not PREFECT_API_URL.value():
        _fail(
            ConfigurationError(
                "Serving a schedule needs a Prefect server, but PREFECT_API_URL is not set. "
                "Start one with `prefect server start` and set "
                "PREFECT_API_URL=http://127.0.0.1:4200/api"
            )
        )

    path = _projects_file(projects_file)
    try:
        deployments = build_deployments(
            cron=cron,
            timezone=timezone,
            projects_file=str(path) if path else None,
            max_concurrency=max_concurrency,
        )
    except ValueError as exc:
        _fail(ConfigurationError(f"Invalid --cron or --timezone: {exc}"))

    with _default_studio(path):
        serve_deployments(*deployments)


def _keep_prefect_server_quiet() -> None:
    """Turn off the usage data of Prefect's ephemeral server, unless the user set it."""
    os.environ.setdefault(PREFECT_ANALYTICS_VARIABLE, "false")


def _projects_file(option: Path | None) -> Path | None:
    return option or get_settings().projects_file


def _check_selection(projects_file: Path | None, project_id: int | None) -> None:
    """Check the projects file, the selected project and its key variable before Prefect starts.

    Raises `ConfigurationError` naming the project. Without a file and a
    key, the emulator's project is checked once the emulator runs.
    """
    settings = get_settings()
    if projects_file is None and settings.ei_api_key is None:
        return
    project = select_project(load_projects(projects_file, settings), project_id)
    # A Secret block is read through the Prefect API, so only the run reads it.
    if project.api_key_source.startswith(ENV_PREFIX):
        resolve_api_key(project.api_key_source, project.id)


def _check_emulator_selection(emulator_project_id: int | None, project_id: int | None) -> None:
    if emulator_project_id is None or project_id in (None, emulator_project_id):
        return
    raise ConfigurationError(
        f"Project {project_id} is not configured: without EI_API_KEY or a projects file, "
        f"labelnoise runs the bundled emulator's project {emulator_project_id}; leave out "
        "--project, or set EI_API_KEY (and EI_PROJECT_ID) to track a Studio project"
    )


@contextmanager
def _default_studio(projects_file: Path | None) -> Iterator[int | None]:
    """Start the emulator as the Studio of this process when nothing else is configured.

    Yields the emulator's project id, or None when no emulator was started.
    """
    settings = get_settings()
    if projects_file is not None or settings.ei_api_key is not None:
        yield None
        return

    if "ei_api_endpoint" in settings.model_fields_set:
        logger.warning(
            "EI_API_ENDPOINT is set but ignored, because EI_API_KEY is unset and the run "
            "uses the bundled Studio emulator; set EI_API_KEY to use that endpoint"
        )

    from labelnoise.demo import emulator_as_default_studio

    with emulator_as_default_studio() as server:
        yield server.project_id


def _fail(exc: LabelnoiseError) -> NoReturn:
    typer.echo(f"Error: {exc}", err=True)
    code = EXIT_BAD_CONFIGURATION if isinstance(exc, ConfigurationError) else EXIT_RUN_FAILED
    raise typer.Exit(code=code) from exc


@contextmanager
def _console_logs(level: int) -> Iterator[None]:
    """Show only log lines of `level` and above on the terminal, where the demo shows progress.

    Prefect's API log handler still receives every line, so flow-run logs
    stay complete in the Prefect UI.
    """
    import prefect  # noqa: F401  # configures Prefect's console handler on the root logger

    handlers = logging.getLogger().handlers
    previous = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(level)
    try:
        yield
    finally:
        for handler, handler_level in zip(handlers, previous, strict=True):
            handler.setLevel(handler_level)


def _print_demo_result(console: Console, result: DemoResult) -> None:
    console.print()
    console.print(Markdown(result.report_markdown))
    console.print()
    verdict = result.second.verdict or "none (first run)"
    console.print(f"[bold]Verdict after relabelling {len(result.relabels)} samples: {verdict}[/]")
    console.print()
    console.print("[bold]Where the data is[/]")
    console.print(
        f"  Embedded PostgreSQL in {result.data_dir}; it runs while a labelnoise command does"
    )
    console.print(f'  Connect to it then with: psql "{result.database}"')
    console.print(
        "  Tables: schema labelnoise (runs, cross_validation_scores, neighbor_scores, ...)"
    )
    if result.views:
        console.print("  Views for BI tools, described in docs/reporting.md:")
        for view in result.views:
            console.print(f"    {view}")
    console.print()
    console.print("[bold]Next[/]")
    console.print(f"  labelnoise history --project {result.project_id}")
    console.print(f"  labelnoise diff --project {result.project_id} --run {result.second.run_id}")
    console.print(
        "  prefect server start, then open the flow runs and their "
        f"'labelnoise-project-{result.project_id}' artifact at http://127.0.0.1:4200"
    )
    console.print(f"Finished in {result.seconds:.0f} s.")
