"""a quote's vehicle cost may be unknown (NULL) instead of 0

The catalog knows no dealer cost of a configured trim, so a configured vehicle's quote held 0 until
the rep typed the cost, and 0 had to be read as "unknown" everywhere. Now the column says so: NULL
while nobody has entered it. A stock unit's quote always has its unit's cost.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-25 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

COST = sa.Numeric(precision=12, scale=2)


def upgrade() -> None:
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.alter_column("vehicle_cost", existing_type=COST, nullable=True)
    # A configured vehicle's 0 meant "not entered yet" (a typed 0 was refused).
    op.execute("UPDATE quotes SET vehicle_cost = NULL WHERE stock_unit_id IS NULL AND vehicle_cost <= 0")


def downgrade() -> None:
    op.execute("UPDATE quotes SET vehicle_cost = 0 WHERE vehicle_cost IS NULL")
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.alter_column("vehicle_cost", existing_type=COST, nullable=False)
