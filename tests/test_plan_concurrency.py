"""The plan under simultaneous use: two people ticking the same turn at the same instant,
and the last two consents to a change arriving together.

Each thread is its own request: its own application context, so its own database
session and transaction, loading the circle, membership and commitment itself. A barrier
releases the writes together. PostgreSQL only: SQLite serialises writers, so it cannot
show a race.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.models import (
    Circle,
    Commitment,
    Completion,
    Membership,
    PlanVersion,
    Proposal,
    ProposalStatus,
)
from portal.services import plan as svc
from portal.services.schedule import Schedule
from tests import plan_data

WED = date(2026, 11, 4)


def _race(app, db, jobs) -> None:
    """Run each ``job(session_objects)`` in its own thread and app context, together."""
    barrier = threading.Barrier(len(jobs))
    errors: list = []

    def run(job) -> None:
        try:
            with app.app_context():
                act = job()  # loads what it needs, returns the write to do
                barrier.wait(timeout=30)
                act()
                db.session.commit()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    assert not errors, errors


def _agreed_plan(db, make_circle, add_member):
    circle, coord = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    oma = add_member(circle, name="Oma")
    piet = add_member(circle, role="supporter", name="Piet")
    c = plan_data.add_commitment(
        circle,
        coord,
        svc.CommitmentData(
            what="Take Sam to football",
            assignee_ids=[oma.id],
            schedule=Schedule(kind="weekly", start=WED, weekdays=frozenset({2})),
        ),
    )
    svc.record_agreement(circle, coord, [sanne.id, oma.id, piet.id])
    db.session.commit()
    return circle, c, sanne, oma, piet


@pytest.mark.postgres_only
@pytest.mark.parametrize("attempt", range(5))
def test_two_simultaneous_ticks_of_one_turn_leave_one(app, db, make_circle, add_member, attempt):
    circle, c, sanne, oma, _piet = _agreed_plan(db, make_circle, add_member)
    ids = (circle.id, c.id)
    db.session.rollback()

    def ticker(membership_id):
        def job():
            circle = db.session.get(Circle, ids[0])
            me = db.session.get(Membership, membership_id)
            commitment = db.session.get(Commitment, ids[1])
            _ = commitment.assignees, commitment.items  # loaded before the barrier
            return lambda: svc.tick(circle, me, commitment, WED.isoformat(), note=f"by {me.id}")

        return job

    _race(app, db, [ticker(oma.id), ticker(sanne.id)])

    rows = db.session.scalars(select(Completion).where(Completion.commitment_id == ids[1])).all()
    assert len(rows) == 1, [(r.id, r.by_id, r.undone_at) for r in rows]
    assert rows[0].occurrence == WED.isoformat() and rows[0].undone_at is None


@pytest.mark.postgres_only
@pytest.mark.parametrize("attempt", range(5))
def test_the_last_two_consents_together_apply_the_change_once(
    app, db, make_circle, add_member, attempt
):
    circle, _c, sanne, oma, piet = _agreed_plan(db, make_circle, add_member)
    proposal = svc.propose(
        circle,
        oma,
        "add_commitment",
        payload=svc.CommitmentData(
            what="Call the school",
            assignee_ids=[oma.id],
            schedule=Schedule(kind="once", start=date(2026, 12, 10)),
        ).to_payload(),
    )
    db.session.commit()
    ids = (circle.id, proposal.id)
    db.session.rollback()

    def consent(membership_id):
        def job():
            circle = db.session.get(Circle, ids[0])
            me = db.session.get(Membership, membership_id)
            p = db.session.get(Proposal, ids[1])
            return lambda: svc.answer(circle, me, p, True)

        return job

    _race(app, db, [consent(sanne.id), consent(piet.id)])

    p = db.session.get(Proposal, ids[1])
    assert p.status == ProposalStatus.APPLIED and p.applied_version == 2
    numbers = db.session.scalars(
        select(PlanVersion.number).where(PlanVersion.circle_id == ids[0]).order_by("number")
    ).all()
    assert numbers == [1, 2]
    added = db.session.scalar(
        select(func.count())
        .select_from(Commitment)
        .where(Commitment.circle_id == ids[0], Commitment.what == "Call the school")
    )
    assert added == 1
    v2 = db.session.scalar(select(PlanVersion).where(PlanVersion.number == 2))
    assert v2.agreed_by == ["Oma", "Piet", "Sanne"]
    assert [c["what"] for c in v2.snapshot["commitments"]] == [
        "Take Sam to football",
        "Call the school",
    ]
