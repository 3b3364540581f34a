"""ERP sync jobs

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 14:45:00
"""

from alembic import op
import sqlalchemy as sa
import ops.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'erp_sync_jobs',
        sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('local_id', BIG_ID, nullable=False),
        sa.Column('document_number', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', ops.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('claimed_until', ops.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('unavailable', sa.Boolean(), nullable=False),
        sa.Column('last_error', sa.String(length=300), nullable=False),
        sa.Column('external_ref', sa.String(length=120), nullable=False),
        sa.Column('synced_at', ops.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column('created_at', ops.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', ops.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column('tenant_id', BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(
            ['tenant_id'], ['tenants.id'], name=op.f('fk_erp_sync_jobs_tenant_id_tenants'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_sync_jobs')),
        sa.UniqueConstraint('tenant_id', 'kind', 'local_id', name=op.f('uq_erp_sync_jobs_tenant_id_kind_local_id')),
    )
    with op.batch_alter_table('erp_sync_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_erp_sync_jobs_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_erp_sync_jobs_tenant_id'), ['tenant_id'], unique=False)
    op.create_table(
        'erp_event_cursor',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('last_event_id', BIG_ID, nullable=False),
        sa.Column('updated_at', ops.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_erp_event_cursor')),
    )


def downgrade() -> None:
    op.drop_table('erp_event_cursor')
    with op.batch_alter_table('erp_sync_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erp_sync_jobs_tenant_id'))
        batch_op.drop_index('ix_erp_sync_jobs_due')
    op.drop_table('erp_sync_jobs')
