"""outbound webhooks and inbound deliveries

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 14:45:00
"""

from alembic import op
import sqlalchemy as sa
import ops.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
