"""The projects a run covers, read from a TOML projects file.

A projects file lists every Edge Impulse project of the nightly run:

    [defaults]                      # optional, applies to every project
    trigger_mode = "auto"

    [[projects]]
    id = 123456
    name = "Keyword spotting"
    api_key_source = "env:EI_API_KEY_KWS"   # or "block:kws-api-key"
    trigger_mode = "never"
    representation = "keywords"

    [projects.thresholds]
    cv_zscore_threshold = -2.5
    net_new_tolerance = 2
    rate_points = 1.5

API keys never appear in the file: `api_key_source` names where the key is
read at run time, either an environment variable (`env:NAME`) or a Prefect
Secret block (`block:NAME`). Without a projects file, the `EI_API_KEY`
setting alone describes one project (`EI_PROJECT_ID`, or the project the
key belongs to).

A `ProjectConfig` is safe to pass as a Prefect flow or task parameter,
because it contains the key's source and never the key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from labelnoise.exceptions import ConfigurationError
from labelnoise.settings import Representation, Settings, TriggerMode, get_settings

ENV_PREFIX = "env:"
BLOCK_PREFIX = "block:"
# The source of the implicit project's key: the `EI_API_KEY` setting, which
# may come from the environment, a `.env` file or the config file.
SETTINGS_KEY_SOURCE = "setting:EI_API_KEY"


class Thresholds(BaseModel):
    """Diff thresholds of one project; unset fields take the settings' values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cv_zscore_threshold: float | None = None
    net_new_tolerance: int | None = Field(default=None, ge=0)
    rate_points: float | None = Field(default=None, ge=0)


class ProjectConfig(BaseModel):
    """One Edge Impulse project to track, with the source of its API key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # None only for the implicit project, whose id is resolved from its key.
    id: int | None = Field(default=None, gt=0)
    name: str | None = None
    api_key_source: str = SETTINGS_KEY_SOURCE
    trigger_mode: TriggerMode = TriggerMode.AUTO
    representation: Representation | None = None
    cv_zscore_threshold: float = -2.0
    net_new_tolerance: int = Field(default=0, ge=0)
    rate_points: float = Field(default=1.0, ge=0)

    @field_validator("api_key_source")
    @classmethod
    def _check_key_source(cls, value: str) -> str:
        # The message never repeats the value: a user may have pasted a key.
        if value == SETTINGS_KEY_SOURCE:
            return value
        for prefix in (ENV_PREFIX, BLOCK_PREFIX):
            if value.startswith(prefix) and value[len(prefix) :].strip():
                return value
        raise ValueError(
            "must be 'env:VARIABLE' or 'block:SECRET_BLOCK_NAME'; API keys themselves "
            "are not accepted in the projects file"
        )

    @property
    def known_id(self) -> int:
        """The project id, once known; the implicit project learns it from Studio."""
        if self.id is None:
            raise ConfigurationError(
                "The project id is not known yet; read the project from Studio first"
            )
        return self.id

    @property
    def label(self) -> str:
        """Name used in logs and summaries, such as `project 42 (Keyword spotting)`."""
        project = "project ?" if self.id is None else f"project {self.id}"
        return f"{project} ({self.name})" if self.name else project


def load_projects(
    path: Path | None = None, settings: Settings | None = None
) -> list[ProjectConfig]:
    """Read the projects of a run from `path`, or describe the single `EI_API_KEY` project.

    `path` defaults to the `projects_file` setting. Raises `ConfigurationError`
    when the file is missing or invalid, or when there is neither a file nor a key.
    """
    settings = settings or get_settings()
    path = path or settings.projects_file
    if path is None:
        return [implicit_project(settings)]
    return _read_projects_file(path, settings)


def implicit_project(settings: Settings) -> ProjectConfig:
    """Describe the one project of the `EI_API_KEY` setting."""
    if settings.ei_api_key is None:
        raise ConfigurationError(
            "No projects file and no EI_API_KEY: set EI_API_KEY (and optionally "
            "EI_PROJECT_ID), or LABELNOISE_PROJECTS_FILE to a projects file, or run "
            "`labelnoise demo` to try the bundled emulator"
        )
    return ProjectConfig(
        id=settings.ei_project_id,
        api_key_source=SETTINGS_KEY_SOURCE,
        **_setting_defaults(settings),
    )


def select_project(projects: list[ProjectConfig], project_id: int | None) -> ProjectConfig:
    """Pick the project with `project_id`, or the only project when `project_id` is None.

    The implicit project has no id until Studio resolves it, so it takes
    `project_id` as its id. With `EI_PROJECT_ID` set, any other id is rejected.
    """
    if project_id is None:
        if len(projects) == 1:
            return projects[0]
        known = ", ".join(str(project.id) for project in projects)
        raise ConfigurationError(
            f"The projects file lists {len(projects)} projects ({known}); "
            "choose one with --project ID"
        )

    for project in projects:
        if project.id == project_id:
            return project
    if len(projects) == 1 and projects[0].api_key_source == SETTINGS_KEY_SOURCE:
        implicit = projects[0]
        if implicit.id is None:
            return implicit.model_copy(update={"id": project_id})
        raise ConfigurationError(
            f"Project {project_id} is not configured: without a projects file, labelnoise "
            f"tracks only the EI_API_KEY project, project {implicit.id} (EI_PROJECT_ID); "
            f"leave out --project, or list project {project_id} in a projects file "
            "(LABELNOISE_PROJECTS_FILE)"
        )

    known = ", ".join(str(project.id) for project in projects)
    raise ConfigurationError(f"Project {project_id} is not in the projects file; it lists {known}")


def resolve_api_key(source: str, project_id: int | None = None) -> SecretStr:
    """Read the API key that `source` names, at the moment it is needed.

    Raises `ConfigurationError` naming the source and `project_id` (never
    the key) when the variable is unset or empty, or the Secret block
    cannot be loaded.
    """
    owner = "an API key" if project_id is None else f"the API key of project {project_id}"
    if source == SETTINGS_KEY_SOURCE:
        key = get_settings().ei_api_key
        if key is None or not key.get_secret_value():
            raise ConfigurationError("EI_API_KEY is not set; set it to the project's API key")
        return key

    if source.startswith(ENV_PREFIX):
        variable = source[len(ENV_PREFIX) :]
        value = os.environ.get(variable, "")
        if not value:
            raise ConfigurationError(
                f"The environment variable {variable} that should hold {owner} "
                "is unset or empty; set it, or change api_key_source in the projects file"
            )
        return SecretStr(value)

    if source.startswith(BLOCK_PREFIX):
        return _read_secret_block(source[len(BLOCK_PREFIX) :])

    raise ConfigurationError(
        "An API key source must be 'env:VARIABLE' or 'block:SECRET_BLOCK_NAME'"
    )


def _read_secret_block(name: str) -> SecretStr:
    # Imported here because loading a block talks to the Prefect API, which
    # only this source needs.
    from prefect.blocks.system import Secret

    try:
        # Called from synchronous code, `load` returns the block itself;
        # its annotation also allows the coroutine of asynchronous callers.
        block = cast("Secret[str]", Secret.load(name, validate=True))
    except ValueError as exc:
        raise ConfigurationError(
            f"The Prefect Secret block {name!r} could not be loaded; create it with "
            f"`prefect block create secret` or fix api_key_source ({type(exc).__name__})"
        ) from exc

    # `Secret.get()` would JSON-decode the value; the key is wanted verbatim.
    value = block.value.get_secret_value()
    if not isinstance(value, str) or not value:
        raise ConfigurationError(
            f"The Prefect Secret block {name!r} must contain the API key as a non-empty string"
        )
    return SecretStr(value)


def _setting_defaults(settings: Settings) -> dict[str, Any]:
    return {
        "trigger_mode": settings.trigger_mode,
        "representation": settings.representation,
        "cv_zscore_threshold": settings.cv_zscore_threshold,
        "net_new_tolerance": settings.regression_net_new_tolerance,
        "rate_points": settings.regression_rate_points,
    }


def _read_projects_file(path: Path, settings: Settings) -> list[ProjectConfig]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"Projects file {path} not found; create it or unset LABELNOISE_PROJECTS_FILE"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"Projects file {path} could not be read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"Projects file {path} is not valid TOML: {exc}") from exc

    unknown = sorted(set(document) - {"defaults", "projects"})
    if unknown:
        raise ConfigurationError(
            f"Projects file {path} has unknown top-level keys {unknown}; "
            "expected only [defaults] and [[projects]]"
        )
    entries = document.get("projects")
    if not isinstance(entries, list) or not entries:
        raise ConfigurationError(
            f"Projects file {path} lists no projects; add at least one [[projects]] table"
        )

    defaults = _setting_defaults(settings)
    file_defaults = _flatten_entry(path, "[defaults]", document.get("defaults", {}))
    per_project = sorted(set(file_defaults) & {"id", "name", "api_key_source"})
    if per_project:
        raise ConfigurationError(
            f"Projects file {path}: [defaults] may not set {per_project}; "
            "set them in each [[projects]] table"
        )
    defaults.update(file_defaults)
    projects = [
        _parse_entry(path, position, entry, defaults)
        for position, entry in enumerate(entries, start=1)
    ]
    _check_unique_ids(path, projects)
    return projects


def _parse_entry(
    path: Path, position: int, entry: object, defaults: dict[str, Any]
) -> ProjectConfig:
    where = f"project #{position}"
    fields = {**defaults, **_flatten_entry(path, where, entry)}
    if "id" not in fields:
        raise ConfigurationError(f"Projects file {path}: {where} has no id")
    if "api_key_source" not in fields:
        raise ConfigurationError(
            f"Projects file {path}: {where} has no api_key_source; set it to "
            "'env:VARIABLE' or 'block:SECRET_BLOCK_NAME'"
        )
    try:
        return ProjectConfig.model_validate(fields)
    except ValidationError as exc:
        raise ConfigurationError(
            f"Projects file {path}: {where} is invalid: {_describe_errors(exc)}"
        ) from None


def _flatten_entry(path: Path, where: str, entry: object) -> dict[str, Any]:
    """Merge an entry's `[thresholds]` table into its own fields."""
    if not isinstance(entry, dict):
        raise ConfigurationError(f"Projects file {path}: {where} must be a table")
    fields = {key: value for key, value in entry.items() if key != "thresholds"}
    if "thresholds" in entry:
        try:
            thresholds = Thresholds.model_validate(entry["thresholds"])
        except ValidationError as exc:
            raise ConfigurationError(
                f"Projects file {path}: thresholds of {where} are invalid: {_describe_errors(exc)}"
            ) from None
        fields.update(thresholds.model_dump(exclude_none=True))
    return fields


def _describe_errors(exc: ValidationError) -> str:
    # Built from locations and messages only: pydantic's own text repeats the
    # input value, which could be an API key pasted into the wrong field.
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "entry"
        parts.append(f"{location}: {error['msg']}")
    return "; ".join(parts)


def _check_unique_ids(path: Path, projects: list[ProjectConfig]) -> None:
    seen: set[int | None] = set()
    for project in projects:
        if project.id in seen:
            raise ConfigurationError(
                f"Projects file {path} lists project {project.id} twice; keep one entry"
            )
        seen.add(project.id)
