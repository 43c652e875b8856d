"""The one factory for the `httpx.Client` that talks to Studio.

Every run builds its client here, so timeouts, the base URL, the user agent
and authentication are set in one place.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx
from pydantic import SecretStr

from labelnoise import __version__
from labelnoise.exceptions import ConfigurationError
from labelnoise.redaction import redact_url
from labelnoise.settings import Settings

USER_AGENT = f"labelnoise/{__version__}"
API_KEY_HEADER = "x-api-key"


class ApiKeyAuth(httpx.Auth):
    """Send a Studio project API key in the `x-api-key` header of every request.

    The key stays a `SecretStr` until the header is built, so the object's
    repr and any settings dump show it masked.
    """

    def __init__(self, api_key: SecretStr) -> None:
        if not api_key.get_secret_value().strip():
            raise ConfigurationError(
                "The Studio API key is empty. Set EI_API_KEY to a project API key."
            )
        self._api_key = api_key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[API_KEY_HEADER] = self._api_key.get_secret_value()
        yield request

    def __repr__(self) -> str:
        return f"ApiKeyAuth(api_key={self._api_key!r})"


def build_timeout(settings: Settings) -> httpx.Timeout:
    """Return the timeouts of every Studio request, in seconds.

    Writes get the read timeout because request bodies are tiny. Waiting for
    a pooled connection gets the connect timeout.
    """
    return httpx.Timeout(
        connect=settings.connect_timeout,
        read=settings.read_timeout,
        write=settings.read_timeout,
        pool=settings.connect_timeout,
    )


def create_http_client(
    api_key: SecretStr,
    *,
    base_url: str,
    settings: Settings,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """Build the `httpx.Client` for one run; the caller closes it.

    `base_url` is the API root ending in `/v1`, for example
    `https://studio.edgeimpulse.com/v1`. `transport` replaces the network,
    which tests use with `httpx.MockTransport`.
    """
    invalid_endpoint = ConfigurationError(
        f"Invalid Studio endpoint {redact_url(base_url)!r}: expected an http or https URL "
        "such as https://studio.edgeimpulse.com/v1. Check EI_API_ENDPOINT."
    )
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise invalid_endpoint from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise invalid_endpoint
    return httpx.Client(
        base_url=url,
        auth=ApiKeyAuth(api_key),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        timeout=build_timeout(settings),
        follow_redirects=False,
        transport=transport,
    )
