"""WhatsApp: the 24-hour window and the statuses of sent messages

A channel account notes the person's last own message (`last_inbound_at`: WhatsApp allows
free-form messages only within 24 hours of it); `channelmessage` keeps, per message the
bot sent, which outbox row or broadcast delivery it carried and its last status
(sent/delivered/read/failed, from WhatsApp's status webhooks).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 11:35:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('channelaccount', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_inbound_at', sqlmodel.sql.sqltypes.UTCDateTime(),
                                      nullable=True))
    op.create_table('channelmessage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=True),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['broadcastdelivery.id'], ),
    sa.ForeignKeyConstraint(['notification_id'], ['notification.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'message_id')
    )
    with op.batch_alter_table('channelmessage', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channelmessage_notification_id'),
                              ['notification_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_channelmessage_delivery_id'),
                              ['delivery_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('channelmessage', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channelmessage_delivery_id'))
        batch_op.drop_index(batch_op.f('ix_channelmessage_notification_id'))
    op.drop_table('channelmessage')
    with op.batch_alter_table('channelaccount', schema=None) as batch_op:
        batch_op.drop_column('last_inbound_at')
