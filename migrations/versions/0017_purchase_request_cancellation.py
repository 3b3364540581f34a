"""purchase requests can be cancelled: who, when and why

A cancelled request keeps its row with status CANCELLED (the status stays a string); the partial
unique index on OPEN requests is untouched, so a cancelled request frees its part for a new one.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-25 09:30:00
"""

import sqlalchemy as sa
from alembic import op

import ops.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("purchase_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", ops.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cancelled_by_id", BIG_ID, nullable=True))
        batch_op.add_column(sa.Column("cancelled_by_name", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("purchase_requests", schema=None) as batch_op:
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_by_name")
        batch_op.drop_column("cancelled_by_id")
        batch_op.drop_column("cancelled_at")
