"""Injected faults per endpoint: latency, 5xx, 429 with rate-limit headers, dropped connections.

A fault applies to the next ``count`` matching requests, or to each request with probability
``rate`` (seeded by the emulator's seed), or to every request when neither is given.

Example:
    >>> faults = FaultSet()
    >>> _ = faults.add(path="/auth/generateAuthToken", kind="status", status=503, count=1)
    >>> faults.match("POST", "/api/v2/auth/generateAuthToken", lambda: 0.5).kind
    'status'
    >>> faults.match("POST", "/v2/auth/generateAuthToken", lambda: 0.5) is None
    True
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from terra_auth.errors import InvalidRequestError

__all__ = ["FAULT_KINDS", "Fault", "FaultSet", "normalize_path"]

FAULT_KINDS = ("latency", "status", "rate_limit", "drop")

_ALIASES = {"/widget/api/session": "/api/widget/session"}


def normalize_path(path: str) -> str:
    """The endpoint a path names, whatever its prefix: ``/api/v2/x`` and ``/v2/x`` give ``/x``."""
    for prefix in ("/api/v2/", "/v2/"):
        if path.startswith(prefix):
            return path[len(prefix) - 1 :]
    return _ALIASES.get(path, path)


@dataclass(slots=True)
class Fault:
    """One injected fault rule."""

    id: int
    path: str
    kind: str
    status: int = 503
    latency: float = 0.0
    retry_after: int = 1
    count: int | None = None
    rate: float | None = None
    method: str | None = None
    hits: int = 0

    def describe(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


class FaultSet:
    """The active fault rules, thread-safe."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._faults)

    def add(
        self,
        *,
        path: str,
        kind: str,
        status: int | None = None,
        latency: float = 0.0,
        retry_after: int = 1,
        count: int | None = None,
        rate: float | None = None,
        method: str | None = None,
    ) -> Fault:
        """Add a rule; ``path`` is an endpoint (``/auth/tokens``), any prefix, or ``*``."""
        if kind not in FAULT_KINDS:
            raise InvalidRequestError(
                f"unknown fault kind {kind!r}", hint=f"use one of: {', '.join(FAULT_KINDS)}"
            )
        if not path.startswith("/") and path != "*":
            raise InvalidRequestError(
                f"fault path {path!r} must start with '/'",
                hint="e.g. /auth/generateAuthToken (matches /v2/... and /api/v2/...), or *",
            )
        if count is not None and count < 1:
            raise InvalidRequestError("fault count must be at least 1", hint="or leave it out")
        if rate is not None and not 0.0 < rate <= 1.0:
            raise InvalidRequestError("fault rate must be in (0, 1]", hint="e.g. rate=0.3")
        if kind == "status":
            status = status or 503
            if not 400 <= status <= 599:
                raise InvalidRequestError(
                    f"fault status {status} is not an error status", hint="use 500-599 (or 4xx)"
                )
        if latency < 0:
            raise InvalidRequestError("fault latency must be >= 0 seconds", hint="e.g. 0.2")
        fault = Fault(
            id=next(self._ids),
            path="*" if path == "*" else normalize_path(path),
            kind=kind,
            status=status or (429 if kind == "rate_limit" else 503),
            latency=latency,
            retry_after=retry_after,
            count=count,
            rate=rate,
            method=method.upper() if method else None,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[Fault]:
        """The active rules."""
        with self._lock:
            return list(self._faults)

    def match(self, method: str, path: str, random: Callable[[], float]) -> Fault | None:
        """The rule that fires for this request (consuming one of its ``count``), or None."""
        if not self._faults or path.startswith("/_emulator"):
            return None
        endpoint = normalize_path(path)
        with self._lock:
            for fault in self._faults:
                if fault.path not in ("*", endpoint):
                    continue
                if fault.method is not None and fault.method != method:
                    continue
                if fault.rate is not None and random() >= fault.rate:
                    continue
                fault.hits += 1
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None
