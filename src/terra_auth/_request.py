"""The one request builder and error mapper behind the sync and async clients.

A :class:`Call` describes one HTTP exchange (method, URL, query, body) and how to read a
successful answer. :func:`error_for_response` and :func:`transport_error` turn failures into the
error tree of :mod:`terra_auth.errors`, with Terra's message from either error style, the
``x-terra-trace-id`` and a hint. :func:`auth_headers` is the only place the API key is revealed.

Example:
    >>> terra_message_from({"type": "about:blank", "title": "unauthorized", "detail": "bad key"})
    'bad key'
    >>> terra_message_from({"status": "error", "message": "Invalid dev-id was provided"})
    'Invalid dev-id was provided'
"""

from __future__ import annotations

import email.utils
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from terra_auth.environments import TerraCredentials
from terra_auth.errors import (
    AuthenticationError,
    GoneError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TerraApiError,
    TerraAuthError,
    TransportError,
)
from terra_auth.secret import mask

__all__ = [
    "Call",
    "auth_headers",
    "error_for_response",
    "parse_answer",
    "read_json",
    "terra_message_from",
    "transport_error",
    "user_agent",
]

T = TypeVar("T")

#: which setting configures each kind of URL (named in hints)
SETTING_FOR_HOST = {
    "api": "TERRA_API_BASE_URL",
    "widget": "TERRA_WIDGET_SESSION_URL",
    "streaming": "TERRA_STREAMING_URL",
}
_NO_BODY: Any = object()


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP exchange with Terra and the parser of its successful answer."""

    operation: str
    method: str
    url: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, str] | None = None
    body: Any = _NO_BODY
    host: str = "api"
    retry: bool = True
    #: a 404 after a retry of a request that may have been applied means it was (deauth)
    missing_ok_after_retry: bool = False

    def request_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``httpx.Client.request``."""
        kwargs: dict[str, Any] = {}
        if self.params:
            kwargs["params"] = self.params
        if self.body is not _NO_BODY:
            kwargs["json"] = self.body
        return kwargs


def user_agent() -> str:
    """``terra-auth/<version>``."""
    from terra_auth import __version__

    return f"terra-auth/{__version__}"


def auth_headers(credentials: TerraCredentials) -> dict[str, str]:
    """The headers every request carries: exactly ``dev-id``, ``x-api-key`` and a User-Agent."""
    return {
        "dev-id": credentials.dev_id,
        "x-api-key": credentials.api_key.reveal(),
        "User-Agent": user_agent(),
        "Accept": "application/json",
    }


def terra_message_from(data: Any) -> str | None:
    """Terra's text from a problem+json (``detail``/``title``) or a ``{status, message}`` body."""
    if not isinstance(data, dict):
        return None
    for key in ("detail", "message", "title", "error"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _looks_like_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return response.content.lstrip()[:1] == b"<"


def _message(response: httpx.Response) -> tuple[str, bool]:
    """(Terra's message, whether the body was an HTML page)."""
    if _looks_like_html(response):
        return f"an HTML page instead of JSON ({response.reason_phrase or 'no reason'})", True
    try:
        found = terra_message_from(response.json())
    except ValueError:
        found = None
    if found is None:
        text = response.text.strip()
        found = text if 0 < len(text) <= 200 else (response.reason_phrase or "no message")
    return mask(found), False


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (a number, or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _auth_hint(credentials: TerraCredentials) -> str:
    env = credentials.environment.value
    return (
        f"a dev-id and its API key belong to one environment: check that the dev-id "
        f"{credentials.dev_id!r} and the API key (fingerprint {credentials.key_fingerprint}) "
        f"both come from Terra's '{env}' environment (TERRA_DEV_ID_{env.upper()}, "
        f"TERRA_API_KEY_{env.upper()}); a key from another environment is refused"
    )


def _base_url_hint(call: Call[Any], url: str) -> str:
    setting = SETTING_FOR_HOST.get(call.host, "TERRA_API_BASE_URL")
    return (
        f"check {setting} (the request went to {url}); Terra's data API is "
        f"https://access.tryterra.co/api/v2 (legacy https://api.tryterra.co/v2)"
    )


def error_for_response(
    response: httpx.Response, call: Call[Any], credentials: TerraCredentials
) -> TerraAuthError | None:
    """The error for a failed answer, or None when the status is a success."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    url = str(response.request.url.copy_with(query=None))
    message, html = _message(response)
    common: dict[str, Any] = {
        "status_code": status,
        "trace_id": response.headers.get("x-terra-trace-id"),
        "method": call.method,
        "path": response.request.url.path,
    }
    if status in (401, 403):
        hint = _auth_hint(credentials)
        if call.operation == "streaming_token":
            hint = f"the user may belong to another dev-id or environment; otherwise {hint}"
        return AuthenticationError(message, hint=hint, **common)
    if status == 404:
        if "dev-id" in message.lower():
            return AuthenticationError(message, hint=_auth_hint(credentials), **common)
        if html or call.operation == "check":
            return NotFoundError(message, hint=_base_url_hint(call, url), **common)
        hint = (
            f"nothing by that id in Terra's '{credentials.environment}' environment; "
            "ids from one environment do not exist in another"
        )
        if message.strip().lower() in ("not found", "404 page not found", "no message"):
            hint = f"{hint}; or the URL is wrong: {_base_url_hint(call, url)}"
        return NotFoundError(message, hint=hint, **common)
    if status == 410:
        return GoneError(
            message,
            hint="Terra retired this endpoint for your account (legacy widget sessions switch "
            "to the new endpoint by themselves); see Terra's migration notes",
            **common,
        )
    if status == 429:
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        wait = f"wait {retry_after:.0f} s" if retry_after is not None else "wait a little"
        return RateLimitedError(
            message, retry_after=retry_after, hint=f"Terra rate-limited the call: {wait}", **common
        )
    if status >= 500:
        hint = "Terra failed (retried as the RetryPolicy allows); try again later and quote "
        hint += "the trace id to Terra support"
        if html and call.operation.startswith("widget_session"):
            hint = (
                "Terra answers an HTML 500 here when the environment has no data sources "
                "enabled: enable at least one provider in Terra's dashboard"
            )
        return ServerError(message, hint=hint, **common)
    if 300 <= status < 400:
        location = response.headers.get("location", "elsewhere")
        return TerraApiError(f"redirected to {location}", hint=_base_url_hint(call, url), **common)
    return TerraApiError(
        message, hint="Terra rejected the request's arguments; see its message", **common
    )


def read_json(response: httpx.Response, call: Call[Any]) -> Any:
    """The JSON of a successful answer; an HTML page or garbage points at a wrong base URL."""
    try:
        if _looks_like_html(response):
            raise ValueError("html")
        return response.json()
    except ValueError:
        url = str(response.request.url.copy_with(query=None))
        raise TerraApiError(
            "Terra's answer was not JSON"
            + (" (an HTML page)" if _looks_like_html(response) else ""),
            status_code=response.status_code,
            trace_id=response.headers.get("x-terra-trace-id"),
            method=call.method,
            path=response.request.url.path,
            hint=_base_url_hint(call, url),
        ) from None


def parse_answer(response: httpx.Response, call: Call[T]) -> T:
    """``call.parse(response)``; an answer that does not fit the models is a TerraApiError."""
    from pydantic import ValidationError

    try:
        return call.parse(response)
    except ValidationError as exc:
        fields = ", ".join(sorted({".".join(map(str, e["loc"])) for e in exc.errors()}))[:200]
        raise TerraApiError(
            f"Terra's answer to {call.operation} has unexpected fields ({fields})",
            status_code=response.status_code,
            trace_id=response.headers.get("x-terra-trace-id"),
            method=call.method,
            path=response.request.url.path,
            hint="check the base URL points at Terra's data API; if it does, Terra changed "
            "its answer: report it with the trace id",
        ) from None


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).upper()
    return "SSL" in text or "CERTIFICATE" in text or "TLS" in text


def transport_error(
    exc: httpx.TransportError, call: Call[Any], credentials: TerraCredentials
) -> TransportError:
    """A :class:`TransportError` naming the host, the kind of failure and the setting to check."""
    url = httpx.URL(call.url)
    origin = f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}"
    setting = SETTING_FOR_HOST.get(call.host, "TERRA_API_BASE_URL")
    if isinstance(exc, httpx.TimeoutException):
        which = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
        return TransportError(
            f"timed out {which} {origin} ({call.operation})",
            kind="timeout",
            hint=f"no answer within the timeout (TERRA_TIMEOUT={credentials.timeout:g} s, "
            f"TERRA_CONNECT_TIMEOUT={credentials.connect_timeout:g} s); check the network or "
            "raise the timeouts",
        )
    if _is_tls(exc):
        return TransportError(
            f"the TLS handshake with {origin} failed ({call.operation})",
            kind="tls",
            hint=f"check {setting}: an https URL pointing at a plain-http server fails like "
            "this, as do proxies that intercept TLS or missing CA certificates",
        )
    if isinstance(exc, httpx.ConnectError):
        return TransportError(
            f"cannot reach {origin} ({call.operation})",
            kind="unreachable",
            hint=f"check the host and port in {setting} and your network connection",
        )
    return TransportError(
        f"the connection to {origin} broke ({type(exc).__name__}, {call.operation})",
        kind="protocol",
        hint="try again; if it persists, check proxies between you and Terra",
    )
