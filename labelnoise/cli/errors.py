"""Turn the errors that reach the command line into one `Error: ...` line and an exit status.

Every command runs inside `LabelnoiseGroup.invoke`, so invalid settings, a
labelnoise error or an unreachable database print one line on stderr
instead of a traceback. The exit status is 2 for invalid configuration and
1 for a failure at run time, as `labelnoise/cli/runs.py` also uses. With
`labelnoise --verbose`, the traceback is logged at DEBUG level as well.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn, get_args

import typer
from pydantic import AliasChoices, SecretStr, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from typer.core import TyperGroup

from labelnoise.database import EMBEDDED_SUBDIR, describe_database, normalize_url
from labelnoise.exceptions import ConfigurationError, LabelnoiseError
from labelnoise.settings import Settings, get_settings

logger = logging.getLogger(__name__)

EXIT_RUN_FAILED = 1
EXIT_BAD_CONFIGURATION = 2


class LabelnoiseGroup(TyperGroup):
    """The `labelnoise` command group, which reports the errors of every subcommand."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            _fail(exc, describe_validation_error(exc), EXIT_BAD_CONFIGURATION)
        except ConfigurationError as exc:
            _fail(exc, str(exc), EXIT_BAD_CONFIGURATION)
        except LabelnoiseError as exc:
            _fail(exc, str(exc), EXIT_RUN_FAILED)
        except OperationalError as exc:
            _fail(exc, describe_database_error(exc), EXIT_RUN_FAILED)


def describe_validation_error(exc: ValidationError) -> str:
    """Describe invalid settings by environment variable, leaving out the values of secrets."""
    if exc.title != Settings.__name__:
        # Not the settings: name the model and the fields, but echo no input.
        fields = ", ".join(_location(error["loc"]) for error in exc.errors())
        return f"Invalid {exc.title}: {fields}"

    variables = _environment_variables()
    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        variable, secret = variables.get(field, (field, False))
        problem = f"{variable}: {error['msg']}"
        if not secret:
            problem += f" (got {error['input']!r})"
        problems.append(problem)
    return (
        f"Invalid settings: {'; '.join(problems)}. Set valid values in the environment, "
        "in .env, or in the TOML config file (LABELNOISE_CONFIG)"
    )


def describe_database_error(exc: OperationalError) -> str:
    """Describe a failed database connection by server, database and user, without the password."""
    settings = get_settings()
    reason = str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
    if settings.database_url is None:
        folder = settings.data_dir / EMBEDDED_SUBDIR
        return f"The embedded PostgreSQL in {folder} failed: {reason}"

    url = settings.database_url.get_secret_value()
    try:
        database = describe_database(normalize_url(url))
    except ConfigurationError:
        database = "an invalid database URL"
    # Mask the password in case the driver message contains it.
    for password in _passwords(url):
        reason = reason.replace(password, "***")
    return (
        f"Cannot use the database {database}: {reason}. "
        "Check DATABASE_URL and that the PostgreSQL server is running"
    )


def _environment_variables() -> dict[str, tuple[str, bool]]:
    """Map each settings field, and each of its aliases, to its environment variable.

    The second item is True for secret fields, whose input is never shown.
    """
    prefix = str(Settings.model_config.get("env_prefix", ""))
    variables: dict[str, tuple[str, bool]] = {}
    for name, field in Settings.model_fields.items():
        secret = field.annotation is SecretStr or SecretStr in get_args(field.annotation)
        aliases = []
        if isinstance(field.validation_alias, AliasChoices):
            aliases = [str(choice) for choice in field.validation_alias.choices]
        variable = aliases[0] if aliases else f"{prefix}{name}".upper()
        for key in (name, *aliases):
            variables[key] = (variable, secret)
    return variables


def _location(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(the whole value)"


def _passwords(url: str) -> list[str]:
    """Return the password of `url`, from its user part or its `password` query parameter."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return []
    query_value = parsed.query.get("password")
    query_passwords = query_value if isinstance(query_value, tuple) else [query_value]
    candidates = [parsed.password, *query_passwords]
    return [str(value) for value in candidates if value]


def _fail(exc: BaseException, message: str, code: int) -> NoReturn:
    logger.debug("Traceback of the error below", exc_info=exc)
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=code) from exc
