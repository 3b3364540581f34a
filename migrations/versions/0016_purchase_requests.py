"""purchase requests: a part at its reorder point can be reordered through the ERP

One row per request, open until the goods are received; a partial unique index keeps a part to one
open request, also when two managers click at once.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24 15:40:00
"""

import sqlalchemy as sa
from alembic import op

import ops.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = sa.text("status = 'OPEN'")


def upgrade() -> None:
    op.create_table(
        "purchase_requests",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("part_id", BIG_ID, nullable=False),
        sa.Column("quantity", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_by_id", BIG_ID, nullable=True),
        sa.Column("requested_by_name", sa.String(length=120), nullable=False),
        sa.Column("requested_at", ops.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", ops.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["part_id"], ["parts.id"], name=op.f("fk_purchase_requests_part_id_parts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_purchase_requests_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_requests")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_purchase_requests_tenant_id_number")),
    )
    with op.batch_alter_table("purchase_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_purchase_requests_part_id"), ["part_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_purchase_requests_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(
            "uq_purchase_requests_one_open_per_part",
            ["part_id"],
            unique=True,
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("purchase_requests", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_purchase_requests_one_open_per_part", postgresql_where=OPEN, sqlite_where=OPEN
        )
        batch_op.drop_index(batch_op.f("ix_purchase_requests_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_purchase_requests_part_id"))
    op.drop_table("purchase_requests")
