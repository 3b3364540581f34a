"""work order history: corrections of a job's details

Advisors correct a work order's complaint, category, priority and promised time after creating it;
the history says who changed which of them and when, next to the status changes. Existing rows are
status changes and keep NULL.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_order_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("changes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_order_history", schema=None) as batch_op:
        batch_op.drop_column("changes")
