"""Retry policy shared by the sync and async clients.

429 waits for ``Retry-After`` (when Terra sent one and it fits the budget); 5xx, connection errors
and timeouts back off exponentially with jitter; every other error is raised at once. Attempts
and total time are both bounded. ``sleep``/``async_sleep`` are injectable so tests never sleep.

Example:
    >>> waits = []
    >>> policy = RetryPolicy(attempts=3, sleep=waits.append)
    >>> RetryPolicy.off().attempts
    1
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from terra_auth.errors import RateLimitedError, ServerError, TerraAuthError, TransportError

__all__ = ["RetryPolicy", "RetryState"]

#: transport failures worth another try (a TLS failure will not fix itself)
RETRYABLE_TRANSPORT = frozenset({"unreachable", "timeout", "protocol"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry.

    ``attempts`` counts every try (1 = no retry); ``timeout`` bounds the whole operation in
    seconds, waits included; a ``Retry-After`` above ``max_retry_after`` is not waited for
    (the :class:`~terra_auth.errors.RateLimitedError` is raised with its ``retry_after``).
    """

    attempts: int = 3
    timeout: float = 30.0
    wait_initial: float = 0.2
    wait_max: float = 5.0
    wait_jitter: float = 0.3
    max_retry_after: float = 30.0
    retry_rate_limited: bool = True
    sleep: Callable[[float], None] | None = field(default=None, compare=False)
    async_sleep: Callable[[float], Awaitable[None]] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts counts every try and must be at least 1")

    @classmethod
    def off(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(attempts=1)

    def backoff(self, retry_number: int) -> float:
        """The jittered wait before retry ``retry_number`` (1-based)."""
        base: float = min(self.wait_max, self.wait_initial * 2.0 ** (retry_number - 1))
        return base + random.uniform(0, self.wait_jitter)


class RetryState:
    """The bookkeeping of one operation's attempts. ``next_delay`` says whether to go again."""

    __slots__ = ("_started", "_waited", "attempt", "maybe_applied", "policy")

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.attempt = 1
        self._started = time.monotonic()
        self._waited = 0.0  # waits that injected sleeps did not really spend
        #: an earlier attempt may have been carried out (5xx, read timeout, broken connection);
        #: the client sets it
        self.maybe_applied = False

    def next_delay(self, error: TerraAuthError) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``error`` now."""
        policy = self.policy
        if self.attempt >= policy.attempts:
            return None
        if isinstance(error, RateLimitedError):
            if not policy.retry_rate_limited:
                return None
            if error.retry_after is not None:
                if error.retry_after > policy.max_retry_after:
                    return None
                delay = max(0.0, error.retry_after)
            else:
                delay = policy.backoff(self.attempt)
        elif isinstance(error, ServerError) or (
            isinstance(error, TransportError) and error.kind in RETRYABLE_TRANSPORT
        ):
            delay = policy.backoff(self.attempt)
        else:
            return None
        used = time.monotonic() - self._started + self._waited
        if used + delay > policy.timeout:
            return None
        self.attempt += 1
        return delay

    def remaining(self) -> float:
        """Seconds left of the operation's time budget."""
        return self.policy.timeout - (time.monotonic() - self._started + self._waited)

    def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds (or hand it to the injected sleep)."""
        if self.policy.sleep is not None:
            self._waited += delay
            self.policy.sleep(delay)
        elif delay > 0:
            time.sleep(delay)

    async def async_sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds without blocking the event loop."""
        if self.policy.async_sleep is not None:
            self._waited += delay
            await self.policy.async_sleep(delay)
        elif self.policy.sleep is not None:
            self._waited += delay
            self.policy.sleep(delay)
        elif delay > 0:
            await anyio.sleep(delay)
