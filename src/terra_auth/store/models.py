"""SQLAlchemy 2 tables: connections, webhook_events and idempotency.

The Alembic migrations in ``terra_auth/store/migrations`` create exactly these tables;
change both together.

Example:
    >>> sorted(Base.metadata.tables)
    ['connections', 'idempotency', 'local_actions', 'webhook_events']
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "ConnectionRow",
    "IdempotencyRow",
    "LocalActionRow",
    "UTCDateTime",
    "WebhookEventRow",
]

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite
_BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of terra-auth's tables."""


class ConnectionRow(Base):
    """One Terra user (one user-provider connection), as the reducer last left it."""

    __tablename__ = "connections"

    terra_user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    reference_id: Mapped[str | None] = mapped_column(String(255), index=True)
    provider: Mapped[str] = mapped_column(String(64))
    environment: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[str] = mapped_column(Text, default="")  # comma-separated, sorted
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deauth_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookEventRow(Base):
    """A verified webhook as received: the raw body is kept, so events can be replayed."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_received", "received_at", "id"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    trace_id: Mapped[str] = mapped_column(String(255))
    canonical_trace_id: Mapped[str] = mapped_column(String(255), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(64), index=True)
    terra_user_id: Mapped[str | None] = mapped_column(String(128), index=True)
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IdempotencyRow(Base):
    """One row per delivery key; a second insert of the same key is a duplicate delivery."""

    __tablename__ = "idempotency"
    __table_args__ = (UniqueConstraint("environment", "trace_id", name="uq_idempotency_key"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(16))
    trace_id: Mapped[str] = mapped_column(String(255))
    canonical_trace_id: Mapped[str] = mapped_column(String(255), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LocalActionRow(Base):
    """A change this service made to a connection on its own, not from a webhook.

    E.g. Terra answered 404 to ``deauthenticateUser`` (it no longer knows the user), so no
    ``deauth`` webhook will come and the connection is marked disconnected here. Kept apart
    from ``webhook_events`` (whose bodies are only what Terra signed); ``after_event_id`` is the
    newest webhook event stored when the action was taken, so a replay applies it in order.
    """

    __tablename__ = "local_actions"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    environment: Mapped[str] = mapped_column(String(16))
    terra_user_id: Mapped[str] = mapped_column(String(128), index=True)
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after_event_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
