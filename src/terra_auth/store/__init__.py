"""Persistence: connections, webhook events (raw bodies kept) and idempotency.

``StoreUnavailable`` imports without SQLAlchemy; ``Store`` loads it on first use.

Example:
    >>> from terra_auth.store import Store
    >>> store = Store("sqlite:///:memory:")
    >>> store.upgrade()
    >>> store.connections_for("user-1")
    []
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from terra_auth.store._errors import StoreUnavailable

if TYPE_CHECKING:
    from terra_auth.store._store import (
        IngestResult,
        LocalAction,
        ReplayResult,
        Store,
        StoredEvent,
    )

__all__ = [
    "IngestResult",
    "LocalAction",
    "ReplayResult",
    "Store",
    "StoreUnavailable",
    "StoredEvent",
]

_LAZY = {"IngestResult", "LocalAction", "ReplayResult", "Store", "StoredEvent"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from terra_auth.store import _store

        return getattr(_store, name)
    raise AttributeError(f"module 'terra_auth.store' has no attribute {name!r}")
