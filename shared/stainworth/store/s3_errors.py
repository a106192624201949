"""Which S3 client failures are transient, and a few secret-free words on any failure."""

from __future__ import annotations

from minio.error import InvalidResponseError, S3Error, ServerError
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

AUTH_FAILURES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken"}
)


def root_cause(error: BaseException) -> BaseException:
    """The urllib3 reason inside a :class:`MaxRetryError`, else ``error`` itself."""
    if isinstance(error, MaxRetryError) and error.reason is not None:
        return error.reason
    return error


def http_status(error: BaseException) -> int | None:
    """The HTTP status an S3 client error carries, if any."""
    if isinstance(error, S3Error) and error.response is not None:
        return int(error.response.status)
    if isinstance(error, ServerError):
        return error.status_code
    if isinstance(error, InvalidResponseError):
        return int(getattr(error, "_code", 0)) or None
    return None


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` may pass by itself: a connection failure, a timeout or an HTTP 5xx."""
    cause = root_cause(error)
    if isinstance(cause, SSLError):
        return False
    if isinstance(cause, (ConnectTimeoutError, ReadTimeoutError, ProtocolError)):
        return True
    if isinstance(cause, (ConnectionError, TimeoutError)):
        return True
    status = http_status(cause)
    return status is not None and status >= 500


def transient_reason(error: BaseException) -> str:
    """A few words on why a transient failure happened (never containing a secret)."""
    cause = root_cause(error)
    if isinstance(cause, NameResolutionError):
        return "host name not resolved"
    if isinstance(cause, NewConnectionError) or isinstance(cause, ConnectionRefusedError):
        return "connection refused" if "refused" in str(cause).lower() else "cannot connect"
    if isinstance(cause, ConnectTimeoutError):
        return "connect timed out"
    if isinstance(cause, (ReadTimeoutError, TimeoutError)):
        return "read timed out"
    if isinstance(cause, (ProtocolError, ConnectionError)):
        return "connection dropped"
    status = http_status(cause)
    code = cause.code if isinstance(cause, S3Error) else ""
    return f"HTTP {status} {code}".strip()


def describe_failure(error: BaseException) -> str:
    """Short description of an unexpected client error."""
    cause = root_cause(error)
    if isinstance(cause, SSLError):
        return "TLS handshake failed; check MINIO_SECURE and the scheme of MINIO_ENDPOINT"
    status = http_status(cause)
    if isinstance(cause, InvalidResponseError) and status is not None:
        return f"HTTP {status} without an S3 answer; is MINIO_ENDPOINT an S3 server?"
    return f"{type(cause).__name__}: {_first_clause(cause)}"


def _first_clause(error: BaseException) -> str:
    """The first line of an error message, without a trailing period."""
    text = str(error).strip().splitlines()
    return text[0].rstrip(".") if text else type(error).__name__
