"""Hardening (issue 12): an index for pruning old replay marks (bot/retention.py)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 11:35:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('processedupdate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processedupdate_at'), ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('processedupdate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processedupdate_at'))
