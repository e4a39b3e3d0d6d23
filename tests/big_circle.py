"""A lived-in circle, built through Kring's services: for page tests and bench/pages.py.

``seed_circle`` makes one circle with a coordinator, a central person, a professional
and members (12 people at full size), an agreed plan of weekly commitments with months
of ticks, a chat and meetings (polls everyone answered, and fixed dates). Everything
but the chat goes through the services the views call; the chat's messages are one
executemany of the rows ``chat.send_message`` writes (20,000 sends through the service
would make the seeding minutes instead of seconds; the chat page reads the same rows).

Call it inside an app context, with cheap password hashing if it must be fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from portal.extensions import db
from portal.models import Circle, Membership, Message, Role
from portal.services import accounts, meetings, plan
from portal.services import circles as circle_svc
from portal.services.schedule import Schedule, occurrences, today_in
from tests import plan_data

BODY = "Shall I take Sam to football on Saturday, or does someone else go this week? "


@dataclass
class Seeded:
    circle: Circle
    coordinator: Membership
    central: Membership
    professional: Membership
    members: list[Membership]  # everyone, the coordinator first
    poll_id: int = 0  # a poll everyone invited has answered
    fixed_id: int = 0  # a meeting with its date fixed
    meeting_ids: list[int] = field(default_factory=list)


def seed_circle(
    prefix: str,
    *,
    password: str,
    people: int = 12,
    commitments: int = 40,
    months: int = 6,
    messages: int = 20_000,
    meetings_n: int = 30,
) -> Seeded:
    """One circle named after ``prefix`` (usernames ``<prefix>0`` ...); committed."""
    assert people >= 3, "a coordinator, a central person and a professional at least"
    users = [
        accounts.create_user(
            name=f"{prefix.title()} {i}", username=f"{prefix}{i}", password=password
        )
        for i in range(people)
    ]
    users[0].can_create_circles = True
    circle, coordinator, _ = circle_svc.create_circle(
        title=f"Circle around {prefix.title()}", language="en", coordinator=users[0]
    )
    roles = [Role.CENTRAL, Role.PROFESSIONAL] + [
        Role.SUPPORTER if i % 4 == 3 else Role.MEMBER for i in range(people - 3)
    ]
    members = [coordinator]
    for user, role in zip(users[1:], roles, strict=True):
        _inv, token = circle_svc.invite(
            circle,
            coordinator,
            name=user.name,
            role=role,
            supporter_of="Sam" if role == Role.SUPPORTER else None,
        )
        members.append(circle_svc.redeem_invitation(token, user))
    db.session.flush()
    central, professional = members[1], members[2]
    doers = [m for m in members if m.role in (Role.CENTRAL, Role.MEMBER, Role.SUPPORTER)]

    today = today_in(circle.timezone)
    since = today - timedelta(days=30 * months)
    made = []
    for i in range(commitments):
        who = doers[i % len(doers)]
        made.append(
            plan_data.add_commitment(
                circle,
                coordinator,
                plan.CommitmentData(
                    what=f"Task {i}: take Sam to the club and bring the kit back home",
                    schedule=Schedule(
                        kind="weekly", start=since, weekdays=frozenset({i % 7, (i + 3) % 7})
                    ),
                    assignee_ids=[who.id],
                ),
            )
        )
    for i in range(3):
        plan_data.add_agreement(circle, coordinator, f"Agreement {i}: we call Gran first")
    plan.record_agreement(circle, coordinator, [m.id for m in doers])
    # Months of ticks: every turn of every commitment until yesterday, by its doer.
    for c in made:
        doer = c.assignees[0]
        for turn in occurrences(plan.schedule_of(c), since, today - timedelta(days=1)):
            plan.tick(circle, doer, c, turn.isoformat())
    db.session.flush()

    _fill_chat(circle, [m.id for m in members if m.role != Role.PROFESSIONAL], messages)

    seeded = Seeded(circle, coordinator, central, professional, members)
    start = datetime.now(UTC).replace(hour=17, minute=0, second=0, microsecond=0)
    for i in range(meetings_n):
        when = start + timedelta(days=7 + 7 * i)
        meeting = meetings.propose_meeting(
            circle,
            central,
            meetings.MeetingData(
                title=f"Meeting {i}: how is the plan going?",
                purpose="We look at the plan together.",
                place="At Gran's",
                video_link="",
                duration_minutes=90,
                options=[when, when + timedelta(days=1), when + timedelta(days=2)],
                invitee_ids=[m.id for m in members],  # everyone who may attend
            ),
        )
        db.session.flush()
        invited = [inv.membership for inv in meeting.invitees]
        for k, m in enumerate(invited):
            opts = meeting.options
            meetings.set_answers(
                meeting,
                m,
                {
                    opts[0].id: "yes",
                    opts[1].id: ("maybe", "no")[k % 2],
                    opts[2].id: ("no", "yes")[k % 2],
                },
            )
        if i % 2:
            meetings.fix_date(meeting, central, meeting.options[0].id)
            seeded.fixed_id = seeded.fixed_id or meeting.id
        else:
            seeded.poll_id = seeded.poll_id or meeting.id
        seeded.meeting_ids.append(meeting.id)
    db.session.commit()
    return seeded


def _fill_chat(circle: Circle, author_ids: list[int], n: int) -> None:
    """``n`` messages by turns from ``author_ids``, numbered as the chat numbers them."""
    if not n:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "circle_id": circle.id,
            "seq": i,
            "author_id": author_ids[i % len(author_ids)],
            "client_id": f"seed-{i}",
            "body": f"{i}: {BODY}",
            "created_at": now - timedelta(minutes=n - i),
        }
        for i in range(1, n + 1)
    ]
    db.session.execute(insert(Message), rows)
    db.session.execute(update(Circle).where(Circle.id == circle.id).values(message_seq=n))
    # Everyone has read the chat up to its last message (the chat page opens at one's
    # first unread message, and a reader catching up writes on each visit).
    db.session.execute(
        update(Membership).where(Membership.circle_id == circle.id).values(last_read_seq=n)
    )
