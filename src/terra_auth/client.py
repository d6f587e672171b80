"""Terra's auth operations, sync (:class:`TerraClient`) and async (:class:`AsyncTerraClient`).

Both are built from :class:`~terra_auth.environments.TerraCredentials`, keep one pooled httpx
client, send exactly ``dev-id``, ``x-api-key`` and ``User-Agent: terra-auth/<version>``, retry
as their :class:`RetryPolicy` says, and raise the error tree of :mod:`terra_auth.errors`.

Example:
    >>> with get_terra_client("testing") as client:                    # doctest: +SKIP
    ...     session = client.generate_widget_session(
    ...         "user-42", "https://app.example.com/ok", "https://app.example.com/failed")
    ...     print(session.url)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from terra_auth import _operations as ops
from terra_auth._request import (
    Call,
    auth_headers,
    error_for_response,
    parse_answer,
    transport_error,
)
from terra_auth._retry import RetryPolicy, RetryState
from terra_auth.environments import Environment, TerraCredentials
from terra_auth.errors import (
    AuthenticationError,
    ConfigurationError,
    GoneError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TerraApiError,
    TerraAuthError,
    TransportError,
)
from terra_auth.models import (
    AuthLink,
    CheckResult,
    Integration,
    MobileToken,
    StreamingToken,
    TerraUser,
    WidgetSession,
)
from terra_auth.secret import get_logger

__all__ = [
    "AsyncTerraClient",
    "RetryPolicy",
    "TerraClient",
    "get_async_terra_client",
    "get_terra_client",
]

T = TypeVar("T")
log = get_logger("terra_auth.client")
_LOAD_KEYS = frozenset({"directory", "environ"})
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
#: httpx writes a POST's headers and body in separate sends; TCP_NODELAY keeps the body from
#: waiting for the ACK of the headers (Nagle), as urllib3 and curl do by default.
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def _applied_before(call: Call[Any], state: RetryState, error: TerraAuthError) -> bool:
    """A 404 on a retried deauth whose earlier attempt may have gone through: it did."""
    return call.missing_ok_after_retry and state.maybe_applied and isinstance(error, NotFoundError)


def _may_have_reached_terra(error: TerraAuthError, cause: BaseException | None) -> bool:
    """Whether a failed attempt may still have been carried out by Terra."""
    if isinstance(error, ServerError):
        return True
    not_sent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
    return cause is not None and not isinstance(cause, not_sent)


class _Base:
    """What both clients share: credentials, retry policy, the 410 memory, the check logic."""

    def __init__(self, credentials: TerraCredentials, retry: RetryPolicy | None) -> None:
        if not isinstance(credentials, TerraCredentials):
            raise ConfigurationError(
                f"a Terra client needs TerraCredentials, got {type(credentials).__name__}",
                hint="use get_terra_client('staging') or load_credentials('staging')",
            )
        self.credentials = credentials
        self.retry = retry if retry is not None else RetryPolicy()
        self._lock = threading.Lock()
        self._legacy_widget = credentials.use_legacy_widget

    @property
    def environment(self) -> Environment:
        """The Terra environment this client talks to."""
        return self.credentials.environment

    @property
    def uses_legacy_widget(self) -> bool:
        """Whether widget sessions still go to ``/auth/generateWidgetSession``."""
        return self._legacy_widget

    def _legacy_gone(self) -> None:
        with self._lock:
            if self._legacy_widget:
                log.warning(
                    "Terra answered 410 on /auth/generateWidgetSession for %s; "
                    "switching this client to %s",
                    self.environment,
                    self.credentials.widget_session_url,
                )
            self._legacy_widget = False

    def _timeout(self) -> httpx.Timeout:
        c = self.credentials
        return httpx.Timeout(c.timeout, connect=c.connect_timeout)

    def _budget(self, state: RetryState) -> dict[str, Any]:
        """A shorter timeout for an attempt when the operation's budget is nearly spent."""
        left = max(0.05, state.remaining())
        c = self.credentials
        if left >= c.timeout:
            return {}
        return {"timeout": httpx.Timeout(left, connect=min(c.connect_timeout, left))}

    def __repr__(self) -> str:
        c = self.credentials
        return (
            f"{type(self).__name__}(environment={c.environment.value!r}, "
            f"base_url={c.api_base_url!r}, key_fingerprint={c.key_fingerprint!r})"
        )

    def _check_result(self, error: TerraAuthError | None, started: float) -> CheckResult:
        c = self.credentials
        common: dict[str, Any] = {
            "environment": c.environment.value,
            "base_url": c.api_base_url,
            "key_fingerprint": c.key_fingerprint,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        }
        if error is None:
            return CheckResult(
                ok=True,
                message=f"{c.environment}: Terra accepted dev-id {c.dev_id!r} with the key "
                f"{c.key_fingerprint} at {c.api_base_url}",
                status_code=200,
                **common,
            )
        if isinstance(error, TransportError):
            return CheckResult(
                ok=False, problem=error.kind, message=str(error), hint=error.hint, **common
            )
        if not isinstance(error, TerraApiError):
            return CheckResult(
                ok=False, problem="unexpected", message=str(error), hint=error.hint, **common
            )
        status = error.status_code
        if isinstance(error, AuthenticationError):
            problem = "bad_credentials"
        elif status < 400 or status in (404, 405):
            problem = "wrong_base_url"
        elif isinstance(error, RateLimitedError):
            problem = "rate_limited"
        elif isinstance(error, ServerError):
            problem = "server_error"
        else:
            problem = "unexpected"
        return CheckResult(
            ok=False,
            problem=problem,
            message=str(error),
            hint=error.hint,
            status_code=status,
            **common,
        )


class TerraClient(_Base):
    """Terra's auth operations over one pooled ``httpx.Client``. Thread-safe; use ``with``.

    >>> with TerraClient(credentials) as client:                        # doctest: +SKIP
    ...     token = client.generate_mobile_token(reference_id="user-42")
    """

    def __init__(
        self,
        credentials: TerraCredentials,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(credentials, retry)
        self._owns_http = http_client is None
        if http_client is None:
            if transport is None:
                transport = httpx.HTTPTransport(limits=_LIMITS, socket_options=_SOCKET_OPTIONS)
            http_client = httpx.Client(
                timeout=self._timeout(), transport=transport, follow_redirects=False
            )
        http_client.headers.update(auth_headers(credentials))
        self._http = http_client

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections (if this client created them)."""
        if self._owns_http:
            self._http.close()

    def _run(self, call: Call[T]) -> T:
        state = RetryState(self.retry if call.retry else RetryPolicy.off())
        while True:
            cause: BaseException | None = None
            try:
                response = self._http.request(
                    call.method, call.url, **call.request_kwargs(), **self._budget(state)
                )
            except httpx.TransportError as exc:
                error: TerraAuthError | None = transport_error(exc, call, self.credentials)
                cause = exc
            else:
                error = error_for_response(response, call, self.credentials)
                if error is None or _applied_before(call, state, error):
                    return parse_answer(response, call)
            assert error is not None
            delay = state.next_delay(error)
            if delay is None:
                raise error from cause
            state.maybe_applied |= _may_have_reached_terra(error, cause)
            log.info(
                "%s: %s; retry %d of %d in %.2f s",
                call.operation, error, state.attempt - 1, state.policy.attempts - 1, delay,
            )  # fmt: skip
            state.sleep(delay)

    def list_integrations(
        self, detailed: bool = False, sdk: bool | None = None
    ) -> list[Integration]:
        """Providers Terra offers; ``detailed`` adds names, icons and setup (public endpoint)."""
        return self._run(ops.list_integrations(self.credentials, detailed, sdk))

    def generate_widget_session(  # noqa: PLR0917 (the documented signature)
        self,
        reference_id: str,
        success_url: str,
        failure_url: str,
        providers: Iterable[str] | str | None = None,
        language: str | None = None,
        show_disconnect: bool | None = None,
        *,
        use_terra_avengers_app: bool | None = None,
        samsung_app_url: str | None = None,
    ) -> WidgetSession:
        """A hosted-widget URL for one of your users (15 minutes).

        Uses the new widget endpoint, or ``/auth/generateWidgetSession`` when the credentials
        say ``use_legacy_widget``; a 410 there switches this client to the new one for good.
        """
        kwargs: dict[str, Any] = {
            "reference_id": reference_id,
            "success_url": success_url,
            "failure_url": failure_url,
            "providers": providers,
            "language": language,
            "show_disconnect": show_disconnect,
            "use_terra_avengers_app": use_terra_avengers_app,
            "samsung_app_url": samsung_app_url,
        }
        if self._legacy_widget:
            try:
                return self._run(ops.widget_session(self.credentials, legacy=True, **kwargs))
            except GoneError:
                self._legacy_gone()
        return self._run(ops.widget_session(self.credentials, legacy=False, **kwargs))

    def generate_mobile_token(self, reference_id: str | None = None) -> MobileToken:
        """A single-use mobile-SDK token (180 s), bound to ``reference_id`` when given."""
        return self._run(ops.mobile_token(self.credentials, reference_id))

    def authenticate_user(
        self,
        resource: str,
        reference_id: str,
        success_url: str,
        failure_url: str,
        language: str | None = None,
    ) -> AuthLink:
        """A login link that sends the user straight to one provider (custom UI)."""
        call = ops.authenticate_user(
            self.credentials,
            resource=resource,
            reference_id=reference_id,
            success_url=success_url,
            failure_url=failure_url,
            language=language,
        )
        return self._run(call)

    def deauthenticate_user(self, user_id: str) -> None:
        """Disconnect a Terra user (a ``deauth`` webhook follows)."""
        self._run(ops.deauthenticate_user(self.credentials, user_id))

    def get_user(self, user_id: str) -> TerraUser:
        """One Terra user by its ``user_id``."""
        return self._run(ops.get_user(self.credentials, user_id))

    def find_users(self, reference_id: str) -> list[TerraUser]:
        """Every connection of one of your users (Terra answers a bare array)."""
        return self._run(ops.find_users(self.credentials, reference_id))

    def iter_users(self, per_page: int = 500) -> Iterator[TerraUser]:
        """Every Terra user of this environment, page by page from ``/subscriptions``."""
        page: int | None = 0
        while page is not None:
            users, page = self._run(ops.users_page(self.credentials, page, per_page))
            yield from users

    def bulk_user_info(self, user_ids: Iterable[str]) -> list[TerraUser]:
        """Several users by id in one request."""
        call = ops.bulk_user_info(self.credentials, user_ids)
        if not call.body:
            return []
        return self._run(call)

    def generate_streaming_token(self, user_id: str) -> StreamingToken:
        """A single-use token for a user's streaming producer (the streaming host)."""
        return self._run(ops.streaming_token(self.credentials, user_id))

    def generate_developer_token(self) -> StreamingToken:
        """A single-use token for your streaming consumer (the streaming host)."""
        return self._run(ops.streaming_token(self.credentials, None))

    def check(self) -> CheckResult:
        """Whether the credentials work, and if not, why (never raises for Terra's answers)."""
        started = time.perf_counter()
        error: TerraAuthError | None = None
        try:
            self._run(ops.check(self.credentials))
        except TerraAuthError as exc:
            error = exc
        return self._check_result(error, started)


class AsyncTerraClient(_Base):
    """The same operations as :class:`TerraClient`, as coroutines over ``httpx.AsyncClient``.

    >>> async with AsyncTerraClient(credentials) as client:             # doctest: +SKIP
    ...     session = await client.generate_widget_session("u1", ok_url, failed_url)
    """

    def __init__(
        self,
        credentials: TerraCredentials,
        *,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(credentials, retry)
        self._owns_http = http_client is None
        if http_client is None:
            if transport is None:
                transport = httpx.AsyncHTTPTransport(limits=_LIMITS, socket_options=_SOCKET_OPTIONS)
            http_client = httpx.AsyncClient(
                timeout=self._timeout(), transport=transport, follow_redirects=False
            )
        http_client.headers.update(auth_headers(credentials))
        self._http = http_client

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections (if this client created them)."""
        if self._owns_http:
            await self._http.aclose()

    async def _run(self, call: Call[T]) -> T:
        state = RetryState(self.retry if call.retry else RetryPolicy.off())
        while True:
            cause: BaseException | None = None
            try:
                response = await self._http.request(
                    call.method, call.url, **call.request_kwargs(), **self._budget(state)
                )
            except httpx.TransportError as exc:
                error: TerraAuthError | None = transport_error(exc, call, self.credentials)
                cause = exc
            else:
                error = error_for_response(response, call, self.credentials)
                if error is None or _applied_before(call, state, error):
                    return parse_answer(response, call)
            assert error is not None
            delay = state.next_delay(error)
            if delay is None:
                raise error from cause
            state.maybe_applied |= _may_have_reached_terra(error, cause)
            log.info(
                "%s: %s; retry %d of %d in %.2f s",
                call.operation, error, state.attempt - 1, state.policy.attempts - 1, delay,
            )  # fmt: skip
            await state.async_sleep(delay)

    async def list_integrations(
        self, detailed: bool = False, sdk: bool | None = None
    ) -> list[Integration]:
        """See :meth:`TerraClient.list_integrations`."""
        return await self._run(ops.list_integrations(self.credentials, detailed, sdk))

    async def generate_widget_session(  # noqa: PLR0917 (the documented signature)
        self,
        reference_id: str,
        success_url: str,
        failure_url: str,
        providers: Iterable[str] | str | None = None,
        language: str | None = None,
        show_disconnect: bool | None = None,
        *,
        use_terra_avengers_app: bool | None = None,
        samsung_app_url: str | None = None,
    ) -> WidgetSession:
        """See :meth:`TerraClient.generate_widget_session`."""
        kwargs: dict[str, Any] = {
            "reference_id": reference_id,
            "success_url": success_url,
            "failure_url": failure_url,
            "providers": providers,
            "language": language,
            "show_disconnect": show_disconnect,
            "use_terra_avengers_app": use_terra_avengers_app,
            "samsung_app_url": samsung_app_url,
        }
        if self._legacy_widget:
            try:
                return await self._run(ops.widget_session(self.credentials, legacy=True, **kwargs))
            except GoneError:
                self._legacy_gone()
        return await self._run(ops.widget_session(self.credentials, legacy=False, **kwargs))

    async def generate_mobile_token(self, reference_id: str | None = None) -> MobileToken:
        """See :meth:`TerraClient.generate_mobile_token`."""
        return await self._run(ops.mobile_token(self.credentials, reference_id))

    async def authenticate_user(
        self,
        resource: str,
        reference_id: str,
        success_url: str,
        failure_url: str,
        language: str | None = None,
    ) -> AuthLink:
        """See :meth:`TerraClient.authenticate_user`."""
        call = ops.authenticate_user(
            self.credentials,
            resource=resource,
            reference_id=reference_id,
            success_url=success_url,
            failure_url=failure_url,
            language=language,
        )
        return await self._run(call)

    async def deauthenticate_user(self, user_id: str) -> None:
        """See :meth:`TerraClient.deauthenticate_user`."""
        await self._run(ops.deauthenticate_user(self.credentials, user_id))

    async def get_user(self, user_id: str) -> TerraUser:
        """See :meth:`TerraClient.get_user`."""
        return await self._run(ops.get_user(self.credentials, user_id))

    async def find_users(self, reference_id: str) -> list[TerraUser]:
        """See :meth:`TerraClient.find_users`."""
        return await self._run(ops.find_users(self.credentials, reference_id))

    async def iter_users(self, per_page: int = 500) -> AsyncIterator[TerraUser]:
        """See :meth:`TerraClient.iter_users` (an async iterator)."""
        page: int | None = 0
        while page is not None:
            users, page = await self._run(ops.users_page(self.credentials, page, per_page))
            for user in users:
                yield user

    async def bulk_user_info(self, user_ids: Iterable[str]) -> list[TerraUser]:
        """See :meth:`TerraClient.bulk_user_info`."""
        call = ops.bulk_user_info(self.credentials, user_ids)
        if not call.body:
            return []
        return await self._run(call)

    async def generate_streaming_token(self, user_id: str) -> StreamingToken:
        """See :meth:`TerraClient.generate_streaming_token`."""
        return await self._run(ops.streaming_token(self.credentials, user_id))

    async def generate_developer_token(self) -> StreamingToken:
        """See :meth:`TerraClient.generate_developer_token`."""
        return await self._run(ops.streaming_token(self.credentials, None))

    async def check(self) -> CheckResult:
        """See :meth:`TerraClient.check`."""
        started = time.perf_counter()
        error: TerraAuthError | None = None
        try:
            await self._run(ops.check(self.credentials))
        except TerraAuthError as exc:
            error = exc
        return self._check_result(error, started)


def _resolve(
    env_or_credentials: TerraCredentials | Environment | str | None, kw: dict[str, Any]
) -> TerraCredentials:
    if isinstance(env_or_credentials, TerraCredentials):
        return env_or_credentials
    from terra_auth import environments

    load = getattr(environments, "load_credentials", None)
    if load is None:  # pragma: no cover - only while the foundation is unfinished
        raise ConfigurationError(
            "terra_auth.environments.load_credentials is not available",
            hint="pass TerraCredentials(...) directly",
        )
    load_kw = {k: kw.pop(k) for k in list(kw) if k in _LOAD_KEYS or k.startswith("allow_")}
    creds = load(env_or_credentials, **load_kw)
    assert isinstance(creds, TerraCredentials)
    return creds


def get_terra_client(
    env_or_credentials: TerraCredentials | Environment | str | None = None, **kw: Any
) -> TerraClient:
    """A :class:`TerraClient` for an environment name (credentials loaded) or credentials.

    ``directory`` and ``environ`` go to ``load_credentials``; other keywords to the client.

    >>> client = get_terra_client("staging", retry=RetryPolicy.off())  # doctest: +SKIP
    """
    return TerraClient(_resolve(env_or_credentials, kw), **kw)


def get_async_terra_client(
    env_or_credentials: TerraCredentials | Environment | str | None = None, **kw: Any
) -> AsyncTerraClient:
    """An :class:`AsyncTerraClient`, like :func:`get_terra_client`."""
    return AsyncTerraClient(_resolve(env_or_credentials, kw), **kw)
