"""plan versions: who decided, by membership id; objections of people who have left

Revision ID: 41d118fed7ca
Revises: 7e4dbc203a3e
Create Date: 2026-12-02 05:00:00

A version names the people who decided it by membership id (their names are shown
as they are now); ``agreed_by`` keeps the names as they were, for versions made
before this change. ``gone_objector_ids`` are the people who had objected and
then left the circle when the change was decided at a meeting.
"""

import sqlalchemy as sa
from alembic import op

revision = "41d118fed7ca"
down_revision = "7e4dbc203a3e"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("plan_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("agreed_by_ids", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("gone_objector_ids", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade():
    with op.batch_alter_table("plan_versions", schema=None) as batch_op:
        batch_op.drop_column("gone_objector_ids")
        batch_op.drop_column("agreed_by_ids")
