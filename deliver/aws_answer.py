"""An AWS API call's outcome as a ``retry.Answer``: what the AWS destinations share.

Security Hub and the OCSF bucket answer through botocore: a response, a ``ClientError``
with an error code and an HTTP status, or a ``BotoCoreError`` (no answer at all). Throttling
and server errors are transient, as are network errors; access and input errors are
permanent (trying again sends the same request to the same refusal). Unknown codes fall
back on the HTTP status, read as ``retry`` reads any HTTP answer.

botocore retries on its own unless told not to: the clients a destination is given should
be built with ``single_attempt_config()``, so that the one retry policy is ``retry``'s.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    ParamValidationError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from deliver.http import parse_retry_after
from deliver.retry import Answer

# What the AWS destinations catch around a call; anything else is a bug and propagates.
AWS_ERRORS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)

# Error codes AWS services use for "slow down" (status 400 for some older APIs).
THROTTLING = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "Throttled",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
        "ProvisionedThroughputExceededException",
        "BandwidthLimitExceeded",
        # Security Hub: "beyond the current account or throttling limits".
        "LimitExceededException",
    }
)
# The service had a problem, whatever status came with it.
SERVER_SIDE = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalException",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Refusals that trying again does not change: status 403 or 400 when the answer has none.
ACCESS = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "InvalidAccessException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
        "AccountProblem",
    }
)
INVALID = frozenset(
    {
        "InvalidInput",
        "InvalidInputException",
        "ValidationException",
        "InvalidParameterValue",
        "InvalidRequest",
        "InvalidArgument",
        "MalformedPolicy",
        "EntityTooLarge",
        "NoSuchBucket",
        "ResourceNotFoundException",
    }
)


def ok_answer(body: str = "") -> Answer:
    """A call AWS accepted."""
    return Answer(200, body)


def single_attempt_config(timeout: float = 10.0) -> Config:
    """A client configuration for destinations: one attempt per call, bounded waits."""
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout,
        read_timeout=timeout,
    )


def answer_of_error_code(code: str, message: str, status: int | None = None) -> Answer:
    """An answer for an AWS error code (with the HTTP status when there was one)."""
    detail = f"{code}: {message}" if message else code
    if code in THROTTLING:
        return Answer(429, detail, error=code)
    if code in SERVER_SIDE:
        busy = status if status is not None and status >= 500 else 503
        return Answer(408 if code.startswith("RequestTimeout") else busy, detail, error=code)
    if code in ACCESS:
        return Answer(status if _permanent_status(status) else 403, detail, error=code)
    if code in INVALID:
        return Answer(status if _permanent_status(status) else 400, detail, error=code)
    if status is None:
        return Answer(None, error=detail)  # no status, no known code: try again
    return Answer(status, detail, error=code)


def answer_of_aws_error(exc: BaseException) -> Answer:
    """What a failed botocore call says, as an answer ``retry`` can act on."""
    if isinstance(exc, ClientError):
        response: dict[str, Any] = exc.response or {}
        error = response.get("Error") or {}
        meta = response.get("ResponseMetadata") or {}
        code = str(error.get("Code") or "")
        message = str(error.get("Message") or "")
        raw_status = meta.get("HTTPStatusCode")
        status = raw_status if isinstance(raw_status, int) else None
        headers = meta.get("HTTPHeaders") or {}
        answer = answer_of_error_code(code or f"HTTP {status}", message, status)
        wait = parse_retry_after(headers.get("retry-after")) if answer.transient else None
        if wait is not None:
            answer = Answer(answer.status, answer.body, retry_after=wait, error=answer.error)
        return answer
    if isinstance(exc, ParamValidationError):
        # The request we built does not fit the API: the same alert fails the same way.
        return Answer(400, str(exc), error=type(exc).__name__)
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return Answer(None, error=f"{type(exc).__name__}: {exc}")
    # Other botocore errors (credentials not found yet, a region missing) and anything
    # else: no answer from AWS, so nothing says it would refuse again.
    return Answer(None, error=f"{type(exc).__name__}: {exc}")


def _permanent_status(status: int | None) -> bool:
    return status is not None and 400 <= status < 500 and status not in (408, 425, 429)
