"""Compliance Logs Platform watermark per tenant

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-07 00:30:00

Adds ``tenants.logs_watermark``: the ``last_end_time`` (ISO-8601) of the newest
CONVERSATION_MESSAGE log file whose records a scan fully processed. Null for every existing
tenant: the first scan that uses the Logs Platform reads every file still kept.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("logs_watermark", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("tenants", "logs_watermark")
