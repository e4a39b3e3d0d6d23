"""outbox mail: a kind resolved by the sender, and an index to count mail per address

A "forgot password" request queues one row of kind ``password-reset`` for any
address (the same work either way); the sender makes the link, or nothing for an
unknown address. The index on (to, created_at) counts the mail one address got in
the last hour (MAIL_PER_ADDRESS_PER_HOUR).

Revision ID: b3c8e1f04a27
Revises: b3f1c2d4e5a6
Create Date: 2026-12-02 07:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "b3c8e1f04a27"
down_revision = "b3f1c2d4e5a6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=40), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_mail_to_created_at"), ["to", "created_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_mail_to_created_at"))
        batch_op.drop_column("kind")
