"""per-tenant severity overrides

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 20:40:20.232751

Adds ``tenants.severity_overrides`` (finding_type_id -> severity). The server default
``'{}'`` fills the rows that exist when the migration runs: no tenant has overrides yet.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("severity_overrides", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("tenants", "severity_overrides")
