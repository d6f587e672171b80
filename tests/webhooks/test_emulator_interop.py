"""End to end over real HTTP: the emulator signs and posts lifecycle webhooks to a small
stdlib receiver (127.0.0.1, free port) that verifies them with verify_webhook, deduplicates
by trace id and reduces them. Nothing is mocked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from terra_auth.environments import Environment
from terra_auth.errors import WebhookVerificationError
from terra_auth.webhooks import Deduplicator, apply_changes, reduce_event, verify_webhook
from terra_auth.webhooks.lifecycle import ConnectionState

emulator_module = pytest.importorskip("terra_auth.emulator", reason="the emulator extra is absent")


class Receiver:
    """A webhook endpoint: 200 for a verified delivery, 401 with the reason otherwise."""

    def __init__(self) -> None:
        self.secrets: Any = {}
        self.connections: dict[str, ConnectionState] = {}
        self.seen = Deduplicator()
        self.verified: list[tuple[Environment | None, str]] = []
        self.refused: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    hook = verify_webhook(raw, self.headers, receiver.secrets)
                except WebhookVerificationError as exc:
                    with receiver.lock:
                        receiver.refused.append(exc.reason)
                    self.send_response(401)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.verified.append((hook.environment, hook.event.type))
                    if receiver.seen.first_time(hook.trace_id, hook.body):
                        assert hook.environment is not None
                        changes = reduce_event(
                            receiver.connections,
                            hook.event,
                            environment=hook.environment,
                            received_at=datetime.now(UTC),
                        )
                        receiver.connections = apply_changes(receiver.connections, changes)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/terra/webhooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def setup() -> Iterator[tuple[Any, Receiver]]:
    with Receiver() as receiver, emulator_module.Emulator(seed=7) as emu:
        receiver.secrets = {env: emu.credentials(env) for env in ("testing", "staging")}
        for env in ("testing", "staging"):
            emu.set_webhook_url(env, receiver.url)
        yield emu, receiver


def test_every_lifecycle_event_verifies_and_reduces(setup: tuple[Any, Receiver]) -> None:
    emu, receiver = setup
    alice = emu.connect("staging", provider="GARMIN", reference_id="alice")
    bob = emu.connect("testing", provider="OURA", reference_id="bob")
    emu.wait_for_deliveries(2)
    assert receiver.connections[alice["user_id"]].status == "connected"
    assert receiver.connections[alice["user_id"]].environment is Environment.STAGING
    assert receiver.connections[bob["user_id"]].environment is Environment.TESTING

    emu.trigger("staging", alice["user_id"], "connection_error")
    emu.trigger("staging", alice["user_id"], "permission_change", scopes_added="SLEEP_EXPORT")
    emu.trigger("testing", bob["user_id"], "access_revoked")
    reauth = emu.trigger("staging", alice["user_id"], "user_reauth")
    emu.trigger("testing", bob["user_id"], "auth_cancelled")
    count = len(emu.deliveries)
    emu.wait_for_deliveries(count, timeout=10)

    new_id = reauth["user"]["user_id"]
    assert alice["user_id"] not in receiver.connections
    assert receiver.connections[new_id].reference_id == "alice"
    assert receiver.connections[new_id].status == "connected"
    assert receiver.connections[bob["user_id"]].status == "revoked"
    emu.trigger("staging", new_id, "deauth")
    emu.wait_for_deliveries(len(emu.deliveries), timeout=10)
    assert receiver.connections[new_id].status == "disconnected"
    assert receiver.refused == []
    kinds = {kind for _, kind in receiver.verified}
    assert {
        "auth",
        "connection_error",
        "permission_change",
        "access_revoked",
        "user_reauth",
    } <= kinds
    assert {env for env, _ in receiver.verified} == {Environment.STAGING, Environment.TESTING}


def test_rotation_overlap_and_a_receiver_with_the_wrong_secret(setup: tuple[Any, Receiver]) -> None:
    emu, receiver = setup
    old = receiver.secrets["staging"]
    new_secret = emu.rotate_secret("staging", overlap_seconds=3600)  # signs with both
    receiver.secrets = {"staging": old}  # the receiver has not rotated yet: still verifies
    emu.connect("staging", provider="FITBIT", reference_id="carol")
    emu.wait_for_deliveries(1)
    assert receiver.verified and receiver.refused == []
    assert new_secret not in repr(receiver.verified)

    receiver.secrets = {"testing": emu.credentials("testing")}  # staging's secret missing
    emu.connect("staging", provider="FITBIT", reference_id="dave")
    emu.wait_for(lambda: len(receiver.refused) >= 1, timeout=10)
    assert receiver.refused[0] == "bad_signature"
