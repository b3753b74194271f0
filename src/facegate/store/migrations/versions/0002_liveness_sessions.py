"""liveness sessions

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "liveness_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("stream_opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("allowed_origins", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("liveness_data_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_liveness_sessions_expires_at"), "liveness_sessions", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_liveness_sessions_key_id"), "liveness_sessions", ["key_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_liveness_sessions_key_id"), table_name="liveness_sessions")
    op.drop_index(op.f("ix_liveness_sessions_expires_at"), table_name="liveness_sessions")
    op.drop_table("liveness_sessions")
