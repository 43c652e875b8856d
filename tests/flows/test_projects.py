"""The projects file: parsing, defaults, validation, and reading API keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.blocks.system import Secret
from pydantic import SecretStr

from labelnoise.exceptions import ConfigurationError
from labelnoise.projects import (
    SETTINGS_KEY_SOURCE,
    ProjectConfig,
    load_projects,
    resolve_api_key,
    select_project,
)
from labelnoise.settings import Representation, Settings, TriggerMode, get_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "projects.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def settings() -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        ei_api_key=None,
        projects_file=None,
        trigger_mode=TriggerMode.AUTO,
        representation=None,
        cv_zscore_threshold=-2.0,
        regression_net_new_tolerance=0,
        regression_rate_points=1.0,
    )


def test_projects_file_full_entry(tmp_path: Path, settings: Settings) -> None:
    path = write(
        tmp_path,
        """
        [[projects]]
        id = 123456
        name = "Keyword spotting"
        api_key_source = "env:EI_KEY_KWS"
        trigger_mode = "never"
        representation = "keywords"

        [projects.thresholds]
        cv_zscore_threshold = -2.5
        net_new_tolerance = 2
        rate_points = 1.5
        """,
    )

    projects = load_projects(path, settings)

    assert projects == [
        ProjectConfig(
            id=123456,
            name="Keyword spotting",
            api_key_source="env:EI_KEY_KWS",
            trigger_mode=TriggerMode.NEVER,
            representation=Representation.KEYWORDS,
            cv_zscore_threshold=-2.5,
            net_new_tolerance=2,
            rate_points=1.5,
        )
    ]


def test_projects_file_defaults_fill_entries(tmp_path: Path, settings: Settings) -> None:
    path = write(
        tmp_path,
        """
        [defaults]
        trigger_mode = "always"
        [defaults.thresholds]
        rate_points = 3.0

        [[projects]]
        id = 1
        api_key_source = "block:first-key"

        [[projects]]
        id = 2
        api_key_source = "env:SECOND_KEY"
        trigger_mode = "never"
        """,
    )

    first, second = load_projects(path, settings)

    assert first.trigger_mode is TriggerMode.ALWAYS
    assert first.rate_points == 3.0
    assert first.cv_zscore_threshold == -2.0
    assert first.name is None
    assert second.trigger_mode is TriggerMode.NEVER
    assert second.rate_points == 3.0


def test_projects_file_settings_are_defaults(tmp_path: Path, settings: Settings) -> None:
    path = write(tmp_path, '[[projects]]\nid = 7\napi_key_source = "env:K"\n')
    custom = settings.model_copy(
        update={"trigger_mode": TriggerMode.NEVER, "regression_net_new_tolerance": 5}
    )

    (project,) = load_projects(path, custom)

    assert project.trigger_mode is TriggerMode.NEVER
    assert project.net_new_tolerance == 5


def test_literal_key_rejected_without_echo(tmp_path: Path, settings: Settings) -> None:
    key = "ei_0123456789abcdef0123456789abcdef"
    path = write(tmp_path, f'[[projects]]\nid = 7\napi_key_source = "{key}"\n')

    with pytest.raises(ConfigurationError) as raised:
        load_projects(path, settings)

    assert str(raised.value) == (
        f"Projects file {path}: project #1 is invalid: api_key_source: Value error, "
        "must be 'env:VARIABLE' or 'block:SECRET_BLOCK_NAME'; API keys themselves are "
        "not accepted in the projects file"
    )
    assert key not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '[[projects]]\napi_key_source = "env:K"\n',
            "Projects file {path}: project #1 has no id",
            id="missing-id",
        ),
        pytest.param(
            "[[projects]]\nid = 3\n",
            "Projects file {path}: project #1 has no api_key_source; set it to "
            "'env:VARIABLE' or 'block:SECRET_BLOCK_NAME'",
            id="missing-key-source",
        ),
        pytest.param(
            '[[projects]]\nid = 3\napi_key_source = "env:K"\n'
            '[[projects]]\nid = 3\napi_key_source = "env:L"\n',
            "Projects file {path} lists project 3 twice; keep one entry",
            id="duplicate-id",
        ),
        pytest.param(
            '[[projects]]\nid = 3\napi_key_source = "env:K"\nschedule = "daily"\n',
            "Projects file {path}: project #1 is invalid: schedule: Extra inputs are not permitted",
            id="unknown-field",
        ),
        pytest.param(
            '[[projects]]\nid = 3\napi_key_source = "env:K"\ntrigger_mode = "sometimes"\n',
            "Projects file {path}: project #1 is invalid: trigger_mode: Input should be "
            "'always', 'auto' or 'never'",
            id="bad-trigger-mode",
        ),
        pytest.param(
            '[[projects]]\nid = 3\napi_key_source = "env:K"\n'
            "[projects.thresholds]\nnet_new_tolerance = -1\n",
            "Projects file {path}: thresholds of project #1 are invalid: net_new_tolerance: "
            "Input should be greater than or equal to 0",
            id="negative-tolerance",
        ),
        pytest.param(
            '[defaults]\napi_key_source = "env:K"\n[[projects]]\nid = 3\n',
            "Projects file {path}: [defaults] may not set ['api_key_source']; set them in "
            "each [[projects]] table",
            id="key-in-defaults",
        ),
        pytest.param(
            "[defaults]\ntrigger_mode = 'auto'\n",
            "Projects file {path} lists no projects; add at least one [[projects]] table",
            id="no-projects",
        ),
        pytest.param(
            "[project]\nid = 3\n",
            "Projects file {path} has unknown top-level keys ['project']; expected only "
            "[defaults] and [[projects]]",
            id="misspelt-table",
        ),
    ],
)
def test_projects_file_invalid(tmp_path: Path, settings: Settings, text: str, message: str) -> None:
    path = write(tmp_path, text)

    with pytest.raises(ConfigurationError) as raised:
        load_projects(path, settings)

    assert str(raised.value) == message.format(path=path)


def test_projects_file_not_toml(tmp_path: Path, settings: Settings) -> None:
    path = write(tmp_path, "[[projects]\n")

    with pytest.raises(ConfigurationError, match=r"is not valid TOML: "):
        load_projects(path, settings)


def test_projects_file_missing(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "absent.toml"

    with pytest.raises(ConfigurationError) as raised:
        load_projects(path, settings)

    assert str(raised.value) == (
        f"Projects file {path} not found; create it or unset LABELNOISE_PROJECTS_FILE"
    )


def test_no_file_and_key_is_one_project(settings: Settings) -> None:
    with_key = settings.model_copy(update={"ei_api_key": SecretStr("ei_key"), "ei_project_id": 42})

    assert load_projects(None, with_key) == [
        ProjectConfig(id=42, api_key_source=SETTINGS_KEY_SOURCE, trigger_mode=TriggerMode.AUTO)
    ]


def test_no_file_and_no_key_fails(settings: Settings) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_projects(None, settings)

    assert str(raised.value) == (
        "No projects file and no EI_API_KEY: set EI_API_KEY (and optionally "
        "EI_PROJECT_ID), or LABELNOISE_PROJECTS_FILE to a projects file, or run "
        "`labelnoise demo` to try the bundled emulator"
    )


def test_select_project_by_id() -> None:
    projects = [
        ProjectConfig(id=1, api_key_source="env:A"),
        ProjectConfig(id=2, api_key_source="env:B"),
    ]

    assert select_project(projects, 2) is projects[1]


def test_select_project_unknown_id() -> None:
    projects = [ProjectConfig(id=1, api_key_source="env:A")]

    with pytest.raises(ConfigurationError) as raised:
        select_project(projects, 5)

    assert str(raised.value) == "Project 5 is not in the projects file; it lists 1"


def test_select_project_needs_id_among_several() -> None:
    projects = [
        ProjectConfig(id=1, api_key_source="env:A"),
        ProjectConfig(id=2, api_key_source="env:B"),
    ]

    with pytest.raises(ConfigurationError) as raised:
        select_project(projects, None)

    assert str(raised.value) == (
        "The projects file lists 2 projects (1, 2); choose one with --project ID"
    )


def test_select_implicit_project_other_id() -> None:
    implicit = ProjectConfig(id=1)

    with pytest.raises(ConfigurationError) as raised:
        select_project([implicit], 999)

    assert str(raised.value) == (
        "Project 999 is not configured: without a projects file, labelnoise tracks "
        "only the EI_API_KEY project, project 1 (EI_PROJECT_ID); leave out --project, "
        "or list project 999 in a projects file (LABELNOISE_PROJECTS_FILE)"
    )


def test_select_project_gives_implicit_project_its_id() -> None:
    implicit = ProjectConfig(id=None)

    assert select_project([implicit], 9).id == 9


def test_resolve_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABELNOISE_TEST_KEY", "ei_from_env")

    assert resolve_api_key("env:LABELNOISE_TEST_KEY").get_secret_value() == "ei_from_env"


def test_resolve_key_unset_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELNOISE_TEST_KEY", raising=False)

    with pytest.raises(ConfigurationError) as raised:
        resolve_api_key("env:LABELNOISE_TEST_KEY")

    assert str(raised.value) == (
        "The environment variable LABELNOISE_TEST_KEY that should hold an API key is "
        "unset or empty; set it, or change api_key_source in the projects file"
    )


def test_resolve_key_unset_variable_names_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LABELNOISE_TEST_KEY", raising=False)

    with pytest.raises(ConfigurationError) as raised:
        resolve_api_key("env:LABELNOISE_TEST_KEY", project_id=123456)

    assert str(raised.value) == (
        "The environment variable LABELNOISE_TEST_KEY that should hold the API key of "
        "project 123456 is unset or empty; set it, or change api_key_source in the "
        "projects file"
    )


def test_resolve_key_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EI_API_KEY", "ei_from_settings")
    get_settings.cache_clear()
    try:
        key = resolve_api_key(SETTINGS_KEY_SOURCE)
    finally:
        get_settings.cache_clear()

    assert key.get_secret_value() == "ei_from_settings"


def test_resolve_key_from_secret_block(prefect_harness: None) -> None:
    Secret(value="ei_from_block").save("labelnoise-test-key", overwrite=True)

    assert resolve_api_key("block:labelnoise-test-key").get_secret_value() == "ei_from_block"


def test_resolve_key_missing_block(prefect_harness: None) -> None:
    with pytest.raises(ConfigurationError) as raised:
        resolve_api_key("block:labelnoise-no-such-block")

    assert str(raised.value) == (
        "The Prefect Secret block 'labelnoise-no-such-block' could not be loaded; create it "
        "with `prefect block create secret` or fix api_key_source (ValueError)"
    )
