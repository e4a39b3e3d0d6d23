"""meeting reviews: who was there, by membership id beside the names (issue 13)

``present_ids`` holds the same people as ``present``, in the same order, so an erasure
empties exactly the erased person's name. Older reviews keep ``[]`` and are matched by
name.

Revision ID: f0c529942401
Revises: 35cfebdcd399
Create Date: 2026-12-02 14:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f0c529942401'
down_revision = '35cfebdcd399'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('meeting_reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('present_ids', sa.JSON(), server_default='[]', nullable=False))



def downgrade():
    with op.batch_alter_table('meeting_reviews', schema=None) as batch_op:
        batch_op.drop_column('present_ids')

