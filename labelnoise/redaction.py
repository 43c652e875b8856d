"""Redact URLs before they reach a log line or an exception message.

Pass every URL through `redact_url` before it reaches a log line or an
error, so that a password in a database URL or a token in a query string
stays out of both. API keys travel only in headers, but a URL can still
carry credentials when someone configures one by hand.
"""

from __future__ import annotations

from urllib.parse import urlsplit

REDACTED = "***"
INVALID_URL = "<invalid URL>"


def redact_url(url: object) -> str:
    """Return `url` without its password, query string and fragment.

    The user name, host, port and path stay, because they are what a reader
    needs to find the failing endpoint. A password becomes `***`, and a
    dropped query string or fragment leaves a `?***` or `#***` marker so the
    reader can see that one existed. `url` is anything whose `str()` is a
    URL, such as `httpx.URL`. A value that cannot be parsed as a URL returns
    `<invalid URL>` rather than being echoed.
    """
    text = str(url)
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError:  # raised for a malformed IPv6 host or a port out of range
        return INVALID_URL

    netloc = ""
    if parts.username is not None or parts.password is not None:
        netloc = parts.username or ""
        if parts.password is not None:
            netloc += f":{REDACTED}"
        netloc += "@"
    if host is not None:
        netloc += f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"

    redacted = f"{parts.scheme}:" if parts.scheme else ""
    # `postgresql:///db` has an empty authority that must survive, so test
    # for the `//` marker rather than for a non-empty netloc.
    if text[len(redacted) :].startswith("//"):
        redacted += f"//{netloc}"
    redacted += parts.path
    if parts.query:
        redacted += f"?{REDACTED}"
    if parts.fragment:
        redacted += f"#{REDACTED}"
    return redacted
