"""The in-process :class:`Emulator`: the app served by uvicorn in a thread on a free port.

Example:
    >>> with Emulator(seed=1) as emu:  # doctest: +SKIP
    ...     emu.url, emu.environments["testing"].dev_id
    ('http://127.0.0.1:54321', 'emulator-testing-...')
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from terra_auth.emulator.accounts import Account, load_config
from terra_auth.emulator.app import EmulatorApp, _Server, create_app
from terra_auth.emulator.core import Engine
from terra_auth.emulator.faults import Fault
from terra_auth.emulator.state import Clock, RequestRecord
from terra_auth.emulator.webhooks import Delivery
from terra_auth.environments import Environment, SigningSecret, TerraCredentials
from terra_auth.errors import InvalidRequestError, TerraAuthError
from terra_auth.secret import Secret

__all__ = ["Emulator", "EmulatorApp", "create_app"]


class Emulator:
    """A local Terra: ``with Emulator() as emu:`` serves it on a free port in a thread.

    Args:
        seed: deterministic accounts and ids (``random.Random(seed)``).
        config: a JSON config file path or a parsed dict (accounts, seed, error_style, ...).
        webhook_url: destination for every environment's webhooks (or per environment later).
        error_style: ``problem`` (RFC 9457), ``legacy`` (``{status, message}``) or ``forbidden``.
        time_scale: multiplies webhook retry delays (tests use e.g. 0.001).
        legacy_auth_error: send failed auth as the legacy ``type: auth, status: error`` form.
        legacy_widget_gone: the legacy widget endpoint answers 410 for every account.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        config: str | Path | dict[str, Any] | None = None,
        webhook_url: str | None = None,
        error_style: str = "problem",
        time_scale: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        user_cap: int = 50,
        legacy_auth_error: bool = False,
        legacy_widget_gone: bool = False,
        webhook_timeout: float = 8.0,
        max_attempts: int = 10,
        deauth_delay: float = 2.0,
    ) -> None:
        if isinstance(config, str | Path):
            config = load_config(config)
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise InvalidRequestError(
                "a webhook URL must start with http:// or https://",
                hint="e.g. http://127.0.0.1:8000/terra/webhooks",
            )
        self.engine = Engine(
            seed=seed,
            config=config,
            webhook_url=webhook_url,
            error_style=error_style,
            time_scale=time_scale,
            clock=clock,
            user_cap=user_cap,
            legacy_auth_error=legacy_auth_error,
            legacy_widget_gone=legacy_widget_gone,
            webhook_timeout=webhook_timeout,
            max_attempts=max_attempts,
            deauth_delay=deauth_delay,
        )
        self.host = host
        self.port = port
        self.app = create_app(self.engine)
        self._server: _Server | None = None

    # lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Emulator:
        """Start serving (and sending webhooks); returns self."""
        if self._server is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when the listening
        # socket says TCP; with proto 0 every keep-alive answer waits ~40 ms (Nagle+delayed ACK)
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise TerraAuthError(
                f"the emulator cannot listen on {self.host}:{self.port} ({exc.strerror})",
                hint="choose another --port, or 0 for any free port",
            ) from None
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self.engine.dispatcher.start()
        server = _Server(self.app, sock)
        server.thread.start()
        if not server.started.wait(timeout):
            server.server.should_exit = True
            raise TerraAuthError("the emulator did not start in time", hint="see the logs above")
        self._server = server
        return self

    def stop(self) -> None:
        """Stop the server and the webhook thread."""
        server, self._server = self._server, None
        if server is not None:
            server.server.should_exit = True
            if server.loop is not None and server.wake is not None:
                with contextlib.suppress(RuntimeError):  # the loop already ended
                    server.loop.call_soon_threadsafe(server.wake.set)
            server.thread.join(timeout=10)
            server.sock.close()
        self.engine.dispatcher.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # addresses and accounts ----------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (valid once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host == "0.0.0.0":  # noqa: S104 (a display choice, not a bind)
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def environments(self) -> dict[str, Account]:
        """Accounts by environment name (``Environment`` members work as keys too)."""
        return self.engine.accounts

    @property
    def clock(self) -> Clock:
        """The emulator's clock; ``emu.clock.advance(901)`` expires sessions without sleeping."""
        return self.engine.clock

    def credentials(self, environment: str | Environment = "testing") -> TerraCredentials:
        """TerraCredentials pointing at this emulator."""
        account = self.engine.account(environment)
        return TerraCredentials(
            environment=account.environment,
            dev_id=account.dev_id,
            api_key=Secret(account.api_key),
            webhook_secrets=tuple(
                SigningSecret(Secret(s)) for s in self.engine.secrets_for(account.environment)
            ),
            api_base_url=f"{self.url}/api/v2",
            widget_session_url=f"{self.url}/api/widget/session",
            streaming_url=f"{self.url}/streaming",
            allowed_redirect_hosts=("127.0.0.1", "localhost"),
            sources=("emulator",),
        )

    def env_file_text(self, environment: str | Environment) -> str:
        """The ``.env.terra.<env>`` content for an environment (holds secrets)."""
        a = self.engine.account(environment)
        return (
            f"TERRA_DEV_ID={a.dev_id}\n"
            f"TERRA_API_KEY={a.api_key}\n"
            f"TERRA_WEBHOOK_SECRET={a.webhook_secret}\n"
            f"TERRA_API_BASE_URL={self.url}/api/v2\n"
            f"TERRA_WIDGET_SESSION_URL={self.url}/api/widget/session\n"
            f"TERRA_STREAMING_URL={self.url}/streaming\n"
        )

    def write_env_files(self, directory: str | Path) -> list[Path]:
        """Write ``.env.terra.<env>`` (mode 0600) for each environment; never overwrite.

        The folder's ``.gitignore`` is made to cover ``.env.terra*``.
        """
        import os

        folder = Path(directory)
        if not folder.is_dir():
            raise InvalidRequestError(
                f"--write-env directory {str(folder)!r} does not exist",
                hint="create it first, or pass an existing directory",
            )
        written: list[Path] = []
        for env in Environment:
            path = folder / f".env.terra.{env.value}"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.env_file_text(env))
            written.append(path)
        if written:  # fake keys, but a credential file never belongs in git
            from terra_auth.credential_files import ensure_gitignored

            ensure_gitignored(folder, written[0].name)
        return written

    # actions -------------------------------------------------------------------------------
    def set_webhook_url(self, environment: str | Environment, url: str | None) -> None:
        """Set (or clear) an environment's webhook destination."""
        self.engine.set_webhook_url(Environment.parse(environment).value, url)

    def connect(
        self,
        environment: str | Environment = "testing",
        *,
        provider: str = "FITBIT",
        reference_id: str | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Create a connected user as if the widget had been completed (same webhooks)."""
        return self.engine.connect(
            environment, provider=provider, reference_id=reference_id, **options
        )

    def trigger(
        self, environment: str | Environment, user_id: str, event: str, **options: Any
    ) -> dict[str, Any]:
        """Send any lifecycle event for a user (``access_revoked``, ``deauth``, ...)."""
        return self.engine.trigger(environment, user_id, event, **options)

    def inject_fault(self, path: str, *, kind: str, **options: Any) -> Fault:
        """Inject a fault for an endpoint (``count=N`` next requests, or ``rate=p``)."""
        return self.engine.faults.add(path=path, kind=kind, **options)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.engine.faults.clear()

    def rotate_secret(
        self,
        environment: str | Environment = "testing",
        *,
        new_secret: str | None = None,
        overlap_seconds: float = 0.0,
    ) -> str:
        """Rotate a signing secret; returns the new one (signs with both during the overlap)."""
        return self.engine.rotate_secret(
            Environment.parse(environment).value,
            new_secret=new_secret,
            overlap_seconds=overlap_seconds,
        ).webhook_secret

    def reset(self) -> None:
        """Forget users, sessions, tokens, deliveries, requests and faults."""
        self.engine.reset()

    @property
    def requests(self) -> list[RequestRecord]:
        """The request log: ``(method, path, status, environment)`` tuples."""
        return list(self.engine.state.requests)

    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook delivery, oldest first."""
        with self.engine.dispatcher.changed:
            return list(self.engine.dispatcher.deliveries)

    @property
    def users(self) -> list[dict[str, Any]]:
        """Every user (all environments)."""
        with self.engine.state.lock:
            return [
                dict(u.public(), environment=u.environment)
                for u in self.engine.state.users.values()
            ]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate()`` holds; re-checked after every webhook attempt."""
        return self.engine.dispatcher.wait(predicate, timeout)

    def wait_for_deliveries(
        self,
        n: int,
        timeout: float = 5.0,
        *,
        event_type: str | Iterable[str] | None = None,
        delivered: bool = True,
    ) -> list[Delivery]:
        """Block until ``n`` deliveries (of ``event_type``) are delivered (or finished).

        With ``delivered=False`` a delivery counts once finished (delivered, given up, or
        recorded without a destination URL).
        Raises :class:`TimeoutError` naming what was seen when time runs out.
        """
        types = (
            {event_type}
            if isinstance(event_type, str)
            else (set(event_type) if event_type is not None else None)
        )

        def matching() -> list[Delivery]:
            return [
                d
                for d in self.engine.dispatcher.deliveries
                if (types is None or d.event_type in types)
                and (d.delivered if delivered else d.done)
            ]

        if not self.engine.dispatcher.wait(lambda: len(matching()) >= n, timeout):
            seen = [(d.event_type, d.delivered, len(d.attempts)) for d in self.deliveries]
            raise TimeoutError(f"expected {n} deliveries within {timeout}s; saw {seen}")
        with self.engine.dispatcher.changed:
            return matching()
