"""invitations: when the current link was made, and links stopped by the circle

``issued_at`` is when the invitation's current link was made (at creation or at the
last "New link"); an invitation made before someone left or was removed does not bring
them back. ``link_stopped_at`` is set when the circle stops a link that nobody has used
yet (at the handover, or when the central person who made it goes): the family sees
the person under "Still to join" and can make a new link.

Revision ID: 5e7a1c0d2b94
Revises: 41d118fed7ca
Create Date: 2026-12-02 05:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5e7a1c0d2b94"
down_revision = "41d118fed7ca"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issued_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("link_stopped_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE invitations SET issued_at = created_at")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.alter_column("issued_at", existing_type=sa.DateTime(), nullable=False)


def downgrade():
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_column("link_stopped_at")
        batch_op.drop_column("issued_at")
