"""connections, webhook_events and idempotency

Revision ID: 0001_initial
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the three tables."""
    op.create_table(
        "connections",
        sa.Column("terra_user_id", sa.String(128), primary_key=True),
        sa.Column("reference_id", sa.String(255), nullable=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deauth_requested_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_connections_reference_id", "connections", ["reference_id"])
    op.create_table(
        "webhook_events",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("trace_id", sa.String(255), nullable=False),
        sa.Column("canonical_trace_id", sa.String(255), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("terra_user_id", sa.String(128), nullable=True),
        sa.Column("raw_body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_webhook_events_canonical_trace_id", "webhook_events", ["canonical_trace_id"]
    )
    op.create_index("ix_webhook_events_type", "webhook_events", ["type"])
    op.create_index("ix_webhook_events_terra_user_id", "webhook_events", ["terra_user_id"])
    op.create_index("ix_webhook_events_received", "webhook_events", ["received_at", "id"])
    op.create_table(
        "idempotency",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("trace_id", sa.String(255), nullable=False),
        sa.Column("canonical_trace_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("environment", "trace_id", name="uq_idempotency_key"),
    )
    op.create_index("ix_idempotency_canonical_trace_id", "idempotency", ["canonical_trace_id"])


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("idempotency")
    op.drop_table("webhook_events")
    op.drop_table("connections")
