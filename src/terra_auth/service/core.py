"""The framework-agnostic heart of the service, shared by the FastAPI and Flask adapters.

The core knows users only as ids handed to it by the host application's authentication. The
Terra ``reference_id`` is derived from that id on the server (optionally an HMAC under a server
key), redirect URLs come from :class:`ServiceSettings` only, and a user sees and disconnects only
connections stored under their own reference id.

Example:
    >>> reference_id_for("alice", None)
    'alice'
    >>> reference_id_for("alice", Secret("a-server-key-123")).startswith("ta_")
    True
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol, TypeVar

from terra_auth.environments import Environment, TerraCredentials
from terra_auth.errors import (
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TerraApiError,
    TerraAuthError,
    TransportError,
)
from terra_auth.secret import Secret, get_logger, mask
from terra_auth.service.settings import ServiceSettings

__all__ = [
    "DISCONNECTED",
    "DISCONNECT_REQUESTED",
    "Landing",
    "Problem",
    "RateLimiter",
    "ServiceCore",
    "disconnect_status",
    "problem_for",
    "reference_id_for",
]

log = get_logger("terra_auth.service")
T = TypeVar("T")
_MAX_USER_ID = 256
_TERRA_ID = re.compile(r"^[^\s\x00-\x1f\x7f]{1,256}$")  # what Terra's client accepts as an id


class ClientLike(Protocol):
    """What the core needs of :class:`terra_auth.client.TerraClient`."""

    def generate_widget_session(
        self, reference_id: str, success_url: str, failure_url: str
    ) -> Any: ...

    def generate_mobile_token(self, reference_id: str | None = None) -> Any: ...

    def deauthenticate_user(self, user_id: str) -> None: ...

    def find_users(self, reference_id: str) -> list[Any]: ...

    def close(self) -> None: ...


class StoreLike(Protocol):
    """What the core needs of :class:`terra_auth.store.Store`."""

    def connections_for(self, reference_id: str) -> list[Any]: ...


#: ``DELETE /connections/{id}`` outcomes: Terra will confirm with a ``deauth`` webhook (202),
#: or Terra no longer knew the user and the connection was marked disconnected here (200)
DISCONNECT_REQUESTED = "disconnect_requested"
DISCONNECTED = "disconnected"


def disconnect_status(result: Mapping[str, Any]) -> int:
    """The HTTP status of a :meth:`ServiceCore.disconnect` result.

    >>> [disconnect_status({"status": s}) for s in ("disconnect_requested", "disconnected")]
    [202, 200]
    """
    return 200 if result.get("status") == DISCONNECTED else 202


def reference_id_for(user_id: str, key: Secret | None) -> str:
    """The Terra ``reference_id`` of a user: the id itself, or ``ta_`` + an HMAC under ``key``.

    The pseudonymous form keeps e-mail addresses and internal ids away from Terra; it is stable
    as long as the key is.
    """
    if key is None:
        return user_id
    digest = hmac.new(key.reveal().encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return f"ta_{digest[:40]}"


class RateLimiter:
    """A per-key sliding-window limit: at most ``limit`` hits per ``window`` seconds.

    >>> rl = RateLimiter(2, 60.0, clock=lambda: 0.0)
    >>> rl.hit("u"), rl.hit("u"), rl.hit("u")
    (None, None, 60.0)
    """

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> float | None:
        """Record a hit; ``None`` when allowed, else the seconds until the next one is."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(hits[0] + self.window - now, 0.0)
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle users so memory stays bounded
                for idle in [k for k, v in self._hits.items() if not v]:
                    del self._hits[idle]
            return None


@dataclass(frozen=True, slots=True)
class Problem:
    """An HTTP error answer: status, a JSON body (masked) and headers."""

    status: int
    body: dict[str, str]
    headers: dict[str, str] = field(default_factory=dict)


def problem_for(exc: BaseException) -> Problem:
    """The HTTP answer for an error raised by the core (never a secret, never a traceback)."""
    headers: dict[str, str] = {}
    if _is_store_unavailable(exc):
        return Problem(
            503,
            {"error": "unavailable", "detail": "the connection store is unavailable"},
            {"Retry-After": "5"},
        )
    if isinstance(exc, RateLimitedError):
        status, code = exc.status_code, "rate_limited"
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    elif isinstance(exc, NotFoundError):
        status, code = 404, "not_found"
    elif isinstance(exc, TerraApiError):
        status, code = exc.status_code, "upstream_error"
    elif isinstance(exc, InvalidRequestError):
        status, code = 400, "invalid_request"
    elif isinstance(exc, TransportError):
        status, code = 502, "upstream_unreachable"
    else:
        log.error("service error (%s): %s", type(exc).__name__, exc)
        return Problem(500, {"error": "internal", "detail": "internal error"})
    body = {"error": code, "detail": mask(getattr(exc, "message", str(exc)))}
    hint = exc.hint if isinstance(exc, TerraAuthError) else None
    if hint:
        body["hint"] = mask(hint)
    return Problem(status, body, headers)


def _is_store_unavailable(exc: BaseException) -> bool:
    from terra_auth.store import StoreUnavailable

    return isinstance(exc, StoreUnavailable)


@dataclass(frozen=True, slots=True)
class Landing:
    """What a widget landing page shows, reconciled with Terra (never the query's word alone)."""

    outcome: str  # "success" or "failure"
    logged_in: bool
    confirmed_provider: str | None = None
    confirmed_user_id: str | None = None
    problem: str | None = None


class ServiceCore:
    """Business logic of the connection service.

    Build it with the settings and one :class:`TerraCredentials` per served environment, then
    :meth:`start` (opens the Terra clients and the store) and :meth:`close`. Tests and host
    apps may inject ``clients`` and ``store``.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        credentials: Mapping[Environment, TerraCredentials],
        *,
        clients: Mapping[Environment, ClientLike] | None = None,
        store: StoreLike | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        missing = [e.value for e in settings.environments if e not in credentials]
        if missing:
            raise ConfigurationError(
                f"no Terra credentials for served environment(s): {', '.join(missing)}",
                hint="run `terra-auth setup-environment` for each, or set "
                "TERRA_SERVICE_ENVIRONMENTS to the environments you have credentials for",
            )
        if settings.demo and any(
            c.environment is Environment.PRODUCTION for c in credentials.values()
        ):
            raise ConfigurationError(
                "the demo login cannot be used with production credentials",
                hint="unset TERRA_SERVICE_DEMO (demo mode is for testing/staging only)",
                guard="demo_login_production",
            )
        self.settings = settings
        self.credentials = {e: credentials[e] for e in settings.environments}
        _check_redirects(settings, self.credentials)
        self._injected_clients = dict(clients) if clients is not None else None
        self._injected_store = store
        self.clients: dict[Environment, ClientLike] = {}
        self._store: StoreLike | None = None
        self._owned: list[Any] = []
        self.mobile_limiter = RateLimiter(
            settings.mobile_token_limit, settings.mobile_token_window, clock=clock
        )
        self._started = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ServiceCore:
        """Open one Terra client per environment and the store (migrated to head). Idempotent."""
        with self._lock:
            if self._started:
                return self
            try:
                self._open()
            except BaseException:
                self._close_owned()
                raise
            self._started = True
            log.info(
                "service started: environments %s",
                ", ".join(e.value for e in self.settings.environments),
            )
            return self

    def _open(self) -> None:
        if self._injected_clients is not None:
            self.clients = dict(self._injected_clients)
        else:
            from terra_auth.client import TerraClient

            for env, creds in self.credentials.items():
                client = TerraClient(creds)
                self.clients[env] = client
                self._owned.append(client)
        if self._injected_store is not None:
            self._store = self._injected_store
        else:
            from terra_auth.store import Store

            # a bad URL or SQLite path is a ConfigurationError, a database down StoreUnavailable
            store = Store(database_url=self.settings.database_url)
            self._owned.append(store)
            if self.settings.auto_migrate:
                store.upgrade()
            self._store = store

    def close(self) -> None:
        """Close what :meth:`start` opened (clients, store). Idempotent."""
        with self._lock:
            self._close_owned()
            self._started = False

    def _close_owned(self) -> None:
        owned, self._owned = self._owned, []
        for resource in reversed(owned):
            closer = getattr(resource, "close", None) or getattr(resource, "dispose", None)
            if closer is not None:
                try:
                    closer()
                except Exception as exc:  # closing must not hide the real shutdown path
                    log.warning("closing %s failed: %s", type(resource).__name__, exc)
        self.clients = {}
        self._store = None

    @property
    def store(self) -> StoreLike:
        """The connection store (after :meth:`start`)."""
        if self._store is None:
            raise ConfigurationError(
                "the service is not started",
                hint="call ServiceCore.start() (the app lifespan does)",
            )
        return self._store

    def client(self, environment: Environment | None = None) -> ClientLike:
        """The Terra client of ``environment`` (default: the primary environment)."""
        env = environment or self.settings.primary_environment
        if not self._started:
            raise ConfigurationError(
                "the service is not started",
                hint="call ServiceCore.start() (the app lifespan does)",
            )
        try:
            return self.clients[env]
        except KeyError:
            raise NotFoundError(
                "no such connection", status_code=404, hint="the environment is not served"
            ) from None

    # -- helpers -----------------------------------------------------------------------------
    def reference_id(self, user_id: str) -> str:
        """The reference id Terra knows this user by (derived on the server only)."""
        user_id = _check_user(user_id)
        if self.settings.reference_key is None and not _TERRA_ID.match(user_id):
            raise ConfigurationError(
                "a user id with spaces or control characters cannot be a Terra reference_id",
                hint="set TERRA_SERVICE_REFERENCE_KEY so reference ids are derived (HMAC) from "
                "user ids, or return ids without spaces from current_user",
            )
        return reference_id_for(user_id, self.settings.reference_key)

    def _upstream(self, action: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except RateLimitedError as exc:
            raise RateLimitedError(
                f"Terra is rate limiting requests to {action}; try again later",
                status_code=503,
                retry_after=exc.retry_after or 30.0,
            ) from exc
        except (TerraApiError, TransportError) as exc:
            log.warning("Terra call failed (%s): %s", action, exc)
            raise ServerError(
                f"Terra could not {action}; try again later", status_code=502
            ) from exc

    # -- operations --------------------------------------------------------------------------
    def widget_session(self, user_id: str) -> dict[str, Any]:
        """A hosted-widget URL for ``user_id``; redirects come from the settings only."""
        reference_id = self.reference_id(user_id)
        settings = self.settings
        session = self._upstream(
            "create a widget session",
            lambda: self.client().generate_widget_session(
                reference_id=reference_id,
                success_url=str(settings.success_url),
                failure_url=str(settings.failure_url),
            ),
        )
        return {
            "url": str(_field(session, "url")),
            "session_id": _field(session, "session_id", None),
            "expires_at": _expires_at(session, 900),
            "reference_id": reference_id,
        }

    def mobile_token(self, user_id: str) -> dict[str, Any]:
        """A mobile-SDK token bound to the user's reference id, rate limited per user."""
        reference_id = self.reference_id(user_id)
        wait = self.mobile_limiter.hit(reference_id)
        if wait is not None:
            raise RateLimitedError(
                "too many mobile tokens requested",
                status_code=429,
                retry_after=wait,
                hint=f"at most {self.settings.mobile_token_limit} per "
                f"{self.settings.mobile_token_window:g} s; wait and try again",
            )
        token = self._upstream(
            "create a mobile token",
            lambda: self.client().generate_mobile_token(reference_id=reference_id),
        )
        return {
            "token": str(_field(token, "token")),
            "expires_at": _expires_at(token, 180),
            "reference_id": reference_id,
        }

    def connections(
        self, user_id: str, *, include_disconnected: bool = False
    ) -> list[dict[str, Any]]:
        """The user's connections from the store, newest first."""
        states = self.store.connections_for(self.reference_id(user_id))
        rows = [
            connection_json(s)
            for s in states
            if include_disconnected or str(_field(s, "status")) != "disconnected"
        ]
        rows.sort(key=lambda r: str(r.get("since") or ""), reverse=True)
        return rows

    def disconnect(self, user_id: str, terra_user_id: str) -> dict[str, Any]:
        """Deauthenticate ``terra_user_id`` through Terra, only if it is the user's connection.

        The same 404 answers a connection that belongs to someone else and one that does not
        exist, so ids cannot be probed. Returns ``status: "disconnect_requested"`` (Terra's
        ``deauth`` webhook will confirm), or ``status: "disconnected"`` when Terra answered 404
        (it no longer knows the user, so no webhook will come): the connection is then marked
        disconnected locally (:meth:`Store.mark_disconnected_locally`).
        """
        owned = self._owned_connection(user_id, terra_user_id)
        environment = Environment.parse(str(_field(owned, "environment")))
        client = self.client(environment)

        def call() -> bool:
            """True when Terra deauthenticated the user; False when it no longer knew it."""
            try:
                client.deauthenticate_user(terra_user_id)
            except NotFoundError:
                return False
            return True

        if not self._upstream("disconnect the wearable", call):
            # no deauth webhook will ever come for a user Terra does not know: record it here
            log.info("Terra no longer knows connection %s; marked disconnected", terra_user_id)
            mark_local = getattr(self.store, "mark_disconnected_locally", None)
            if mark_local is not None:
                mark_local(
                    terra_user_id,
                    reason="terra_user_not_found",
                    detail={"terra_status": 404, "call": "deauthenticateUser"},
                )
                return {"user_id": terra_user_id, "status": DISCONNECTED}
        mark = getattr(self.store, "mark_deauth_requested", None)
        if mark is not None:
            mark(terra_user_id)
        return {"user_id": terra_user_id, "status": DISCONNECT_REQUESTED}

    def _owned_connection(self, user_id: str, terra_user_id: str) -> Any:
        reference_id = self.reference_id(user_id)
        for state in self.store.connections_for(reference_id):
            if (
                str(_field(state, "terra_user_id")) == terra_user_id
                and str(_field(state, "reference_id", reference_id)) == reference_id
                and str(_field(state, "status")) != "disconnected"
            ):
                return state
        raise NotFoundError("no such connection", status_code=404)

    def landing(self, user_id: str | None, outcome: str, query: Mapping[str, str]) -> Landing:
        """Reconcile a widget redirect with Terra: the query's ``user_id`` counts only if Terra
        lists it under the current user's reference id."""
        if user_id is None:
            return Landing(outcome, logged_in=False)
        if outcome != "success":
            return Landing(outcome, logged_in=True)
        claimed = query.get("user_id") or ""
        if not claimed or claimed == "null":  # SDK-only providers redirect without a user id
            return Landing(outcome, logged_in=True)
        reference_id = self.reference_id(user_id)
        for environment in self.settings.environments:
            find = self.client(environment).find_users
            try:
                users = self._upstream("confirm the connection", partial(find, reference_id))
            except TerraAuthError as exc:
                return Landing(outcome, logged_in=True, problem=exc.message)
            for user in users:
                if str(_field(user, "user_id")) == claimed:
                    return Landing(
                        outcome,
                        logged_in=True,
                        confirmed_provider=str(_field(user, "provider", "") or "") or None,
                        confirmed_user_id=claimed,
                    )
        return Landing(outcome, logged_in=True)


def _check_redirects(
    settings: ServiceSettings, credentials: Mapping[Environment, TerraCredentials]
) -> None:
    """Refuse at start-up the redirect URLs the Terra client would refuse at every request."""
    from terra_auth._operations import check_redirect_url

    for creds in credentials.values():
        for name, url in (
            ("TERRA_SERVICE_SUCCESS_URL", settings.success_url),
            ("TERRA_SERVICE_FAILURE_URL", settings.failure_url),
        ):
            try:
                check_redirect_url(name, url, creds)
            except InvalidRequestError as exc:
                raise ConfigurationError(
                    f"{exc.message} (for the {creds.environment.value} environment)",
                    hint=exc.hint or "set TERRA_SERVICE_PUBLIC_URL to the service's https URL",
                ) from None


def masked_url(url: str) -> str:
    """A database URL without its password.

    >>> masked_url("postgresql://app:pw@db/terra")
    'postgresql://app:***@db/terra'
    """
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.rsplit("@", maxsplit=1)[-1]


def connection_json(state: Any) -> dict[str, Any]:
    """A connection as the API returns it (no reference id, no secrets)."""
    scopes = _field(state, "scopes", ()) or ()
    if isinstance(scopes, str):
        scopes = [s for s in scopes.split(",") if s]
    return {
        "user_id": str(_field(state, "terra_user_id")),
        "provider": _field(state, "provider", None),
        "environment": str(_field(state, "environment", "")) or None,
        "status": str(_field(state, "status")),
        "scopes": sorted(str(s) for s in scopes),
        "since": _iso(_field(state, "connected_at", None)),
        "last_event_at": _iso(_field(state, "last_event_at", None)),
    }


_MISSING = object()


def _field(obj: Any, name: str, default: Any = _MISSING) -> Any:
    value = obj.get(name, default) if isinstance(obj, Mapping) else getattr(obj, name, default)
    if value is _MISSING:
        raise TypeError(f"{type(obj).__name__} has no field {name!r}")
    return value


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _expires_at(model: Any, default_seconds: int) -> str:
    expires_at = _field(model, "expires_at", None)
    if isinstance(expires_at, datetime):
        return expires_at.isoformat()
    if expires_at:
        return str(expires_at)
    seconds = _field(model, "expires_in", None) or default_seconds
    return (datetime.now(UTC) + timedelta(seconds=float(seconds))).isoformat()


def _check_user(user_id: object) -> str:
    """The user id as a string (ints are accepted); a bad one is the host app's bug (500)."""
    if isinstance(user_id, int) and not isinstance(user_id, bool):
        user_id = str(user_id)
    if not isinstance(user_id, str) or not user_id or len(user_id) > _MAX_USER_ID:
        raise ConfigurationError(
            f"current_user returned {type(user_id).__name__}, not a user id "
            "(a non-empty string of at most 256 characters)",
            hint="make your current_user dependency return the user's id as a string, or None",
        )
    return user_id


def served_environments(names: Iterable[str]) -> tuple[Environment, ...]:
    """Parse environment names (``--env`` values) into a tuple without duplicates."""
    seen: list[Environment] = []
    for name in names:
        env = Environment.parse(name)
        if env not in seen:
            seen.append(env)
    return tuple(seen)


def resolve_credentials(
    settings: ServiceSettings, credentials: Mapping[Environment, TerraCredentials] | None
) -> dict[Environment, TerraCredentials]:
    """The credentials given, or those loaded for every served environment (files, variables).

    Loading errors (a missing key...) are :class:`ConfigurationError` with a hint.
    """
    if credentials is not None:
        return {Environment.parse(env): creds for env, creds in credentials.items()}
    from terra_auth.environments import load_credentials

    return {env: load_credentials(env) for env in settings.environments}
