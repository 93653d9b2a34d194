"""suppression rules: an explicit name pattern

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-07 00:40:00.000000

Adds ``suppressions.name_pattern``: a rule's ``resource_pattern`` now matches resource ids
only (names such as GPT names are chosen by the tenant's users, who must not be able to
name a resource into a rule); a glob on names is this separate, explicit column. Existing
rules keep their ``resource_pattern`` and get no name pattern: a rule written for names
(``*@contractor.example``) stops matching and its findings come back open, never the
other way round.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("suppressions", sa.Column("name_pattern", sa.String(length=300), nullable=True))


def downgrade() -> None:
    op.drop_column("suppressions", "name_pattern")
