"""local_actions: changes made by this service itself (no webhook), e.g. a local disconnect

Revision ID: 0002_local_actions
Revises: 0001_initial
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_local_actions"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the local_actions table."""
    op.create_table(
        "local_actions",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("terra_user_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("after_event_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_local_actions_terra_user_id", "local_actions", ["terra_user_id"])


def downgrade() -> None:
    """Drop the local_actions table."""
    op.drop_table("local_actions")
