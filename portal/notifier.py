"""The notification run: ``flask --app app kring send-notifications [--now ISO-8601]``.

One run, ``run(now)``, in steps that each commit on their own:

1. News from the clock: "due" and "missed" lines for each person's commitments, made
   once per person, thing and day (``notifications.notify`` with a ``dedupe_key``).
2. Email, queued in the outbox (``portal.mail``), each row under a unique key naming
   the person, the kind, the thing and the period, inserted with ``ON CONFLICT DO
   NOTHING``: direct calls (batched per person, at most one per DIRECT_EMAIL_MINUTES),
   the digest (daily at the first run after 07:00 in the person's zone, or weekly on
   Monday), and reminders (commitments, meetings, polls; ``services.reminders``).
   The digest and direct calls are also guarded by one conditional ``UPDATE`` of the
   person's ``digest_sent_at`` / ``direct_sent_at``: of two runs at once, only one
   finds the person still due, so nobody gets two.
3. Sending: ``mail.send_pending`` over one SMTP connection.
4. Web Push (``portal.push.run``).

What email says is decided in ``portal.notice_mail.compose``: kinds and counts, never message text,
commitment or circle titles or names, unless the person opted in per circle
(``Membership.email_names``) to see circle titles (message text never). Who gets it:
people with a confirmed address, in circles they are active in and have not muted.
The statements do not grow with the number of people: each step reads everyone
concerned in a fixed number of queries and writes in batches.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import contains_eager, joinedload

from portal import push
from portal.extensions import db
from portal.mail import queue_rows, send_pending
from portal.models import (
    Circle,
    Commitment,
    Meeting,
    MeetingAnswer,
    MeetingInvitee,
    MeetingOption,
    Membership,
    MembershipStatus,
    Notification,
    NotificationSwitch,
    Plan,
    User,
)
from portal.models.notifications import DIRECT_KINDS
from portal.models.types import utcnow
from portal.notice_mail import Person, Reminder, compose, news_context, reminder_context
from portal.services import notifications as news
from portal.services import reminders as rules
from portal.services.plan import schedule_of, standing_completions

log = logging.getLogger(__name__)

SEND_LIMIT = 100_000  # mails one run sends at most; the rest wait for the next run


def run(now: datetime | None = None) -> dict[str, int]:
    """Everything due at ``now`` (default: the clock): news, email, push. Returns counts."""
    now = now or utcnow()
    counts = {"news": clock_news(now)}
    db.session.commit()
    base = current_app.config["BASE_URL"]
    with current_app.test_request_context(base_url=base):
        # Each step commits, which expires what was loaded: each reads the people
        # afresh (two queries) rather than one row at a time.
        counts["direct"] = queue_direct(load_people(), now)
        db.session.commit()
        counts["digest"] = queue_digests(load_people(), now)
        db.session.commit()
        counts["reminders"] = queue_reminders(load_people(), now)
        db.session.commit()
    # All that is due: the claim's lease is renewed while sending (``portal.mail``).
    counts["sent"] = send_pending(limit=SEND_LIMIT, now=now)
    counts["pushed"] = push.run(now)
    return counts


# --- 1. News from the clock ------------------------------------------------------------


def _agreed_commitments(extra=()) -> list[Commitment]:
    """Active commitments of agreed plans (a draft reminds nobody) of open circles (a
    closed circle is read-only: nobody can tick), with their people."""
    return list(
        db.session.scalars(
            select(Commitment)
            .join(Plan, Plan.circle_id == Commitment.circle_id)
            .join(Circle, Circle.id == Commitment.circle_id)
            .where(
                Commitment.active.is_(True), Plan.version > 0, Circle.closed_at.is_(None), *extra
            )
            # Joined, not selectin: selectin loads in pages of 500 ids, one statement
            # per page, so the statements would grow with the number of circles.
            .options(
                joinedload(Commitment.assignees).options(
                    joinedload(Membership.user), joinedload(Membership.circle)
                ),
                joinedload(Commitment.items),
            )
            .order_by(Commitment.id)
        ).unique()
    )


def _done(c: Commitment, ticks: dict) -> set[str] | None:
    """The commitment's done keys; None when turns cannot be told apart (a repeating
    commitment with a checklist is ticked item by item, not turn by turn)."""
    if not c.items:
        return set(ticks)
    if schedule_of(c).repeating:
        return None
    return {"once"} if all(f"item:{i.id}" in ticks for i in c.items) else set()


def _assignments():
    """(commitment, schedule, done keys, membership) for each person on each active
    commitment of an agreed plan whose turns can be told apart: four queries."""
    commitments = _agreed_commitments()
    ticks = standing_completions([c.id for c in commitments])
    for c in commitments:
        done = _done(c, ticks[c.id])
        if done is None:
            continue
        s = schedule_of(c)
        for m in c.assignees:
            yield c, s, done, m


def _zone_of(m: Membership) -> ZoneInfo:
    return rules.zone(m.user.timezone or m.circle.timezone)


def clock_news(now: datetime) -> int:
    """ "due" and "missed" lines for every assignee, in their own zone; returns how many
    lines were made (once per person, thing and day): one insert for everyone."""
    batches: dict[tuple, list[Membership]] = defaultdict(list)
    for c, s, done, m in _assignments():
        if m.status != MembershipStatus.ACTIVE or m.muted:
            continue
        for kind, day in rules.clock_news(s, done, rules.local_day(now, _zone_of(m))):
            batches[(c.id, kind, day)].append(m)
    lines = [
        (
            news.Line(kind, cid, {"day": day.isoformat()}, f"{kind}:{{user}}:{cid}:{day}"),
            members,
        )
        for (cid, kind, day), members in batches.items()
    ]
    return len(news.notify_each(lines, now))


# --- People with an address --------------------------------------------------------------


def load_people() -> dict[int, Person]:
    """Everyone with a confirmed address and an active, unmuted membership: two
    queries. (An address counts only once confirmed: ``User.email`` is set then.)"""
    rows = db.session.scalars(
        select(Membership)
        .join(Membership.user)
        .join(Membership.circle)
        .where(
            User.email.is_not(None),
            User.offline.is_(False),  # a stand-in for someone without internet: never
            Membership.status == MembershipStatus.ACTIVE,
            Membership.muted.is_(False),
        )
        .options(contains_eager(Membership.user), contains_eager(Membership.circle))
        .order_by(Membership.id)
    )
    cfg = current_app.config
    people: dict[int, Person] = {}
    for m in rows:
        p = people.get(m.user_id)
        if p is None:
            u = m.user
            locale = u.locale or m.circle.language or cfg["BABEL_DEFAULT_LOCALE"]
            if locale not in cfg["LANGUAGES"]:
                locale = cfg["BABEL_DEFAULT_LOCALE"]
            tz = rules.zone(u.timezone or m.circle.timezone or cfg["BABEL_DEFAULT_TIMEZONE"])
            p = people[m.user_id] = Person(u, tz, locale, {}, since=u.digest_sent_at)
            p.since = p.since or u.created_at
        p.circles[m.circle_id] = m
    switches = db.session.execute(
        select(NotificationSwitch.user_id, NotificationSwitch.kind).where(
            NotificationSwitch.channel == "email"
        )
    )
    for user_id, kind in switches:
        if user_id in people:
            people[user_id].off.add(kind)
    return people


# --- 2a. Direct calls and the digest ------------------------------------------------------


def _unread(user_ids: list[int], *where) -> dict[int, list[Notification]]:
    """Unread lines each person may see, by person: one query."""
    if not user_ids:
        return {}
    lines = db.session.scalars(
        select(Notification)
        .join(Membership, Membership.user_id == Notification.user_id)
        .join(Circle, Circle.id == Notification.circle_id)
        .where(
            Notification.user_id.in_(user_ids),
            Notification.read_at.is_(None),
            news.visible_lines(),
            *where,
        )
        .order_by(Notification.id)
    )
    out: dict[int, list[Notification]] = defaultdict(list)
    for n in lines:
        out[n.user_id].append(n)
    return out


def _claim_people(column, user_ids: list[int], before: datetime, now: datetime) -> set[int]:
    """Set ``column`` (digest_sent_at / direct_sent_at) to ``now`` for those of
    ``user_ids`` whose value is still empty or older than ``before``; return them. Of
    two runs at once only one finds each person still due: the row lock makes the
    other wait, then see the new value."""
    if not user_ids:
        return set()
    won = db.session.execute(
        update(User)
        .where(User.id.in_(user_ids), (column.is_(None)) | (column < before))
        .values({column.key: now})
        .returning(User.id)
        .execution_options(synchronize_session=False)
    )
    return set(won.scalars())


# Ids in one ``IN (...)``: well under PostgreSQL's 65,535 bound parameters.
IDS_PER_STATEMENT = 30_000


def _mark_emailed(lines: list[Notification], now: datetime) -> None:
    ids = [n.id for n in lines]
    for i in range(0, len(ids), IDS_PER_STATEMENT):
        db.session.execute(
            update(Notification)
            .where(Notification.id.in_(ids[i : i + IDS_PER_STATEMENT]))
            .values(emailed_at=now)
            .execution_options(synchronize_session=False)
        )


def queue_direct(people: dict[int, Person], now: datetime) -> int:
    """Mentions and other direct calls not emailed yet, one email per person, at most
    one per DIRECT_EMAIL_MINUTES; unless the person chose digest only."""
    gap = timedelta(minutes=current_app.config["DIRECT_EMAIL_MINUTES"])
    ready = [
        p.user.id
        for p in people.values()
        if p.user.direct_email
        and (p.user.direct_sent_at is None or p.user.direct_sent_at <= now - gap)
    ]
    lines = _unread(
        ready,
        Notification.kind.in_(sorted(DIRECT_KINDS)),
        Notification.emailed_at.is_(None),
        Notification.created_at > now - timedelta(days=1),
    )
    won = _claim_people(
        User.direct_sent_at, sorted(lines), now - gap + timedelta(microseconds=1), now
    )
    rows, emailed = [], []
    for user_id in sorted(won):
        p, mine = people[user_id], lines[user_id]
        key = f"n:direct:{user_id}:{mine[-1].id}"
        rows.append(compose(p, "direct", key, now, lambda p=p, mine=mine: news_context(p, mine)))
        emailed += mine
    _mark_emailed(emailed, now)
    return len(queue_rows(rows))


def queue_digests(people: dict[int, Person], now: datetime) -> int:
    """The daily or weekly digest of each person due one: what is unread and new or
    updated since their last digest. A person with nothing new gets no email, but the
    period counts as done (the next digest covers from here)."""
    hour = current_app.config["NOTIFY_MORNING_HOUR"]
    due: dict[datetime, list[int]] = defaultdict(list)
    for p in people.values():
        start = rules.digest_due(now, p.tz, p.user.digest_period, p.since, hour)
        if start is not None:
            due[start].append(p.user.id)
    won: set[int] = set()
    for start, user_ids in due.items():
        won |= _claim_people(User.digest_sent_at, user_ids, start, now)
    since = min((people[u].since for u in won), default=now)
    lines = _unread(sorted(won), Notification.updated_at > since)
    rows, emailed = [], []
    for user_id in sorted(won):
        p = people[user_id]
        mine = [
            n
            for n in lines.get(user_id, [])
            if n.updated_at > p.since and (n.emailed_at is None or n.emailed_at < n.updated_at)
        ]
        if not mine:
            continue
        start = rules.digest_start(now, p.tz, p.user.digest_period, hour)
        key = f"n:digest:{user_id}:{start:%Y%m%dT%H%M}"
        rows.append(compose(p, "digest", key, now, lambda p=p, mine=mine: news_context(p, mine)))
        emailed += mine
    _mark_emailed(emailed, now)
    return len(queue_rows(rows))


# --- 2b. Reminders ----------------------------------------------------------------------


def _wants(people: dict[int, Person], m: Membership, kind: str) -> Person | None:
    p = people.get(m.user_id)
    if p is None or kind in p.off or m.circle_id not in p.circles:
        return None
    return p


def due_reminders(people: dict[int, Person], now: datetime) -> list[Reminder]:
    """My commitment the day before and on the morning it is due; a missed turn."""
    hour = current_app.config["NOTIFY_MORNING_HOUR"]
    out = []
    for c, s, done, m in _assignments():
        p = _wants(people, m, "remind_due")
        found = p and rules.commitment_reminder(s, done, now, p.tz, hour)
        if found:
            slot, day = found
            key = f"n:remind_due:{p.user.id}:{c.id}:{slot}:{day.isoformat()}"
            out.append(Reminder(p, "remind_due", slot, c.circle_id, key, day))
    return out


def meeting_reminders(people: dict[int, Person], now: datetime) -> list[Reminder]:
    """Fixed meetings a day and two hours before; polls I have not answered. Not in a
    closed circle (nothing can be planned or answered there)."""
    meetings = (
        db.session.scalars(
            select(Meeting)
            .join(Circle, Circle.id == Meeting.circle_id)
            .where(
                (
                    ((Meeting.status == "fixed") & (Meeting.starts_at > now))
                    & (Meeting.starts_at < now + timedelta(days=3))
                    | (Meeting.status == "poll")
                ),
                Circle.closed_at.is_(None),
            )
            .options(joinedload(Meeting.invitees).joinedload(MeetingInvitee.membership))
        )
        .unique()
        .all()
    )
    answered = set(
        db.session.execute(
            select(MeetingOption.meeting_id, MeetingAnswer.membership_id)
            .join(MeetingAnswer, MeetingAnswer.option_id == MeetingOption.id)
            .where(MeetingOption.meeting_id.in_([m.id for m in meetings if m.status == "poll"]))
            .distinct()
        ).all()
    )
    out = []
    for mt in meetings:
        for invitee in mt.invitees:
            m = invitee.membership
            if mt.status == "poll" and (mt.id, m.id) in answered:
                continue
            found = _meeting_reminder(people, mt, m, now)
            if found is not None:
                out.append(found)
    return out


def _meeting_reminder(people, mt: Meeting, m: Membership, now: datetime) -> Reminder | None:
    kind = "remind_meeting" if mt.status == "fixed" else "remind_poll"
    p = _wants(people, m, kind)
    if p is None:
        return None
    if kind == "remind_meeting":
        slot = rules.meeting_reminder(mt.starts_at, now, p.tz)
        moment = mt.starts_at
    else:
        slot = rules.poll_reminder(mt.created_at, mt.deadline, now, p.tz)
        moment = mt.deadline
    if slot is None:
        return None
    stamp = f"{moment:%Y%m%dT%H%M}" if moment else "-"
    key = f"n:{kind}:{p.user.id}:{mt.id}:{stamp}:{slot}"
    return Reminder(p, kind, slot, mt.circle_id, key, moment)


def queue_reminders(people: dict[int, Person], now: datetime) -> int:
    found = due_reminders(people, now) + meeting_reminders(people, now)
    rows = [compose(r.person, r.kind, r.key, now, lambda r=r: reminder_context(r)) for r in found]
    return len(queue_rows(rows))
