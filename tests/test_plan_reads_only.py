"""Issue 11: the plan page, the print view and the export only read.

The plan row used to be made the first time someone opened the plan, so those GETs
wrote (and committed). Now a circle gets its plan with it, and migration 74cdd514f12e
gives one to every circle made before. Each test counts the statements that change
data while the pages are fetched.
"""

from __future__ import annotations

import importlib.util

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import delete, event, func, select

from portal.models import Plan, Role
from tests.conftest import ROOT

MIGRATION = ROOT / "migrations" / "versions" / "74cdd514f12e_plan_row_for_every_circle.py"
WRITES = ("INSERT", "UPDATE", "DELETE")


@pytest.fixture
def writes(db):
    """Every data-changing statement sent to the database while the fixture lives."""
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(WRITES):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", listen)
    yield seen
    event.remove(db.engine, "before_cursor_execute", listen)


def _read_the_plan(client, circle, writes) -> None:
    base = f"/c/{circle.id}/plan"
    writes.clear()
    for path in (base, f"{base}/print", f"{base}/export.json"):
        assert client.get(path).status_code == 200, path
    assert writes == []


def test_a_professional_reading_the_plan_writes_only_the_access_log(
    db, make_circle, add_member, login, client, writes
):
    """Issue 13: a professional's look is written down, and that is all: one upsert of
    the access log per page, nothing else."""
    circle, _coord = make_circle()
    ellen = add_member(circle, role=Role.PROFESSIONAL, name="Ellen")
    login(client, ellen.user)
    base = f"/c/{circle.id}/plan"
    for path in (base, f"{base}/print", f"{base}/export.json"):
        writes.clear()
        assert client.get(path).status_code == 200, path
        assert len(writes) == 1, (path, writes)
        assert writes[0].lstrip().upper().startswith("INSERT INTO ACCESS_LOG"), writes
        assert "ON CONFLICT" in writes[0].upper()


def _plans(db, circle) -> int:
    return db.session.scalar(select(func.count()).where(Plan.circle_id == circle.id))


def test_a_new_circle_has_its_plan_and_reading_it_writes_nothing(
    db, make_circle, add_member, login, client, new_client, writes
):
    circle, coord = make_circle()
    member = add_member(circle, role=Role.MEMBER, name="Sanne")
    assert _plans(db, circle) == 1
    _read_the_plan(login(client, coord.user), circle, writes)
    _read_the_plan(login(new_client(), member.user), circle, writes)


def _run_migration() -> None:
    spec = importlib.util.spec_from_file_location("plan_rows_migration", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from portal.extensions import db

    with db.engine.begin() as conn:
        with Operations.context(MigrationContext.configure(conn)):
            module.upgrade()


def test_the_migration_gives_older_circles_their_plan_and_reading_it_writes_nothing(
    db, make_circle, login, client, writes
):
    old, coord = make_circle("Made before the migration")
    newer, _ = make_circle("Made after")
    # As the old code left it: no plan row until someone opened the plan.
    db.session.execute(delete(Plan).where(Plan.circle_id == old.id))
    db.session.commit()
    assert _plans(db, old) == 0

    _run_migration()
    _run_migration()  # running it twice changes nothing more

    assert _plans(db, old) == 1 and _plans(db, newer) == 1
    plan = db.session.scalars(select(Plan).where(Plan.circle_id == old.id)).one()
    assert plan.version == 0 and plan.evaluation_date is None and plan.updated_at is not None
    _read_the_plan(login(client, coord.user), old, writes)
