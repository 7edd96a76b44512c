"""Results relayed in bounded chunks: ``result_chunks`` replaces ``result_blobs``.

Revision ID: 0003_result_chunks
Revises: 0002_job_reason
Create Date: 2026-12-02

A sealed result is relayed as numbered chunks of at most
``tyst.coordinator.protocol.MAX_SEALED_CHUNK`` bytes each, one row per chunk, so no
row and no request grows with the result (SQLite refuses values above 1 GB). The
``result_blobs`` table is dropped: its whole-result blobs were signed in the earlier
relay format, which today's recipients no longer open. Upgrade when no finished job
waits to be fetched (``tyst job list``); a waiting one must be run again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_result_chunks"
down_revision: str | Sequence[str] | None = "0002_job_reason"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _result_blobs() -> None:
    op.create_table(
        "result_blobs",
        sa.Column("job_id", sa.String(length=128), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("received_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("job_id", "recipient", "sender"),
    )


def upgrade() -> None:
    """Create ``result_chunks``; drop ``result_blobs``."""
    op.create_table(
        "result_chunks",
        sa.Column("job_id", sa.String(length=128), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("chunk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("received_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("job_id", "recipient", "sender", "chunk"),
    )
    op.drop_table("result_blobs")


def downgrade() -> None:
    """Recreate an empty ``result_blobs``; drop ``result_chunks`` (waiting chunks are lost)."""
    _result_blobs()
    op.drop_table("result_chunks")
