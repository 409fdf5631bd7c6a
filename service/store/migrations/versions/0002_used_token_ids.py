"""The jti replay cache in the database (used when no Redis is configured).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "used_token_ids",
        sa.Column("key_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_used_token_ids_expires_at", "used_token_ids", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_used_token_ids_expires_at", table_name="used_token_ids")
    op.drop_table("used_token_ids")
