"""The emulator's behaviour, independent of HTTP: accounts, connections, lifecycle webhooks.

The HTTP layers (``api``, ``widget``, ``control``) and the in-process :class:`Emulator` call it.

Example:
    >>> engine = Engine(seed=1)
    >>> user = engine.connect("testing", provider="FITBIT", reference_id="u1")
    >>> user["provider"], user["reference_id"]
    ('FITBIT', 'u1')
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from terra_auth.emulator import payloads
from terra_auth.emulator.accounts import CLOUD_PROVIDERS, SDK_PROVIDERS, Account, make_accounts
from terra_auth.emulator.faults import FaultSet
from terra_auth.emulator.state import Clock, EmulatorState, User
from terra_auth.emulator.webhooks import Delivery, Dispatcher
from terra_auth.environments import Environment
from terra_auth.errors import InvalidRequestError, NotFoundError
from terra_auth.secret import Secret

__all__ = ["ERROR_STYLES", "Engine", "UserCapReached"]

ERROR_STYLES = ("problem", "legacy", "forbidden")
ALL_PROVIDERS = CLOUD_PROVIDERS + SDK_PROVIDERS


class UserCapReached(InvalidRequestError):
    """The testing/staging environment already holds its maximum number of users."""


def check_style(style: str) -> str:
    """Validate an error style name."""
    if style not in ERROR_STYLES:
        raise InvalidRequestError(
            f"unknown error style {style!r}", hint=f"use one of: {', '.join(ERROR_STYLES)}"
        )
    return style


class Engine:
    """Accounts, state, faults and webhook dispatch of one emulator."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        config: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        error_style: str = "problem",
        time_scale: float = 1.0,
        clock: Clock | None = None,
        user_cap: int = 50,
        legacy_auth_error: bool = False,
        legacy_widget_gone: bool = False,
        webhook_timeout: float = 8.0,
        max_attempts: int = 10,
        deauth_delay: float = 2.0,
        request_log_size: int = 10_000,
    ) -> None:
        for name, value, low in (
            ("time_scale", time_scale, 0.0),
            ("webhook_timeout", webhook_timeout, 0.001),
            ("max_attempts", max_attempts, 1),
            ("user_cap", user_cap, 0),
            ("deauth_delay", deauth_delay, 0.0),
        ):
            if not isinstance(value, int | float) or value < low:
                raise InvalidRequestError(
                    f"emulator option {name}={value!r} is out of range",
                    hint=f"{name} must be a number >= {low}",
                )
        config = dict(config or {})
        if seed is None and config.get("seed") is not None:
            seed = int(config["seed"])
        self.seed = seed
        self.accounts: dict[str, Account] = make_accounts(seed, config, user_cap=user_cap)
        self.by_dev_id: dict[str, Account] = {a.dev_id: a for a in self.accounts.values()}
        for account in self.accounts.values():
            if webhook_url and account.webhook_url is None:
                account.webhook_url = webhook_url
            if legacy_widget_gone:
                account.legacy_widget_gone = True
        self.error_style = check_style(str(config.get("error_style", error_style)))
        self.legacy_auth_error = bool(config.get("legacy_auth_error", legacy_auth_error))
        self.time_scale = time_scale
        self.deauth_delay = deauth_delay
        self.clock = clock or Clock()
        self.state = EmulatorState(clock=self.clock, seed=seed, request_log_size=request_log_size)
        self.faults = FaultSet()
        self.dispatcher = Dispatcher(
            time_scale=time_scale, timeout=webhook_timeout, max_attempts=max_attempts
        )

    # accounts ------------------------------------------------------------------------------
    def account(self, environment: str | Environment) -> Account:
        """The account of an environment (aliases such as ``prod`` accepted)."""
        return self.accounts[Environment.parse(environment).value]

    def authenticate(self, dev_id: str | None, api_key: str | None) -> tuple[Account | None, str]:
        """Check a credential pair: ``(account, "")`` or ``(None, reason)``."""
        if not dev_id or not api_key:
            return None, "dev-id or x-api-key headers are missing"
        account = self.by_dev_id.get(dev_id)
        if account is None or not _same(account.api_key, api_key):
            return None, "invalid dev-id or x-api-key"
        return account, ""

    def secrets_for(self, environment: str) -> list[str]:
        """Secrets to sign with now: the current one, then any still-valid previous one."""
        account = self.accounts[environment]
        now = time.time()
        account.previous_secrets = [
            (s, until) for s, until in account.previous_secrets if until > now
        ]
        return [account.webhook_secret] + [s for s, _ in account.previous_secrets]

    def rotate_secret(
        self, environment: str, *, new_secret: str | None = None, overlap_seconds: float = 0.0
    ) -> Account:
        """Replace a signing secret; with an overlap, sign with old and new for that long."""
        account = self.account(environment)
        with self.state.lock:
            if overlap_seconds > 0:
                account.previous_secrets.append(
                    (account.webhook_secret, time.time() + overlap_seconds)
                )
            account.webhook_secret = new_secret or self.state.new_hex(32)
            Secret(account.webhook_secret)  # registers the value, so mask() hides it
        return account

    def set_webhook_url(self, environment: str, url: str | None) -> None:
        """Set (or clear, with None) an environment's webhook destination."""
        if url is not None and not url.startswith(("http://", "https://")):
            raise InvalidRequestError(
                "a webhook URL must start with http:// or https://",
                hint="e.g. http://127.0.0.1:8000/terra/webhooks",
            )
        self.account(environment).webhook_url = url

    # webhooks ------------------------------------------------------------------------------
    def send_event(
        self,
        environment: str,
        payload: dict[str, Any],
        *,
        users: tuple[User, ...] = (),
        delay: float = 0.0,
    ) -> Delivery:
        """Queue a signed webhook for an environment's destination (recorded even without one)."""
        now = self.clock.now()
        for user in users:
            user.last_webhook_update = now
        account = self.accounts[environment]
        return self.dispatcher.submit(
            environment=environment,
            payload=payload,
            url=account.webhook_url,
            secrets=lambda: self.secrets_for(environment),
            trace_id=self.state.new_uuid(),
            reference=self.state.new_uuid(),
            delay=delay,
        )

    # connections ---------------------------------------------------------------------------
    def check_provider(self, provider: str) -> str:
        """Upper-case a provider name and check the emulator knows it."""
        name = provider.strip().upper()
        if name not in ALL_PROVIDERS:
            raise InvalidRequestError(
                f"unknown provider {provider!r}",
                hint=f"use one of: {', '.join(ALL_PROVIDERS)}",
            )
        return name

    def connect(
        self,
        environment: str | Environment,
        *,
        provider: str,
        reference_id: str | None = None,
        user_id: str | None = None,
        scopes: str | None = None,
        replaces_user_id: str | None = None,
        widget_session_id: str | None = None,
        flow_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a connected user as a completed widget would, and send its webhooks.

        The same provider and ``reference_id`` connecting again (or an explicit
        ``replaces_user_id``) replaces the old user: ``auth`` for the new one plus ``user_reauth``.
        """
        env = Environment.parse(environment).value
        account = self.accounts[env]
        provider = self.check_provider(provider)
        with self.state.lock:
            olds: list[User] = []
            if replaces_user_id is not None:
                replaced = self.state.find_user(env, replaces_user_id)
                if replaced is None:
                    raise NotFoundError(
                        f"user {replaces_user_id!r} to replace does not exist in {env}",
                        status_code=404,
                        hint="list users with GET /_emulator/state",
                    )
                olds = [replaced]
            elif reference_id is not None:  # same provider account again: every earlier one goes
                olds = [
                    u
                    for u in self.state.users_of(env)
                    if u.provider == provider and u.reference_id == reference_id
                ]
            count = self.state.count_users(env) - len(olds)
            if account.user_cap is not None and count >= account.user_cap:
                raise UserCapReached(
                    f"the {env} environment already holds {count} users (its cap)",
                    hint="deauthenticate users, reset the emulator, or raise user_cap",
                )
            user = self.state.new_user(
                env, provider=provider, reference_id=reference_id, user_id=user_id, scopes=scopes
            )
            for old in olds:
                self.state.users.pop(old.user_id, None)
                old.active = False
        self.send_event(
            env,
            payloads.auth_success(
                user.public() | {"last_webhook_update": None},
                widget_session_id=widget_session_id,
                flow_id=flow_id,
            ),
            users=(user,),
        )
        for old in olds:
            self.send_event(env, payloads.user_reauth(user.public(), old.public()), users=(user,))
        return dict(user.public(), environment=env)

    def fail_connection(
        self,
        environment: str,
        *,
        provider: str,
        reference_id: str | None,
        reason: str,
        widget_session_id: str | None = None,
        flow_id: str | None = None,
    ) -> Delivery:
        """Send the failed/cancelled-auth webhook (2026 form, or legacy behind the switch)."""
        if self.legacy_auth_error:
            ghost = User(
                user_id=self.state.new_uuid(),
                environment=environment,
                provider=provider,
                reference_id=reference_id,
                scopes=None,
                created_at=self.clock.now(),
                active=False,
            )
            payload = payloads.auth_error_legacy(
                ghost.public(),
                reason=reason,
                reference_id=reference_id,
                widget_session_id=widget_session_id,
            )
        else:
            payload = payloads.auth_cancelled(
                flow_id=flow_id or widget_session_id, reason=reason, reference_id=reference_id
            )
        return self.send_event(environment, payload)

    def deauthenticate(self, environment: str, user_id: str) -> User:
        """Delete a user at once; the ``deauth`` webhook follows asynchronously."""
        env = Environment.parse(environment).value
        with self.state.lock:
            user = self.state.find_user(env, user_id)
            if user is None:
                raise NotFoundError(
                    "user not found", status_code=404, hint="check the user_id and environment"
                )
            del self.state.users[user_id]
            user.active = False
        self.send_event(env, payloads.deauth(user.public()), users=(user,), delay=self.deauth_delay)
        return user

    def trigger(
        self,
        environment: str | Environment,
        user_id: str,
        event: str,
        *,
        scopes_added: str = "",
        scopes_removed: str = "",
        message: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Send any lifecycle event for a user, updating its state as Terra would."""
        env = Environment.parse(environment).value
        if event not in payloads.EVENT_TYPES:
            raise InvalidRequestError(
                f"unknown lifecycle event {event!r}",
                hint=f"use one of: {', '.join(payloads.EVENT_TYPES)}",
            )
        user = self.state.find_user(env, user_id)
        if user is None:
            raise NotFoundError(
                f"user {user_id!r} does not exist in {env}",
                status_code=404,
                hint="create one with connect, or list users with GET /_emulator/state",
            )
        if event == "deauth":
            self.deauthenticate(env, user_id)
            return {"event": event, "user": user.public()}
        if event == "user_reauth":
            new = self.connect(
                env,
                provider=user.provider,
                reference_id=user.reference_id,
                replaces_user_id=user_id,
            )
            return {"event": event, "user": new, "old_user_id": user_id}
        if event == "auth":
            self.send_event(env, payloads.auth_success(user.public()), users=(user,))
        elif event == "auth_cancelled":
            self.fail_connection(
                env,
                provider=user.provider,
                reference_id=user.reference_id,
                reason=reason or "access_denied",
            )
        elif event == "access_revoked":
            user.active = False
            self.send_event(env, payloads.access_revoked(user.public()), users=(user,))
        elif event == "connection_error":
            self.send_event(env, payloads.connection_error(user.public(), message), users=(user,))
        elif event == "permission_change":
            current = [s for s in (user.scopes or "").split(",") if s]
            removed = [s for s in scopes_removed.split(",") if s]
            added = [s for s in scopes_added.split(",") if s and s not in current]
            user.scopes = ",".join([s for s in current if s not in removed] + added)
            self.send_event(
                env,
                payloads.permission_change(
                    user.public(), scopes_added=",".join(added), scopes_removed=",".join(removed)
                ),
                users=(user,),
            )
        return {"event": event, "user": user.public()}

    def reset(self) -> None:
        """Forget users, sessions, tokens, deliveries, requests and faults (accounts stay)."""
        self.state.reset()
        self.dispatcher.clear()
        self.faults.clear()


def _same(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())
