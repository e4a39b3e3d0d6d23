"""plan row for every circle

The plan row used to be created the first time someone opened the plan, so the plan
page, the print view and the export wrote on GET. A circle now gets its plan with it
(``create_circle``); this gives every existing circle without one an empty draft
(version 0), so reading the plan never writes (issue 11).

Revision ID: 74cdd514f12e
Revises: b3c8e1f04a27
Create Date: 2026-12-02 06:00:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "74cdd514f12e"
down_revision = "b3c8e1f04a27"
branch_labels = None
depends_on = None


def upgrade():
    circles = sa.table("circles", sa.column("id", sa.Integer))
    plans = sa.table(
        "plans",
        sa.column("circle_id", sa.Integer),
        sa.column("version", sa.Integer),
        sa.column("updated_at", sa.DateTime),
    )
    existing = plans.alias("existing")
    now = datetime.now(UTC).replace(tzinfo=None)  # the app stores naive UTC
    missing = sa.select(
        circles.c.id,
        sa.literal(0, sa.Integer),
        sa.literal(now, sa.DateTime),
    ).where(~sa.exists().where(existing.c.circle_id == circles.c.id))
    op.execute(plans.insert().from_select(["circle_id", "version", "updated_at"], missing))


def downgrade():
    # Nothing to undo: an empty draft row is what the old code made on first view anyway.
    pass
