"""The `labelnoise` Typer application and its command groups.

Command modules register themselves on these objects when
`labelnoise.cli` imports them.
"""

from __future__ import annotations

import logging

import typer

from labelnoise.cli.errors import LabelnoiseGroup

# Plain Click help. Typer 0.29's Rich help prints the type `<bool>` after
# every flag, --help included, as if each one took a value.
HELP_MARKUP_MODE = None

app = typer.Typer(
    name="labelnoise",
    help="Nightly label-noise tracking for Edge Impulse projects.",
    cls=LabelnoiseGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=HELP_MARKUP_MODE,
)
db_app = typer.Typer(
    help="Create, migrate and share the warehouse database.",
    no_args_is_help=True,
    rich_markup_mode=HELP_MARKUP_MODE,
)
app.add_typer(db_app, name="db")


@app.callback()
def configure(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log DEBUG lines as well, and the traceback of an error."
    ),
) -> None:
    """Configure logging for every command."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO; ours are logged by the Studio client.
    logging.getLogger("httpx").setLevel(logging.WARNING)
