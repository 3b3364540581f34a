"""the dealership's address, VAT number, payment terms and a settings version

The admin's settings page edits the tenant row: its postal address and Swiss VAT number go on the
invoices with the payment terms, and the version guards the page against two admins saving at once.
Each invoice keeps the payment terms it was issued with (30 days, the default, for the existing ones).

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 12:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("street", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("postal_code", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("city", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("vat_number", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("payment_terms_days", sa.Integer(), server_default="30", nullable=False))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_terms_days", sa.Integer(), server_default="30", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("payment_terms_days")
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        for column in ("version", "payment_terms_days", "vat_number", "city", "postal_code", "street"):
            batch_op.drop_column(column)
