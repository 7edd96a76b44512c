"""A job's reason: why it failed (a party's cancellation, a node's failure, a timeout).

Revision ID: 0002_job_reason
Revises: 0001_initial
Create Date: 2026-12-02

Adds the nullable ``jobs.reason`` column (one line; never data). The coordinator sets it
when a job fails: from the failing event's details, or its own explanation when it times
a job out.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_job_reason"
down_revision: str | Sequence[str] | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``jobs.reason``."""
    op.add_column("jobs", sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    """Drop ``jobs.reason``."""
    op.drop_column("jobs", "reason")
