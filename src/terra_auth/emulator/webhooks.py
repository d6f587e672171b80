"""Signed webhook delivery with retries, in a background thread.

Each delivery is signed with its environment's secret (``t=<unix>,v1=<hex>``, both
``terra-signature`` and ``X-Terra-Signature``), keeps one ``X-Terra-Trace-Id`` across retries and
is retried on any non-2xx answer or timeout with exponential backoff (30 s doubling, capped at
8 h, times ``time_scale``), up to ``max_attempts``. Every attempt is recorded.

Example:
    >>> dispatcher = Dispatcher(time_scale=0.001)
    >>> dispatcher.start(); dispatcher.stop()
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from terra_auth.secret import get_logger

__all__ = ["Attempt", "Delivery", "Dispatcher", "signature_header"]

BASE_DELAY = 30.0
MAX_DELAY = 8 * 3600.0
_log = get_logger("terra_auth.emulator.webhooks")


@dataclass(slots=True)
class Attempt:
    """One try at delivering a webhook."""

    number: int
    at: float
    status: int | None
    error: str | None
    duration: float
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        """True when the receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


@dataclass(slots=True)
class Delivery:
    """A webhook event and the story of its delivery."""

    id: int
    environment: str
    event_type: str
    body: bytes
    trace_id: str
    reference: str
    url: str | None
    secrets: Callable[[], list[str]] = field(repr=False)
    attempts: list[Attempt] = field(default_factory=list)
    delivered: bool = False
    gave_up: bool = False

    @property
    def payload(self) -> Any:
        """The parsed JSON body."""
        return json.loads(self.body)

    @property
    def headers(self) -> dict[str, str]:
        """Headers of the latest attempt (empty before the first)."""
        return dict(self.attempts[-1].headers) if self.attempts else {}

    @property
    def done(self) -> bool:
        """Delivered, given up, or never sent (no destination URL)."""
        return self.delivered or self.gave_up or self.url is None

    def summary(self) -> dict[str, Any]:
        """A JSON-able view for the control plane."""
        return {
            "id": self.id,
            "environment": self.environment,
            "event_type": self.event_type,
            "trace_id": self.trace_id,
            "reference": self.reference,
            "url": self.url,
            "delivered": self.delivered,
            "gave_up": self.gave_up,
            "payload": self.payload,
            "attempts": [
                {"number": a.number, "status": a.status, "error": a.error, "at": a.at}
                for a in self.attempts
            ],
        }


def signature_header(body: bytes, secrets: list[str], timestamp: int | None = None) -> str:
    """``t=<unix>,v1=<hex>[,v1=<hex>...]``: one v1 per secret (several during a rotation).

    ``v1 = hex(HMAC-SHA256(secret, f"{t}." + body))`` (terra-api.md section 6). The emulator keeps
    its own signer so it never shares a bug with the verifier in ``terra_auth.webhooks``.

    >>> signature_header(b'{"type":"auth","status":"success"}', ["whsec_test"], 1723808700)[-8:]
    '6f469964'
    """
    t = int(time.time()) if timestamp is None else timestamp
    signed = f"{t}.".encode() + body
    v1s = [hmac.new(s.encode(), signed, hashlib.sha256).hexdigest() for s in secrets]
    return f"t={t}," + ",".join(f"v1={v}" for v in v1s)


class Dispatcher:
    """Sends deliveries in due order from one background thread (ordered per emulator)."""

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        timeout: float = 8.0,
        max_attempts: int = 10,
        history: int = 10_000,
    ) -> None:
        self.time_scale = time_scale
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.deliveries: deque[Delivery] = deque(maxlen=history)
        self.changed = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._stop = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._client: httpx.Client | None = None

    # lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the sending thread (idempotent)."""
        with self._start_lock:
            self._closed = False
            if self._thread is not None:
                return
            self._stop = False
            self._client = httpx.Client(
                timeout=self.timeout, follow_redirects=False, trust_env=False
            )
            self._thread = threading.Thread(
                target=self._run, name="terra-emulator-webhooks", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread; pending deliveries are abandoned (until :meth:`start` again)."""
        with self._start_lock:
            self._closed = True
            with self.changed:
                self._stop = True
                self.changed.notify_all()
            if self._thread is not None:
                self._thread.join(timeout=self.timeout + 5)
                self._thread = None
            if self._client is not None:
                self._client.close()
                self._client = None

    def clear(self) -> None:
        """Forget every delivery and drop pending retries."""
        with self.changed:
            self._heap.clear()
            self.deliveries.clear()
            self.changed.notify_all()

    # enqueue -------------------------------------------------------------------------------
    def submit(
        self,
        *,
        environment: str,
        payload: dict[str, Any],
        url: str | None,
        secrets: Callable[[], list[str]],
        trace_id: str,
        reference: str,
        delay: float = 0.0,
    ) -> Delivery:
        """Record an event and schedule its delivery ``delay`` seconds (scaled) from now."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery = Delivery(
            id=next(self._ids),
            environment=environment,
            event_type=str(payload.get("type")),
            body=body,
            trace_id=trace_id,
            reference=reference,
            url=url,
            secrets=secrets,
        )
        if url is not None and self._thread is None and not self._closed:
            self.start()  # e.g. an app driven through httpx.ASGITransport, never start()ed
        with self.changed:
            self.deliveries.append(delivery)
            if url is not None:
                due = time.monotonic() + delay * self.time_scale
                heapq.heappush(self._heap, (due, next(self._seq), delivery))
            self.changed.notify_all()
        return delivery

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds (re-checked after each attempt) or time runs out."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout=timeout)

    # sending -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self.changed:
                while not self._stop:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    wait = self._heap[0][0] - now if self._heap else None
                    self.changed.wait(timeout=wait)
                if self._stop:
                    return
                _, _, delivery = heapq.heappop(self._heap)
            self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        assert self._client is not None and delivery.url is not None
        number = len(delivery.attempts) + 1
        headers = {
            "content-type": "application/json",
            "X-Terra-Trace-Id": delivery.trace_id,
            "terra-reference": delivery.reference,
            "x-terra-ordering-timestamp": str(time.time_ns() // 1000),
            "user-agent": "terra-auth-emulator",
        }
        signature = signature_header(delivery.body, delivery.secrets())
        headers["terra-signature"] = signature
        headers["X-Terra-Signature"] = signature
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = self._client.post(delivery.url, content=delivery.body, headers=headers)
            status = response.status_code
        except httpx.TimeoutException:
            error = "timeout"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        attempt = Attempt(
            number=number,
            at=time.time(),
            status=status,
            error=error,
            duration=time.monotonic() - started,
            headers=headers,
        )
        with self.changed:
            delivery.attempts.append(attempt)
            if attempt.ok:
                delivery.delivered = True
            elif number >= self.max_attempts:
                delivery.gave_up = True
                _log.warning(
                    "webhook %s (%s) given up after %d attempts",
                    delivery.trace_id,
                    delivery.event_type,
                    number,
                )
            else:
                delay = min(BASE_DELAY * 2 ** (number - 1), MAX_DELAY) * self.time_scale
                heapq.heappush(self._heap, (time.monotonic() + delay, next(self._seq), delivery))
            self.changed.notify_all()
