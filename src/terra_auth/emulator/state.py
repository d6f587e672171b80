"""The emulator's in-memory state: users, widget sessions, auth flows, tokens, request log.

Everything with a lifetime (sessions 900 s, mobile tokens 180 s, streaming tokens) expires on an
injectable :class:`Clock` and is pruned, so memory stays flat however long the emulator runs.

Example:
    >>> clock = Clock()
    >>> state = EmulatorState(clock=clock, seed=1)
    >>> token = state.new_mobile_token("testing", reference_id=None)
    >>> clock.advance(181)
    >>> state.prune()
    >>> state.mobile_tokens.get(token.token) is None
    True
"""

from __future__ import annotations

import random
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

__all__ = [
    "MOBILE_TOKEN_TTL",
    "SESSION_TTL",
    "AuthFlow",
    "Clock",
    "EmulatorState",
    "MobileToken",
    "RequestRecord",
    "StreamingToken",
    "User",
    "WidgetSession",
    "iso",
]

SESSION_TTL = 900.0
MOBILE_TOKEN_TTL = 180.0
STREAMING_TOKEN_TTL = 180.0

PROVIDER_SCOPES: dict[str, str] = {
    "FITBIT": "activity,heartrate,sleep,profile,weight",
    "GARMIN": "ACTIVITY_EXPORT,HEALTH_EXPORT",
    "OURA": "daily,heartrate,personal,session,workout",
    "GOOGLE": "fitness.activity.read,fitness.sleep.read",
    "STRAVA": "activity:read_all,profile:read_all",
    "WHOOP": "read:recovery,read:cycles,read:sleep,read:workout",
}


class Clock:
    """Wall-clock time plus an offset that tests move forward with :meth:`advance`."""

    def __init__(self, start: float | None = None) -> None:
        self._offset = 0.0 if start is None else start - time.time()
        self._lock = threading.Lock()

    def now(self) -> float:
        """Unix time in seconds, as the emulator sees it."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the emulator's time forward (expiry, timestamps); never sleeps."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds


def iso(moment: float) -> str:
    """ISO-8601 with microseconds and an offset, as Terra writes timestamps."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="microseconds")


@dataclass(slots=True)
class User:
    """A connected (or revoked) Terra user: one user-provider connection."""

    user_id: str
    environment: str
    provider: str
    reference_id: str | None
    scopes: str | None
    created_at: float
    active: bool = True
    last_webhook_update: float | None = None

    def public(self) -> dict[str, Any]:
        """The TerraUser JSON object."""
        return {
            "user_id": self.user_id,
            "provider": self.provider,
            "created_at": iso(self.created_at),
            "last_webhook_update": (
                None if self.last_webhook_update is None else iso(self.last_webhook_update)
            ),
            "scopes": self.scopes,
            "reference_id": self.reference_id,
            "active": self.active,
        }


@dataclass(slots=True)
class WidgetSession:
    """A hosted-widget session (15 minutes, single use)."""

    session_id: str
    environment: str
    providers: tuple[str, ...]
    reference_id: str | None
    success_url: str | None
    failure_url: str | None
    language: str | None
    expires_at: float
    used: bool = False
    show_disconnect: bool = False


@dataclass(slots=True)
class AuthFlow:
    """An ``authenticateUser`` flow: a pre-assigned user id and a provider-login page."""

    flow_id: str
    environment: str
    user_id: str
    provider: str
    reference_id: str | None
    success_url: str | None
    failure_url: str | None
    expires_at: float
    used: bool = False


@dataclass(slots=True)
class MobileToken:
    """A mobile-SDK token (180 s, single use, optionally bound to a reference id)."""

    token: str
    environment: str
    reference_id: str | None
    expires_at: float
    used: bool = False


@dataclass(slots=True)
class StreamingToken:
    """A streaming-host token (single use)."""

    token: str
    environment: str
    kind: str  # "user" or "developer"
    user_id: str | None
    expires_at: float
    used: bool = False


class RequestRecord(NamedTuple):
    """One line of the request log."""

    method: str
    path: str
    status: int
    environment: str | None


@dataclass
class EmulatorState:
    """All mutable state; guarded by :attr:`lock` (the server thread and callers share it)."""

    clock: Clock = field(default_factory=Clock)
    seed: int | None = None
    request_log_size: int = 10_000
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"state-{self.seed}") if self.seed is not None else None
        self.users: dict[str, User] = {}
        self.sessions: dict[str, WidgetSession] = {}
        self.flows: dict[str, AuthFlow] = {}
        self.mobile_tokens: dict[str, MobileToken] = {}
        self.streaming_tokens: dict[str, StreamingToken] = {}
        self.requests: deque[RequestRecord] = deque(maxlen=self.request_log_size)
        # (expires_at, kind, key) in creation order; lifetimes are fixed per kind, so each
        # queue is sorted by expiry and pruning pops from the left.
        self._expiry: dict[str, deque[tuple[float, str]]] = {
            "sessions": deque(),
            "flows": deque(),
            "mobile_tokens": deque(),
            "streaming_tokens": deque(),
        }

    # ids -----------------------------------------------------------------------------------
    def new_uuid(self) -> str:
        """A UUID4: random, or from the seeded generator."""
        if self._rng is None:
            return str(uuid.uuid4())
        with self.lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def new_hex(self, nbytes: int = 32) -> str:
        """Hex characters (64 for 32 bytes), random or seeded."""
        if self._rng is None:
            return secrets.token_hex(nbytes)
        with self.lock:
            return f"{self._rng.getrandbits(nbytes * 8):0{nbytes * 2}x}"

    def rng_random(self) -> float:
        """A float in [0, 1): seeded when the emulator is."""
        with self.lock:
            return self._rng.random() if self._rng is not None else random.random()

    # creation ------------------------------------------------------------------------------
    def _track(self, kind: str, expires_at: float, key: str) -> None:
        self._expiry[kind].append((expires_at, key))

    def new_session(
        self,
        environment: str,
        *,
        providers: tuple[str, ...],
        reference_id: str | None,
        success_url: str | None,
        failure_url: str | None,
        language: str | None,
        show_disconnect: bool = False,
    ) -> WidgetSession:
        """Create a widget session valid for 900 s."""
        session = WidgetSession(
            session_id=self.new_uuid(),
            environment=environment,
            providers=providers,
            reference_id=reference_id,
            success_url=success_url,
            failure_url=failure_url,
            language=language,
            expires_at=self.clock.now() + SESSION_TTL,
            show_disconnect=show_disconnect,
        )
        with self.lock:
            self._prune_locked()
            self.sessions[session.session_id] = session
            self._track("sessions", session.expires_at, session.session_id)
        return session

    def new_flow(
        self,
        environment: str,
        *,
        provider: str,
        reference_id: str | None,
        success_url: str | None,
        failure_url: str | None,
    ) -> AuthFlow:
        """Create an authenticateUser flow (its provider-login page lives 900 s)."""
        flow = AuthFlow(
            flow_id=self.new_uuid(),
            environment=environment,
            user_id=self.new_uuid(),
            provider=provider,
            reference_id=reference_id,
            success_url=success_url,
            failure_url=failure_url,
            expires_at=self.clock.now() + SESSION_TTL,
        )
        with self.lock:
            self._prune_locked()
            self.flows[flow.flow_id] = flow
            self._track("flows", flow.expires_at, flow.flow_id)
        return flow

    def new_mobile_token(self, environment: str, *, reference_id: str | None) -> MobileToken:
        """Create a single-use mobile-SDK token valid for 180 s."""
        token = MobileToken(
            token=self.new_hex(32),
            environment=environment,
            reference_id=reference_id,
            expires_at=self.clock.now() + MOBILE_TOKEN_TTL,
        )
        with self.lock:
            self._prune_locked()
            self.mobile_tokens[token.token] = token
            self._track("mobile_tokens", token.expires_at, token.token)
        return token

    def new_streaming_token(
        self, environment: str, *, kind: str, user_id: str | None
    ) -> StreamingToken:
        """Create a single-use streaming token."""
        token = StreamingToken(
            token=self.new_hex(32),
            environment=environment,
            kind=kind,
            user_id=user_id,
            expires_at=self.clock.now() + STREAMING_TOKEN_TTL,
        )
        with self.lock:
            self._prune_locked()
            self.streaming_tokens[token.token] = token
            self._track("streaming_tokens", token.expires_at, token.token)
        return token

    def new_user(
        self,
        environment: str,
        *,
        provider: str,
        reference_id: str | None,
        user_id: str | None = None,
        scopes: str | None = None,
    ) -> User:
        """Create and store a connected user."""
        user = User(
            user_id=user_id or self.new_uuid(),
            environment=environment,
            provider=provider,
            reference_id=reference_id,
            scopes=scopes if scopes is not None else PROVIDER_SCOPES.get(provider, "activity:read"),
            created_at=self.clock.now(),
        )
        with self.lock:
            self.users[user.user_id] = user
        return user

    # queries -------------------------------------------------------------------------------
    def users_of(self, environment: str) -> list[User]:
        """Every user of one environment, oldest first."""
        with self.lock:
            return [u for u in self.users.values() if u.environment == environment]

    def count_users(self, environment: str) -> int:
        """How many users an environment holds (for the testing/staging cap)."""
        with self.lock:
            return sum(1 for u in self.users.values() if u.environment == environment)

    def find_user(self, environment: str, user_id: str) -> User | None:
        """A user of this environment, or None (users of other environments are invisible)."""
        with self.lock:
            user = self.users.get(user_id)
        return user if user is not None and user.environment == environment else None

    def log_request(self, record: RequestRecord) -> None:
        """Append to the bounded request log."""
        self.requests.append(record)

    # pruning -------------------------------------------------------------------------------
    def prune(self) -> None:
        """Drop expired sessions, flows and tokens."""
        with self.lock:
            self._prune_locked()

    def _prune_locked(self) -> None:
        now = self.clock.now()
        for kind, queue in self._expiry.items():
            store: dict[str, Any] = getattr(self, kind)
            while queue and queue[0][0] <= now:
                _, key = queue.popleft()
                store.pop(key, None)

    def reset(self) -> None:
        """Forget every user, session, flow, token and logged request."""
        with self.lock:
            self.users.clear()
            self.sessions.clear()
            self.flows.clear()
            self.mobile_tokens.clear()
            self.streaming_tokens.clear()
            self.requests.clear()
            for queue in self._expiry.values():
                queue.clear()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able view for the control plane (no secrets)."""
        with self.lock:
            self._prune_locked()
            now = self.clock.now()
            return {
                "now": iso(now),
                "users": [dict(u.public(), environment=u.environment) for u in self.users.values()],
                "sessions": [
                    {
                        "session_id": s.session_id,
                        "environment": s.environment,
                        "providers": list(s.providers),
                        "reference_id": s.reference_id,
                        "used": s.used,
                        "expires_in": round(s.expires_at - now, 3),
                    }
                    for s in self.sessions.values()
                ],
                "auth_flows": [
                    {
                        "flow_id": f.flow_id,
                        "environment": f.environment,
                        "user_id": f.user_id,
                        "provider": f.provider,
                        "used": f.used,
                        "expires_in": round(f.expires_at - now, 3),
                    }
                    for f in self.flows.values()
                ],
                "tokens": [
                    {
                        "environment": t.environment,
                        "reference_id": t.reference_id,
                        "used": t.used,
                        "expires_in": round(t.expires_at - now, 3),
                    }
                    for t in self.mobile_tokens.values()
                ],
                "streaming_tokens": [
                    {
                        "environment": t.environment,
                        "kind": t.kind,
                        "user_id": t.user_id,
                        "used": t.used,
                        "expires_in": round(t.expires_at - now, 3),
                    }
                    for t in self.streaming_tokens.values()
                ],
            }
