"""The evidence a card rested on, as a keyed hash, so a suppression ends when the evidence changes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.add_column("card_history", sa.Column("evidence_key", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("card_history", "evidence_key")
