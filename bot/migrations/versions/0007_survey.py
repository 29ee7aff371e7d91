"""Survey and complaints (issue 13): SKM surveys, respondent profiles, complaints

One survey per finished request (case id unique), the respondent profile per member, and
complaints with their own running number per office and year.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 11:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table('survey',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('office', _S(length=24), nullable=False),
    sa.Column('sop_code', _S(length=24), nullable=False),
    sa.Column('invited_at', _T(), nullable=False),
    sa.Column('state', _S(length=16), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('suggestion', _S(length=1000), nullable=False),
    sa.Column('completed_at', _T(), nullable=True),
    sa.Column('created_at', _T(), nullable=False),
    sa.Column('updated_at', _T(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id')
    )
    with op.batch_alter_table('survey', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_office'), ['office'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_completed_at'), ['completed_at'],
                              unique=False)
    op.create_table('respondentprofile',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('completed_at', _T(), nullable=True),
    sa.Column('updated_at', _T(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('complaintcounter',
    sa.Column('office', _S(length=24), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('office', 'year')
    )
    op.create_table('complaint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office', _S(length=24), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('number', _S(length=64), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('text', _S(length=2000), nullable=False),
    sa.Column('file_kind', _S(length=16), nullable=False),
    sa.Column('file_ref', _S(length=256), nullable=False),
    sa.Column('file_channel', _S(length=16), nullable=False),
    sa.Column('blob_hash', _S(length=64), nullable=True),
    sa.Column('file_name', _S(length=256), nullable=False),
    sa.Column('mime', _S(length=128), nullable=False),
    sa.Column('handler_role', _S(length=16), nullable=False),
    sa.Column('handler_ids', sa.JSON(), nullable=False),
    sa.Column('excluded_ids', sa.JSON(), nullable=False),
    sa.Column('status', _S(length=16), nullable=False),
    sa.Column('due_at', _T(), nullable=False),
    sa.Column('created_at', _T(), nullable=False),
    sa.Column('answered_at', _T(), nullable=True),
    sa.Column('answered_by', sa.Integer(), nullable=True),
    sa.Column('answer', _S(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['answered_by'], ['user.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('office', 'year', 'seq')
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_office'), ['office'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_status'), ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('complaint')
    op.drop_table('complaintcounter')
    op.drop_table('respondentprofile')
    op.drop_table('survey')
