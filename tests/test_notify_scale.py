"""The notification run's SQL does not grow with the number of people or mails (issue 12,
the Performance bar; bench/notify.py measures it at 500 and 5,000 people).

An engine listener counts every statement sent to the database, as an operator's
slow-query log would. A row-at-a-time pattern (a claim per mail, a lazy load per
person, a query per page of 500 ids) makes the bigger world cost more statements.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import event, select

from portal.access import ChatSeat
from portal.extensions import db as _db
from portal.mail import queue_rows, send_pending
from portal.models import OutboxMail, Role
from portal.models.types import utcnow
from portal.notifier import run
from portal.services import chat
from portal.services import plan as plan_svc
from portal.services.reminders import at_local, local_day, zone
from portal.services.schedule import Schedule
from tests import plan_data

AMS = zone("Europe/Amsterdam")


def _statements(work) -> int:
    seen = []

    def count(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)
    return len(seen)


def _mails(n: int, tag: str) -> None:
    queue_rows(
        [
            {
                "to": f"p{i}@example.org",
                "subject": "News",
                "body": "There is news in Kring.",
                "dedupe_key": f"scale:{tag}:{i}",
                "kind": None,
                "notice": True,
                "created_at": utcnow(),
            }
            for i in range(n)
        ]
    )
    _db.session.commit()


def test_sending_costs_the_same_statements_for_3_or_60_mails(app, db):
    outbox = app.extensions["kring_outbox"]
    _mails(3, "few")
    few = _statements(lambda: send_pending(limit=1000))
    _mails(60, "many")
    many = _statements(lambda: send_pending(limit=1000))
    assert len(outbox) == 63
    assert many == few
    # Each went out once and was marked sent, its body forgotten.
    rows = db.session.scalars(select(OutboxMail)).all()
    assert all(r.sent_at is not None and r.body == "" and r.claim for r in rows)
    assert send_pending(limit=1000) == 0


def _circles(n, make_circle, add_member, day):
    """``n`` circles of three with addresses, an agreed plan with a commitment due on
    ``day``, a few chat messages and a mention."""
    for c in range(n):
        circle, coord = make_circle(f"Circle {c}")
        people = [add_member(circle, Role.MEMBER, f"Person {c} {i}") for i in range(2)]
        for m in (coord, *people):
            m.user.email = f"{m.user.username}@example.org"
            m.user.timezone = "Europe/Amsterdam"
        plan_data.add_commitment(
            circle,
            coord,
            plan_svc.CommitmentData(
                what="Shopping",
                assignee_ids=[people[0].id],
                schedule=Schedule(kind="once", start=day),
            ),
        )
        plan_svc.record_agreement(circle, coord, [m.id for m in people])
        for i in range(3):
            chat.send_message(ChatSeat.of(people[i % 2]), secrets.token_hex(8), f"Hello {i}")
        mention = f"Look, @{people[1].user.username}"
        chat.send_message(ChatSeat.of(people[0]), secrets.token_hex(8), mention)
        _db.session.commit()


def test_a_run_for_three_times_the_people_costs_no_more_statements(
    app, db, make_circle, add_member
):
    outbox = app.extensions["kring_outbox"]
    today = local_day(utcnow(), AMS)
    morning = at_local(today + timedelta(days=1), 7, AMS) + timedelta(minutes=30)
    _circles(2, make_circle, add_member, today + timedelta(days=1))
    small = _statements(lambda: run(morning))
    sent_small = len(outbox)
    _circles(6, make_circle, add_member, today + timedelta(days=1))
    big = _statements(lambda: run(morning + timedelta(minutes=20)))
    # The first six people's digest is done for the day: the second run mails the new
    # eighteen (and the first six's new news waits for tomorrow's digest).
    assert sent_small >= 6 and len(outbox) - sent_small >= 3 * sent_small
    assert big <= small
