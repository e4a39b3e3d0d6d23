"""outbox mail: an HTML part and headers, notification mail outside the form cap, giving up

Notification email (docs/notifications.md) is sent as plain text and HTML with
Content-Language and one-click unsubscribe headers: the row keeps the HTML part and
those headers (``html``, ``headers``). ``notice`` marks mail made by the notification
run: it has its own limits (one digest per period, one direct call per 15 minutes,
one reminder per thing and time) and does not count against, nor is dropped by, the
per-address hourly cap meant for forms. ``failed_at``: a mail that could not be sent
for a day (or MAIL_MAX_ATTEMPTS tries) is given up, with a log line.

Revision ID: c7d41e2a9f30
Revises: 4552fb770ea6
Create Date: 2026-12-03 09:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "c7d41e2a9f30"
down_revision = "4552fb770ea6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.add_column(sa.Column("html", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("headers", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("notice", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("notice")
        batch_op.drop_column("headers")
        batch_op.drop_column("html")
