"""Send Studio API calls with retries, and turn every failure into a `StudioError`.

This module is the boundary where httpx exceptions, HTTP statuses and the
`success: false` envelope become the exceptions of `labelnoise.exceptions`.
Callers get only `StudioError` subclasses, never an httpx exception.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import msgspec
from pydantic import SecretStr

from labelnoise.exceptions import (
    InvalidPayloadError,
    StudioApiError,
    StudioAuthenticationError,
    StudioError,
    StudioNotFoundError,
    StudioRateLimitedError,
    StudioServerError,
    StudioTransportError,
)
from labelnoise.redaction import redact_url
from models.studio import Envelope
from studio.retry import (
    RETRYABLE_STATUS_CODES,
    TRANSIENT_ERRORS,
    UNSENT_REQUEST_ERRORS,
    RetryPolicy,
    parse_retry_after,
    response_time,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Studio's `error` text is quoted in messages up to this many characters.
MAX_ERROR_TEXT = 300

_envelope_decoder = msgspec.json.Decoder(Envelope)


class RetryMode(enum.Enum):
    """Retry rule of a call: the failures it may retry, as `studio.retry` lists them."""

    IDEMPOTENT = "idempotent"
    # For a POST that starts a job: only failures that prove no job started.
    UNSENT_ONLY = "unsent-only"


@dataclass(frozen=True)
class Call:
    """One Studio API call.

    `name` describes the call in messages ("job status"). `path` is relative
    to the client's base URL. `retry_rate_limited=False` raises
    `StudioRateLimitedError` on the first 429 so that the caller can slow
    down itself, as job polling does.
    """

    name: str
    method: str
    path: str
    params: Mapping[str, str | int] | None = None
    json: Any = None
    job_id: int | None = None
    retry_mode: RetryMode = RetryMode.IDEMPOTENT
    retry_rate_limited: bool = True


class Requester:
    """Send `Call`s through one `httpx.Client`, retrying what `policy` allows.

    `project_id` is put into every error and log line, and may be set after
    construction once it has been resolved from the API key.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        api_key: SecretStr,
        policy: RetryPolicy,
        sleep: Callable[[float], None],
        project_id: int | None = None,
    ) -> None:
        self.http = http
        self.policy = policy
        self.project_id = project_id
        self._api_key = api_key
        self._sleep = sleep

    def send(self, call: Call) -> bytes:
        """Send `call` and return the body of its successful response.

        Retries as `call.retry_mode` and the policy allow, sleeping between
        attempts. Raises a `StudioError` subclass for a failed status, a
        transport failure, a body that is not a JSON object with a boolean
        `success`, or `success: false`.
        """
        request = self.http.build_request(
            call.method, call.path, params=call.params, json=call.json
        )
        attempt = 0
        while True:
            try:
                response = self.http.send(request)
            except httpx.RequestError as exc:
                if not self._may_retry_error(exc, call, attempt):
                    raise self._transport_error(exc, call, request, attempt + 1) from exc
                delay = self.policy.backoff(attempt)
                self._log_retry(call, request, type(exc).__name__, delay, attempt)
            else:
                if response.is_success:
                    self._log_response(call, request, response)
                    self._check_envelope(response.content, call, request, response.status_code)
                    return response.content
                if not self._may_retry_status(response.status_code, call, attempt):
                    raise self._status_error(response, call, request, attempt + 1)
                delay = self.policy.delay(attempt, self._retry_after(response))
                self._log_retry(call, request, f"HTTP {response.status_code}", delay, attempt)

            self._sleep(delay)
            attempt += 1

    def decode(self, body: bytes, decoder: msgspec.json.Decoder[T], call: Call) -> T:
        """Decode a successful body, raising `InvalidPayloadError` with the JSON path."""
        try:
            return decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise InvalidPayloadError(
                f"Invalid {call.name} response: {exc}. Studio's API may have changed, "
                "or the endpoint is not Studio.",
                **self._context(call, self.url(call)),
            ) from exc
        except msgspec.DecodeError as exc:
            raise InvalidPayloadError(
                f"The {call.name} response is not valid JSON ({len(body)} bytes): {exc}",
                **self._context(call, self.url(call)),
            ) from exc

    # Retry decisions.

    def _may_retry_error(self, exc: httpx.RequestError, call: Call, attempt: int) -> bool:
        if attempt >= self.policy.max_retries:
            return False
        if call.retry_mode is RetryMode.UNSENT_ONLY:
            return isinstance(exc, UNSENT_REQUEST_ERRORS)
        return isinstance(exc, TRANSIENT_ERRORS)

    def _may_retry_status(self, status: int, call: Call, attempt: int) -> bool:
        if attempt >= self.policy.max_retries:
            return False
        if status == 429:
            return call.retry_rate_limited
        # A 502, 503 or 504 to a job-starting POST may come from a proxy after
        # Studio started the job, so only idempotent calls retry them.
        return status in RETRYABLE_STATUS_CODES and call.retry_mode is RetryMode.IDEMPOTENT

    def _retry_after(self, response: httpx.Response) -> float | None:
        header = response.headers.get("retry-after")
        if header is None:
            return None
        seconds = parse_retry_after(header, now=response_time(response))
        if seconds is None:
            logger.warning(
                "Ignoring invalid Retry-After header %r from Studio (HTTP %d)",
                header[:80],
                response.status_code,
            )
        return seconds

    # Checks of successful responses.

    def _check_envelope(self, body: bytes, call: Call, request: httpx.Request, status: int) -> None:
        context = self._context(call, request.url, status)
        try:
            envelope = _envelope_decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise InvalidPayloadError(
                f"Invalid {call.name} response: {exc}. Every Studio response is a JSON "
                "object with a boolean `success`, so the endpoint may not be Studio.",
                **context,
            ) from exc
        except msgspec.DecodeError as exc:
            raise InvalidPayloadError(
                f"The {call.name} response is not valid JSON ({len(body)} bytes): {exc}. "
                "A truncated body usually means a dropped connection. Try again.",
                **context,
            ) from exc
        if not envelope.success:
            raise StudioApiError(
                f"Studio reported a failure for the {call.name} request: "
                f"{self._quote(envelope.error) or 'no error text'}",
                **context,
            )

    # Exceptions.

    def _status_error(
        self, response: httpx.Response, call: Call, request: httpx.Request, attempts: int
    ) -> StudioError:
        status = response.status_code
        context = self._context(call, request.url, status)
        said = self._error_text(response)
        said = f": {said}" if said else ""
        tries = f" after {attempts} attempts" if attempts > 1 else ""

        if status in (401, 403):
            advice = "Check EI_API_KEY and that the key belongs to this project."
            if call.retry_mode is RetryMode.UNSENT_ONLY:
                advice += (
                    " Starting a data-quality job is documented as available to Edge Impulse "
                    "staff only. Set LABELNOISE_TRIGGER_MODE to auto or never to fetch "
                    "the results Studio already has."
                )
            return StudioAuthenticationError(
                f"Studio rejected the API key for the {call.name} request{said}. {advice}",
                **context,
            )
        if status == 404:
            return StudioNotFoundError(
                f"Studio found nothing for the {call.name} request{said}. "
                "Check the project id and the job or sample id.",
                **context,
            )
        if status == 429:
            return StudioRateLimitedError(
                f"Studio rate-limited the {call.name} request{tries}{said}. "
                "Try again later, or raise LABELNOISE_MAX_RETRIES.",
                retry_after=self._retry_after(response),
                **context,
            )
        if status >= 500:
            message = f"Studio failed the {call.name} request{tries}{said}."
            if call.retry_mode is RetryMode.UNSENT_ONLY:
                message += self._outcome_unknown_advice()
            else:
                message += " Try again later."
            return StudioServerError(message, **context)
        return StudioApiError(
            f"Studio rejected the {call.name} request{said}.",
            **context,
        )

    def _transport_error(
        self, exc: httpx.RequestError, call: Call, request: httpx.Request, attempts: int
    ) -> StudioError:
        reason = self._quote(str(exc)) or type(exc).__name__
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        message = f"The {call.name} request failed{tries} with {type(exc).__name__} ({reason})."
        if call.retry_mode is RetryMode.UNSENT_ONLY and not isinstance(exc, UNSENT_REQUEST_ERRORS):
            message += self._outcome_unknown_advice()
        else:
            message += " Check the network and EI_API_ENDPOINT, then try again."
        return StudioTransportError(message, **self._context(call, request.url))

    @staticmethod
    def _outcome_unknown_advice() -> str:
        return (
            " The request may have reached Studio and started a job, so it was not retried,"
            " to avoid starting a second one. Check the project's jobs in Studio before"
            " running again."
        )

    def _context(self, call: Call, url: httpx.URL, status: int | None = None) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "job_id": call.job_id,
            "method": call.method,
            "endpoint": redact_url(url),
            "status_code": status,
        }

    def url(self, call: Call) -> httpx.URL:
        """Return the full URL that `call` requests."""
        return self.http.build_request(call.method, call.path, params=call.params).url

    def _error_text(self, response: httpx.Response) -> str | None:
        """Return Studio's `error` text from an error response, if it sent one."""
        try:
            envelope = _envelope_decoder.decode(response.content)
        except msgspec.DecodeError:  # ValidationError is a subclass: any unexpected body
            return None
        return self._quote(envelope.error)

    def scrub(self, text: str) -> str:
        """Return server-supplied text with the API key masked, in case Studio echoed it."""
        secret = self._api_key.get_secret_value()
        return text.replace(secret, "***") if secret else text

    def _quote(self, text: str | None) -> str | None:
        """Scrub and shorten server-supplied text for a message."""
        if not text:
            return None
        text = self.scrub(text)
        if len(text) > MAX_ERROR_TEXT:
            text = text[:MAX_ERROR_TEXT] + "..."
        return text

    # Logging.

    def _log_retry(
        self, call: Call, request: httpx.Request, failure: str, delay: float, attempt: int
    ) -> None:
        logger.warning(
            "Studio %s request for project %s failed with %s, retry %d of %d in %.1f s (%s %s)",
            call.name,
            self.project_id,
            failure,
            attempt + 1,
            self.policy.max_retries,
            delay,
            call.method,
            redact_url(request.url),
        )

    def _log_response(self, call: Call, request: httpx.Request, response: httpx.Response) -> None:
        logger.debug(
            "Studio %s request for project %s returned HTTP %d, %d bytes (%s %s)",
            call.name,
            self.project_id,
            response.status_code,
            len(response.content),
            call.method,
            redact_url(request.url),
        )
