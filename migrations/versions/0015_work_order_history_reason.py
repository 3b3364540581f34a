"""work order history: why an order kept its status

When the customer answers an estimate while the car's bay is taken, the order stays in
WAITING_APPROVAL; its history says so with a reason (ops.workshop.service.STAY_REASONS) instead of
staying silent.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 12:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_order_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_order_history", schema=None) as batch_op:
        batch_op.drop_column("reason")
