"""users: the circle whose "way back in" link set the password

While set, someone in that circle may know the password (or still be signed in with
it), so the account joins no other circle until the person chooses their own password
(issue 10, review A4).

Revision ID: b3f1c2d4e5a6
Revises: 5e0c1a7b9d42
Create Date: 2026-12-02 06:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "b3f1c2d4e5a6"
down_revision = "5e0c1a7b9d42"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_set_in_circle_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_users_password_set_in_circle_id_circles"),
            "circles",
            ["password_set_in_circle_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_users_password_set_in_circle_id_circles"), type_="foreignkey"
        )
        batch_op.drop_column("password_set_in_circle_id")
