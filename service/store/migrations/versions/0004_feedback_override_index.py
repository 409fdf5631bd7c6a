"""Overrides by time, for the override index's reload (``service.store.override_index``): without it, each
reload would read the whole feedback table, which only grows.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_index("ix_feedback_outcome_at", "feedback", ["outcome", "outcome_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_outcome_at", table_name="feedback")
