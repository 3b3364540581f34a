"""leads: an index in the pipeline board's order

Each column of the board reads its newest leads (stage_changed_at, then id, descending) and stops at
the column's limit; with this index both SQLite and PostgreSQL read them in order instead of sorting
every lead of the tenant.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 18:10:00
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_leads_board", ["tenant_id", "stage", "stage_changed_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index("ix_leads_board")
