"""One typed settings object for the whole tool.

Values come, highest priority first, from keyword arguments, environment
variables, a `.env` file in the working directory, and a TOML config file
(`LABELNOISE_CONFIG`, or `labelnoise.toml` in the working directory when it
exists). Most variables carry the `LABELNOISE_` prefix; the Edge Impulse SDK
names (`EI_API_KEY`, `EI_API_ENDPOINT`, `EI_PROJECT_ID`) and `DATABASE_URL`
are read as they are, so existing environments keep working.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, NonNegativeFloat, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_STUDIO_ENDPOINT = "https://studio.edgeimpulse.com/v1"
CONFIG_FILE_ENV = "LABELNOISE_CONFIG"
DEFAULT_CONFIG_FILE = Path("labelnoise.toml")
DEFAULT_TASK_RETRY_DELAYS = (30.0, 120.0)


class TriggerMode(StrEnum):
    """Whether a run asks Studio to recalculate before fetching results.

    The trigger endpoint is documented as available to Edge Impulse staff only,
    so an ordinary project key may be rejected.
    """

    ALWAYS = "always"  # a rejected trigger fails the run
    AUTO = "auto"  # a rejected trigger is logged once; the run fetches what Studio has
    NEVER = "never"  # fetch only


class Representation(StrEnum):
    """Values of `representation` accepted by `calculateDataQualityMetrics`."""

    KEYWORDS = "keywords"
    IMAGES = "images"
    CURRENT_IMPULSE = "current-impulse"
    CURRENT_IMPULSE_EMBEDDINGS = "current-impulse-embeddings"


Seconds = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    """Every setting of labelnoise, read once per process."""

    model_config = SettingsConfigDict(
        env_prefix="LABELNOISE_",
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
    )

    # Warehouse.
    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "LABELNOISE_DATABASE_URL", "database_url"),
        description="PostgreSQL URL. Unset: an embedded PostgreSQL in `data_dir`.",
    )
    data_dir: Path = Field(
        default=Path(".labelnoise"),
        description="Folder for the embedded PostgreSQL and other local state.",
    )

    # Studio.
    ei_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("EI_API_KEY", "ei_api_key"),
        description="Project API key. Unset: the bundled emulator is started instead.",
    )
    ei_api_endpoint: str = Field(
        default=DEFAULT_STUDIO_ENDPOINT,
        validation_alias=AliasChoices("EI_API_ENDPOINT", "ei_api_endpoint"),
        description="Studio API base URL, ending in /v1.",
    )
    ei_project_id: int | None = Field(
        default=None,
        validation_alias=AliasChoices("EI_PROJECT_ID", "ei_project_id"),
        description="Project id. Unset: resolved from the API key.",
    )
    projects_file: Path | None = Field(
        default=None,
        description="TOML file listing the projects of the nightly run.",
    )

    # HTTP behaviour, in seconds unless the name says otherwise.
    connect_timeout: Seconds = 10.0
    read_timeout: Seconds = 60.0
    max_retries: int = Field(default=5, ge=0)
    retry_backoff_initial: Seconds = 1.0
    retry_backoff_max: Seconds = 60.0
    retry_after_max: Seconds = 300.0

    # Waiting for the data-quality job, in seconds.
    poll_interval_initial: Seconds = 2.0
    poll_interval_max: Seconds = 60.0
    job_deadline: Seconds = 3600.0
    resume_window: Seconds = Field(
        default=6 * 3600.0,
        description="A crashed run's job younger than this is resumed instead of restarted.",
    )

    # Keeping two runs of one project apart, in seconds.
    run_lock_timeout: Seconds = Field(
        default=7200.0,
        description=(
            "A run waits at most this long for another run of its project to finish. "
            "The other run may itself wait `job_deadline` for its job, then fetch and load."
        ),
    )
    run_lock_poll_interval: Seconds = Field(
        default=2.0, description="How often a waiting run checks whether the other run finished."
    )

    # Prefect task retries, on top of the Studio client's per-request retries.
    task_retries: int = Field(
        default=2,
        ge=0,
        description="Retries of a task that lost its database connection. 0 turns them off.",
    )
    task_retry_delays: list[NonNegativeFloat] = Field(
        default=list(DEFAULT_TASK_RETRY_DELAYS),
        min_length=1,
        max_length=50,  # Prefect 3 rejects longer lists of retry delays
        description=(
            "Seconds before each task retry, as a JSON list; the last value "
            "repeats when there are more retries than values."
        ),
    )

    # Pipeline.
    trigger_mode: TriggerMode = TriggerMode.AUTO
    representation: Representation | None = None
    max_concurrency: int = Field(default=4, ge=1, description="Projects run at once by nightly.")

    # Diff thresholds.
    cv_zscore_threshold: float = Field(
        default=-2.0, description="A window is flagged by cross validation at or below this."
    )
    regression_net_new_tolerance: int = Field(
        default=0, ge=0, description="New flags may exceed resolved flags by this many."
    )
    regression_rate_points: float = Field(
        default=1.0, ge=0, description="Rise of a method's flagged rate, in percentage points."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        toml_settings = TomlConfigSettingsSource(settings_cls, toml_file=config_file)
        return (init_settings, env_settings, dotenv_settings, toml_settings, file_secret_settings)

    @property
    def uses_embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def uses_emulator(self) -> bool:
        return self.ei_api_key is None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read on first use."""
    return Settings()
