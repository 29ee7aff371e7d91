"""Fast at scale (issue 11): indexes for the listings, the task notices and the reports

- case.started_by_id: /status finds the cases a person started (an official's /mulai);
- case (status, office, sop_code, step_no, step_started_at): /tugas counts and pages the open
  cases at the steps that wait on a person without reading the rest;
- notification (case_id, recipient_id): a new task looks up what that person was already sent
  about that case (only the recipient was indexed: every row they ever got was read);
- stepvisit (office, left_at): a report finds the stays that ended in its period.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 14:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_started_by_id'), ['started_by_id'],
                              unique=False)
        batch_op.create_index('ix_case_open_steps',
                              ['status', 'office', 'sop_code', 'step_no', 'step_started_at'],
                              unique=False)
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_case_recipient', ['case_id', 'recipient_id'],
                              unique=False)
    with op.batch_alter_table('stepvisit', schema=None) as batch_op:
        batch_op.create_index('ix_stepvisit_office_left_at', ['office', 'left_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stepvisit', schema=None) as batch_op:
        batch_op.drop_index('ix_stepvisit_office_left_at')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_case_recipient')
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_open_steps')
        batch_op.drop_index(batch_op.f('ix_case_started_by_id'))
