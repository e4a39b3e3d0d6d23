"""One small lived-in circle for the tests that carry a whole circle somewhere else
(tests/test_backup.py restores it, tests/test_export.py exports it).

``family_circle`` builds, through the services the views call: a coordinator, Sanne
(central), Oma (member) and a professional; a plan agreed and then changed (two
versions: a condition added, an item ticked, help asked); a chat message by Oma and
then edited, and Sanne's answer; a meeting Sanne proposed and Oma answered. The words
of Oma's message are the caller's, since that is what each test looks for.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from portal.access import ChatSeat
from portal.extensions import db
from portal.models import Membership, Message
from portal.services import chat as chat_svc
from portal.services import meetings as meetings_svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data

_ids = itertools.count(1)


def send(member: Membership, body: str) -> Message:
    """A chat message by ``member`` (a fresh client id each time), committed."""
    payload, _ = chat_svc.send_message(ChatSeat.of(member), f"family-{next(_ids):06d}", body)
    db.session.commit()
    return db.session.get(Message, payload["id"])


def family_circle(make_circle, add_member, *, first: str, edited: str) -> dict:
    """The circle and its people, Oma's message (``first``, then edited to ``edited``) and
    the meeting: ``{"circle", "coord", "sanne", "oma", "prof", "first", "meeting"}``."""
    circle, coord = make_circle("Circle around Sam")
    sanne = add_member(circle, "central", name="Sanne")
    oma = add_member(circle, "member", name="Oma Riet")
    prof = add_member(circle, "professional", name="Dr Vos")
    c = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Take Sam to football",
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=20)),
            assignee_ids=[oma.id],
            items=["Pack the boots"],
        ),
    )
    plan_svc.record_agreement(circle, coord, [sanne.id, oma.id])
    plan_svc.add_condition(circle, prof, "Sam sleeps at home on school nights")
    plan_svc.tick(circle, oma, c, f"item:{c.items[0].id}", note="boots packed")
    plan_svc.request_help(circle, oma, c)
    db.session.commit()
    message = send(oma, first)
    chat_svc.edit_message(circle, oma, message, edited)
    db.session.commit()
    send(sanne, "Sanne answers")
    meeting = meetings_svc.propose_meeting(
        circle,
        sanne,
        meetings_svc.MeetingData(
            title="Check-in at Gran's",
            purpose="Is the plan working?",
            place="Gran's kitchen",
            video_link="",
            duration_minutes=90,
            options=[datetime(2031, 6, 1, 17, tzinfo=UTC), datetime(2031, 6, 2, 17, tzinfo=UTC)],
            invitee_ids=[oma.id],
        ),
    )
    db.session.commit()
    meetings_svc.set_answers(meeting, oma, {meeting.options[0].id: "yes"})
    db.session.commit()
    return {
        "circle": circle,
        "coord": coord,
        "sanne": sanne,
        "oma": oma,
        "prof": prof,
        "first": message,
        "meeting": meeting,
    }
