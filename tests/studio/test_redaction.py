"""`redact_url` removes passwords, query strings and fragments, and nothing else."""

from __future__ import annotations

import httpx
import pytest

from labelnoise.redaction import redact_url


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://studio.edgeimpulse.com/v1/api/42", "https://studio.edgeimpulse.com/v1/api/42"),
        ("https://studio.example/v1/api/42?apiKey=ei_123", "https://studio.example/v1/api/42?***"),
        ("https://studio.example/v1#token=abc", "https://studio.example/v1#***"),
        ("postgresql://app:s3cret@db:5432/warehouse", "postgresql://app:***@db:5432/warehouse"),
        ("postgresql://app@db/warehouse", "postgresql://app@db/warehouse"),
        ("postgresql://:s3cret@db/warehouse", "postgresql://:***@db/warehouse"),
        ("postgresql:///warehouse?host=/tmp&password=x", "postgresql:///warehouse?***"),
        ("http://[::1]:8080/v1", "http://[::1]:8080/v1"),
        ("/v1/api/42/raw-data?category=all", "/v1/api/42/raw-data?***"),
    ],
    ids=[
        "plain",
        "query",
        "fragment",
        "password",
        "user-only",
        "password-only",
        "empty-host",
        "ipv6",
        "path-only",
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_redact_url_accepts_httpx_url() -> None:
    url = httpx.URL("http://127.0.0.1:9/v1/api/42/raw-data", params={"offset": 500})

    assert redact_url(url) == "http://127.0.0.1:9/v1/api/42/raw-data?***"


@pytest.mark.parametrize(
    "url",
    ["http://user:s3cret@[::1/v1", "http://user:s3cret@host:99999/v1"],
    ids=["bad-ipv6", "bad-port"],
)
def test_redact_unparseable_url_hides_everything(url: str) -> None:
    assert redact_url(url) == "<invalid URL>"
