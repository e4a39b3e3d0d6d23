"""professional replacements: who a professional takes over from

A professional invited as the replacement of another may remove the conditions the
one they replace had set (issue 10). The invitation names them; redeeming it copies
the name to the membership.

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
    for table in ("memberships", "invitations"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("replaces_membership_id", sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_replaces_membership_id_memberships"),
                "memberships",
                ["replaces_membership_id"],
                ["id"],
            )


def downgrade():
    for table in ("invitations", "memberships"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_replaces_membership_id_memberships"), type_="foreignkey"
            )
            batch_op.drop_column("replaces_membership_id")
