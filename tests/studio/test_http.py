"""The `httpx.Client` factory: base URL, headers, timeouts and configuration errors."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from labelnoise import __version__
from labelnoise.exceptions import ConfigurationError
from studio.http import create_http_client
from tests.studio.helpers import API_KEY, make_settings


def test_client_sends_user_agent_accept_and_key() -> None:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"success": True})

    client = create_http_client(
        SecretStr(API_KEY),
        base_url="http://127.0.0.1:9/v1",
        settings=make_settings(),
        transport=httpx.MockTransport(record),
    )
    with client:
        client.get("/api/42")

    assert str(seen[0].url) == "http://127.0.0.1:9/v1/api/42"
    assert seen[0].headers["user-agent"] == f"labelnoise/{__version__}"
    assert seen[0].headers["accept"] == "application/json"
    assert seen[0].headers["x-api-key"] == API_KEY


def test_client_timeouts_come_from_settings() -> None:
    settings = make_settings(connect_timeout=4.0, read_timeout=45.0)

    with create_http_client(
        SecretStr(API_KEY), base_url="http://127.0.0.1:9/v1", settings=settings
    ) as client:
        timeout = client.timeout

    assert timeout == httpx.Timeout(connect=4.0, read=45.0, write=45.0, pool=4.0)


def test_client_does_not_follow_redirects() -> None:
    with create_http_client(
        SecretStr(API_KEY), base_url="http://127.0.0.1:9/v1", settings=make_settings()
    ) as client:
        assert client.follow_redirects is False


@pytest.mark.parametrize(
    "base_url",
    ["ftp://127.0.0.1/v1", "127.0.0.1:9/v1", "http:///v1", "http://[::1/v1"],
    ids=["ftp", "no-scheme", "no-host", "bad-ipv6"],
)
def test_invalid_endpoint_is_a_configuration_error(base_url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_http_client(SecretStr(API_KEY), base_url=base_url, settings=make_settings())

    assert str(caught.value).startswith("Invalid Studio endpoint ")
    assert str(caught.value).endswith(
        "expected an http or https URL such as https://studio.edgeimpulse.com/v1. "
        "Check EI_API_ENDPOINT."
    )


def test_endpoint_password_is_redacted_in_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_http_client(
            SecretStr(API_KEY), base_url="ftp://user:hunter2@127.0.0.1/v1", settings=make_settings()
        )

    assert "hunter2" not in str(caught.value)
    assert "'ftp://user:***@127.0.0.1/v1'" in str(caught.value)


@pytest.mark.parametrize("key", ["", "   "], ids=["empty", "blank"])
def test_empty_key_is_a_configuration_error(key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_http_client(
            SecretStr(key), base_url="http://127.0.0.1:9/v1", settings=make_settings()
        )

    assert str(caught.value) == "The Studio API key is empty. Set EI_API_KEY to a project API key."
