"""partner secrets stored sealed

The Stripe keys, the telematics signing secret and the webhook endpoints' signing secrets are stored
encrypted under a key derived from PITWALL_SECRET_KEY (ops/sealing.py). A sealed value is longer
than the secret, so the columns become TEXT. Values already stored stay readable as they are, and
`pitwall migrate` seals them right after this migration (the key is not Alembic's to know).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = {
    "tenants": {"telemetry_signing_secret": 80, "stripe_secret_key": 255, "stripe_webhook_secret": 255},
    "webhook_endpoints": {"secret": 80, "previous_secret": 80},
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, length in columns.items():
                batch_op.alter_column(column, existing_type=sa.String(length), type_=sa.Text())


def downgrade() -> None:
    # Sealed values do not fit the old lengths; a downgrade past this point needs them entered again.
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, length in columns.items():
                batch_op.alter_column(column, existing_type=sa.Text(), type_=sa.String(length))
