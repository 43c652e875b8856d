"""The `labelnoise emulator` command: serve the Studio emulator on loopback."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from labelnoise.cli.app import app
from labelnoise.exceptions import ConfigurationError


@app.command("emulator")
def serve_emulator(
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port; 0 picks a free port.")
    ] = 8080,
    dataset: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            file_okay=False,
            help="Folder of Edge Impulse data-acquisition JSON files to serve instead of "
            "the bundled BasicMotions data (training/ and testing/ subfolders, or an "
            "info.labels file).",
        ),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="API key of the project. Default: a generated key.")
    ] = None,
    project_id: Annotated[int, typer.Option(min=1, help="Id of the project.")] = 1,
    include_samples: Annotated[
        bool, typer.Option(help="Embed sample objects in label-noise results.")
    ] = False,
    refuse_trigger: Annotated[
        str | None,
        typer.Option(
            help="Reject the data-quality trigger: 'forbidden' (HTTP 403) or "
            "'success-false' (HTTP 200 with success false)."
        ),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help='Inject a fault, given as JSON, e.g. \'{"kind": "rate-limit", "count": 2, '
            '"endpoint": "getLabelNoiseData"}\'. Repeat the option for several faults.'
        ),
    ] = None,
) -> None:
    """Serve the Studio emulator until interrupted, and print its URL and API key."""
    # Imported here so that other commands never load the emulator and its data.
    from emulator.faults import FaultSpec
    from emulator.server import (
        EmulatorServer,
        ProjectSpec,
        check_loopback_host,
        generate_api_key,
    )

    specs = []
    for text in fault or []:
        try:
            specs.append(FaultSpec.model_validate_json(text))
        except ValidationError as exc:
            message = f"Invalid fault {text!r}: {exc}"
            raise typer.BadParameter(message, param_hint="--fault") from exc

    try:
        project = ProjectSpec(
            project_id=project_id,
            name=dataset.name if dataset else "BasicMotions",
            api_key=api_key or generate_api_key(),
            dataset_dir=dataset,
            refuse_trigger=refuse_trigger,  # type: ignore[arg-type]
            include_samples=include_samples,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--refuse-trigger") from exc

    try:
        check_loopback_host(host)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--host") from exc

    try:
        with EmulatorServer.start(host=host, port=port, projects=[project]) as server:
            for spec in specs:
                server.state.faults.add(spec)
            typer.echo(f"Studio emulator listening at {server.base_url}")
            typer.echo(f"Project id:  {server.project_id}")
            typer.echo(f"API key:     {server.api_key}")
            typer.echo(f"Control API: {server.control_url}")
            typer.echo(
                f"Point labelnoise at it with EI_API_ENDPOINT={server.base_url} "
                f"EI_PROJECT_ID={server.project_id} EI_API_KEY=<the key above>"
            )
            typer.echo("Press Ctrl+C to stop.")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    except ConfigurationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset") from exc
    typer.echo("Emulator stopped")
