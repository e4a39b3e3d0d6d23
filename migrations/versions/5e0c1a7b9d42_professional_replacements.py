"""professional replacements: who a professional takes over from

A professional named by another professional as the one who takes over from them may
remove the conditions that one had set (issue 10). Only the professional names them
(never the family, so not on the invitation): the name is kept on the membership.

Revision ID: 5e0c1a7b9d42
Revises: 5e7a1c0d2b94
Create Date: 2026-12-02 05:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "5e0c1a7b9d42"
down_revision = "5e7a1c0d2b94"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaces_membership_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_memberships_replaces_membership_id_memberships"),
            "memberships",
            ["replaces_membership_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_memberships_replaces_membership_id_memberships"), type_="foreignkey"
        )
        batch_op.drop_column("replaces_membership_id")
