"""One exception tree for the whole package.

Every error terra-auth raises on purpose is a :class:`TerraAuthError`. No message ever holds a
secret value: errors name variables, files and fingerprints, never keys.

Example:
    >>> try:
    ...     raise ConfigurationError("TERRA_API_KEY is missing for 'staging'")
    ... except TerraAuthError as exc:
    ...     print(exc)
    TERRA_API_KEY is missing for 'staging'
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "GoneError",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitedError",
    "ServerError",
    "TerraApiError",
    "TerraAuthError",
    "TransportError",
    "WebhookVerificationError",
]


class TerraAuthError(Exception):
    """Base class of every error terra-auth raises on purpose.

    ``hint`` is an optional sentence telling the user how to fix the problem.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigurationError(TerraAuthError):
    """Missing or malformed credentials, or a guard that refused a configuration."""

    def __init__(self, message: str, *, hint: str | None = None, guard: str | None = None) -> None:
        super().__init__(message, hint=hint)
        #: the name of the guard that failed (e.g. ``"dev_id_environment"``), when a guard did
        self.guard = guard


class InvalidRequestError(TerraAuthError, ValueError):
    """Bad arguments caught before any request is sent (e.g. a redirect URL)."""


class TerraApiError(TerraAuthError):
    """Terra (or the emulator) answered with an error status.

    ``message`` is Terra's own text, read from either error style (RFC 9457 ``detail``/``title``
    or the legacy ``{status, message}``); ``trace_id`` is the ``x-terra-trace-id`` header.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        trace_id: str | None = None,
        hint: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.trace_id = trace_id
        self.method = method
        self.path = path

    def __str__(self) -> str:
        where = f" ({self.method} {self.path})" if self.method and self.path else ""
        trace = f" [trace id {self.trace_id}]" if self.trace_id else ""
        return f"Terra answered {self.status_code}{where}: {self.message}{trace}"


class AuthenticationError(TerraApiError):
    """401 or 403: the dev-id and API key were refused."""


class NotFoundError(TerraApiError):
    """404: the user, provider or path does not exist on Terra's side."""


class GoneError(TerraApiError):
    """410: the endpoint is retired for this account (e.g. the legacy widget session)."""


class RateLimitedError(TerraApiError):
    """429: too many requests; ``retry_after`` is in seconds when Terra said."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        retry_after: float | None = None,
        trace_id: str | None = None,
        hint: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, trace_id=trace_id, hint=hint, method=method, path=path
        )
        self.retry_after = retry_after


class ServerError(TerraApiError):
    """5xx: Terra failed; retried automatically before it reaches you."""


class TransportError(TerraAuthError):
    """The request never got an HTTP answer: unreachable host, TLS failure or timeout.

    ``kind`` is one of ``"unreachable"``, ``"tls"``, ``"timeout"``, ``"protocol"``.
    """

    def __init__(self, message: str, *, kind: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.kind = kind


class WebhookVerificationError(TerraAuthError):
    """A webhook failed verification; ``reason`` is a short machine-readable code.

    Reasons include ``missing_header``, ``malformed_header``, ``no_v1``, ``bad_signature``,
    ``too_old``, ``too_new``, ``expired_secret``, ``no_secret``, ``invalid_body``.
    """

    def __init__(self, reason: str, message: str | None = None) -> None:
        super().__init__(message or reason.replace("_", " "))
        self.reason = reason
