"""payments through the payment provider

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 14:45:00
"""

from alembic import op
import sqlalchemy as sa
import ops.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('provider_events',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=80), nullable=False),
    sa.Column('raw_body', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=300), nullable=False),
    sa.Column('received_at', ops.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('tenant_id', BIG_ID, nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_provider_events_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_events')),
    sa.UniqueConstraint('tenant_id', 'provider', 'event_id', name=op.f('uq_provider_events_tenant_id_provider_event_id'))
    )
    with op.batch_alter_table('provider_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_events_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('payments',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('deal_id', BIG_ID, nullable=True),
    sa.Column('invoice_id', BIG_ID, nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('provider_intent_id', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('failure_message', sa.String(length=300), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', ops.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('requested_by_id', BIG_ID, nullable=True),
    sa.Column('created_at', ops.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('paid_at', ops.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', BIG_ID, nullable=False),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_payments_deal_id_deals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payments_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_payments_requested_by_id_users')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_payments_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('provider_intent_id', name=op.f('uq_payments_provider_intent_id'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_deal_id'), ['deal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('payment_refunds',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('payment_id', BIG_ID, nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('provider_refund_id', sa.String(length=255), nullable=True),
    sa.Column('failure_message', sa.String(length=300), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', ops.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('requested_by_id', BIG_ID, nullable=True),
    sa.Column('created_at', ops.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', ops.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('tenant_id', BIG_ID, nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_refunds_payment_id_payments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_payment_refunds_requested_by_id_users')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_payment_refunds_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_refunds'))
    )
    with op.batch_alter_table('payment_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_refunds_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_refunds_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_refunds_tenant_id'), ['tenant_id'], unique=False)

    # Server defaults fill the new NOT NULL columns of invoices issued before payments existed.
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_status', sa.String(length=12), server_default='ISSUED', nullable=False))
        batch_op.add_column(sa.Column('paid_at', ops.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('payment_method', sa.String(length=16), server_default='', nullable=False))
        batch_op.add_column(sa.Column('payment_reference', sa.String(length=255), server_default='', nullable=False))
        batch_op.add_column(sa.Column('paid_by_id', BIG_ID, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_invoices_paid_by_id_users'), 'users', ['paid_by_id'], ['id'])

    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_secret_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('stripe_webhook_secret', sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tenants', schema=None) as batch_op:
        batch_op.drop_column('stripe_webhook_secret')
        batch_op.drop_column('stripe_secret_key')

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invoices_paid_by_id_users'), type_='foreignkey')
        batch_op.drop_column('paid_by_id')
        batch_op.drop_column('payment_reference')
        batch_op.drop_column('payment_method')
        batch_op.drop_column('paid_at')
        batch_op.drop_column('payment_status')

    op.drop_table('payment_refunds')
    op.drop_table('payments')
    op.drop_table('provider_events')
