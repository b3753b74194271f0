"""api keys, daily usage and stored blobs

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("api_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=16), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("endpoints", sa.JSON(), nullable=True),
        sa.Column("rate_per_second", sa.Float(), nullable=True),
        sa.Column("quota_total", sa.BigInteger(), nullable=True),
        sa.Column("quota_daily", sa.BigInteger(), nullable=True),
        sa.Column("used_total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_api_keys_api_id"), "api_keys", ["api_id"], unique=True)
    op.create_table(
        "blobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_blobs_expires_at"), "blobs", ["expires_at"], unique=False)
    op.create_index(op.f("ix_blobs_key_id"), "blobs", ["key_id"], unique=False)
    op.create_table(
        "daily_usage",
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key_id", "day"),
    )


def downgrade() -> None:
    op.drop_table("daily_usage")
    op.drop_index(op.f("ix_blobs_key_id"), table_name="blobs")
    op.drop_index(op.f("ix_blobs_expires_at"), table_name="blobs")
    op.drop_table("blobs")
    op.drop_index(op.f("ix_api_keys_api_id"), table_name="api_keys")
    op.drop_table("api_keys")
