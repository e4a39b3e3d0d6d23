"""Follow-up meetings: propose a poll, answer it, fix the date, change or cancel it,
build the agenda from the plan, and record the review.

Times are stored in UTC. People type and read them in their own time zone (their
own setting, else the circle's); ``local_to_utc`` converts with zoneinfo, so a
meeting at 10:00 Europe/Amsterdam on the day summer time starts is 08:00 UTC.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import access, events
from portal.access import can_organise_meetings
from portal.extensions import db
from portal.models import (
    Circle,
    CommitmentReview,
    Completion,
    Meeting,
    MeetingAnswer,
    MeetingInvitee,
    MeetingOption,
    MeetingReview,
    Membership,
    MembershipStatus,
    Proposal,
    ProposalStatus,
)
from portal.models.types import utcnow
from portal.sanitize import clean_line, clean_text
from portal.services import Forbidden, ServiceError, notifications
from portal.services import plan as plan_svc
from portal.services.acted import acted_for, by_for, poll_answer_stands
from portal.services.history import record
from portal.services.plan_view import plan_view

ANSWERS = ("yes", "maybe", "no")
VERDICTS = ("working", "partly", "not_working")
MIN_OPTIONS, MAX_OPTIONS = 2, 10


def local_to_utc(naive: datetime, tz_name: str) -> datetime:
    """A wall-clock time in ``tz_name`` as an aware UTC datetime."""
    return naive.replace(tzinfo=ZoneInfo(tz_name)).astimezone(UTC)


def can_organise(m: Membership) -> bool:
    return can_organise_meetings(m)


def default_invitees(circle: Circle) -> list[Membership]:
    return [m for m in circle.memberships if can_organise_meetings(m)]


def is_invited(meeting: Meeting, m: Membership) -> bool:
    return any(i.membership_id == m.id for i in meeting.invitees)


def can_manage_meeting(meeting: Meeting, m: Membership) -> bool:
    return access.can_manage_meeting(m, meeting)


def _publish(meeting: Meeting, op: str) -> None:
    events.publish(
        meeting.circle_id,
        {"type": "meeting", "op": op, "id": meeting.id},
        event_name="plan:event",
    )


@dataclass
class MeetingData:
    title: str
    purpose: str
    place: str
    video_link: str
    duration_minutes: int
    options: list[datetime]  # aware UTC
    deadline: datetime | None = None
    invitee_ids: list[int] = field(default_factory=list)


def propose_meeting(circle: Circle, acting: Membership, data: MeetingData) -> Meeting:
    if not can_organise(acting):
        raise Forbidden
    title = clean_line(data.title, 120)
    if not title:
        raise ServiceError(_l("Please give the meeting a title."), "title")
    options = sorted(set(data.options))
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise ServiceError(_l("Please give between 2 and 10 possible times."), "options")
    if options[0] <= utcnow():
        raise ServiceError(_l("Please choose times in the future."), "options")
    if data.deadline and data.deadline <= utcnow():
        # A poll nobody could ever answer.
        raise ServiceError(_l("Please choose times in the future."), "deadline")
    link = clean_line(data.video_link, 500)
    if link and not link.startswith(("https://", "http://")):
        raise ServiceError(_l("A video call link starts with https://"), "video_link")
    if not 15 <= data.duration_minutes <= 600:
        raise ServiceError(
            _l("Please choose a duration between 15 minutes and 10 hours."), "duration"
        )
    invitees = {m.id: m for m in default_invitees(circle)}
    for m in circle.memberships:
        if m.id in data.invitee_ids and access.can_attend_meetings(m):
            invitees[m.id] = m
    invitees[acting.id] = acting
    meeting = Meeting(
        circle_id=circle.id,
        uid=secrets.token_hex(16),
        title=title,
        purpose=clean_text(data.purpose).strip()[:2000],
        place=clean_line(data.place, 200),
        video_link=link[:500],
        duration_minutes=data.duration_minutes,
        deadline=data.deadline,
        organiser_id=acting.id,
    )
    meeting.options = [MeetingOption(starts_at=t) for t in options]
    meeting.invitees = [MeetingInvitee(membership_id=mid) for mid in invitees]
    db.session.add(meeting)
    db.session.flush()
    record(circle, "meeting_proposed", actor=acting, title=title)
    _publish(meeting, "proposed")
    asked = [m for m in circle.memberships if access.may_answer_poll(m, meeting)]
    notifications.notify(asked, "poll", ref_id=meeting.id, actor=acting)
    return meeting


def set_answers(
    meeting: Meeting,
    acting: Membership,
    answers: dict[int, str],
    *,
    for_member: Membership | None = None,
) -> None:
    """Answer (or change) yes / if need be / no per option (``for_member``: in their name,
    issue 14). One row per person and option: a double submit updates instead of adding."""
    who = for_member or acting
    if not is_invited(meeting, who) or (for_member and not access.can_act_for(acting, who)):
        raise Forbidden
    if for_member is None and poll_answer_stands(meeting, acting):
        raise ServiceError(_l("Your answer was given for you more than 7 days ago, so it stands."))
    if meeting.status != "poll":
        raise ServiceError(_l("The date is already chosen."))
    if meeting.deadline and utcnow() > meeting.deadline:
        raise ServiceError(_l("The time to answer has passed."))
    valid = {o.id for o in meeting.options}
    for option_id, answer in answers.items():
        if option_id not in valid or answer not in ANSWERS:
            raise ServiceError(_l("Please answer yes, if need be, or no."))
    if not answers:
        return
    # An upsert (INSERT ... ON CONFLICT DO UPDATE, on PostgreSQL and SQLite alike): two
    # submissions racing each other leave one row per option, the later answer winning.
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now, by = utcnow(), (acting.id if for_member is not None else None)
    stmt = insert(MeetingAnswer).values(
        [
            dict(option_id=oid, membership_id=who.id, answer=a, updated_at=now, acted_by_id=by)
            for oid, a in answers.items()
        ]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["option_id", "membership_id"],
        set_={c: getattr(stmt.excluded, c) for c in ("answer", "updated_at", "acted_by_id")},
    )
    db.session.execute(stmt)
    _publish(meeting, "answers")
    notifications.settle(meeting.circle_id, "poll", meeting.id, user_id=who.user_id)
    if for_member is not None:
        acted_for(meeting_circle(meeting), acting, for_member, "poll", meeting.id)


@dataclass
class Tally:
    option: MeetingOption
    yes: list[str]
    maybe: list[str]
    no: list[str]
    best: bool = False


def tallies(meeting: Meeting) -> tuple[list[Tally], dict[int, dict[int, str]], list[str]]:
    """Per option the names per answer; my answers by option; who has not answered."""
    rows = db.session.scalars(
        select(MeetingAnswer).where(MeetingAnswer.option_id.in_([o.id for o in meeting.options]))
    ).all()
    # The invitees and whoever answered for one of them, in one query (loading each
    # invitee's membership on its own made the page one SELECT per person).
    ids = {i.membership_id for i in meeting.invitees} | {r.acted_by_id for r in rows}
    people = {
        m.id: m
        for m in db.session.scalars(select(Membership).where(Membership.id.in_(ids - {None})))
    }
    names = {
        i.membership_id: people[i.membership_id].display_name
        for i in meeting.invitees
        if people[i.membership_id].is_active
    }
    by_option: dict[int, dict[int, str]] = {o.id: {} for o in meeting.options}
    answered = set()
    label = dict(names)
    for r in rows:
        if r.membership_id in names:
            by_option[r.option_id][r.membership_id] = r.answer
            answered.add(r.membership_id)
            if r.acted_by_id:  # "Sanne for Oma" (issue 14)
                proxy = people[r.acted_by_id]
                label[r.membership_id] = by_for(names[r.membership_id], proxy.display_name)
    out = []
    for o in meeting.options:
        got = by_option[o.id]
        out.append(
            Tally(
                o,
                sorted(label[m] for m, a in got.items() if a == "yes"),
                sorted(label[m] for m, a in got.items() if a == "maybe"),
                sorted(label[m] for m, a in got.items() if a == "no"),
            )
        )
    if any(t.yes or t.maybe for t in out):
        best = max(out, key=lambda t: (len(t.yes), len(t.maybe), -t.option.starts_at.timestamp()))
        best.best = True
    missing = sorted(n for m, n in names.items() if m not in answered)
    by_person: dict[int, dict[int, str]] = {}
    for oid, got in by_option.items():
        for mid, a in got.items():
            by_person.setdefault(mid, {})[oid] = a
    return out, by_person, missing


def fix_date(meeting: Meeting, acting: Membership, option_id: int) -> None:
    if not can_manage_meeting(meeting, acting):
        raise Forbidden
    option = next((o for o in meeting.options if o.id == option_id), None)
    if option is None:
        raise ServiceError(_l("Please choose one of the times."))
    if meeting.status == "cancelled":
        raise ServiceError(_l("This meeting was cancelled."))
    meeting.starts_at = option.starts_at
    meeting.status = "fixed"
    _changed(meeting)
    record(meeting_circle(meeting), "meeting_fixed", actor=acting, title=meeting.title)
    _publish(meeting, "fixed")
    _tell_invitees(meeting, acting, "fixed")


def reschedule(meeting: Meeting, acting: Membership, starts_at: datetime) -> None:
    if not can_manage_meeting(meeting, acting):
        raise Forbidden
    if meeting.status != "fixed":
        raise ServiceError(_l("Only a meeting with a date can be moved."))
    if starts_at <= utcnow():
        raise ServiceError(_l("Please choose times in the future."))
    meeting.starts_at = starts_at
    _changed(meeting)
    _publish(meeting, "rescheduled")
    _tell_invitees(meeting, acting, "moved")


def cancel(meeting: Meeting, acting: Membership) -> None:
    if not can_manage_meeting(meeting, acting):
        raise Forbidden
    if meeting.status == "cancelled":
        return
    meeting.status = "cancelled"
    _changed(meeting)
    record(meeting_circle(meeting), "meeting_cancelled", actor=acting, title=meeting.title)
    _publish(meeting, "cancelled")
    _tell_invitees(meeting, acting, "cancelled")


def _changed(meeting: Meeting) -> None:
    meeting.sequence += 1
    meeting.updated_at = utcnow()


def _tell_invitees(meeting: Meeting, acting: Membership, op: str) -> None:
    """News for the people invited (fixed, moved, cancelled); the poll, if it was one,
    no longer waits for anyone's answer."""
    circle = meeting_circle(meeting)
    told = [m for m in circle.memberships if access.hears_of_meeting(m, meeting)]
    notifications.notify(told, "meeting", ref_id=meeting.id, actor=acting, data={"op": op})
    notifications.settle(circle.id, "poll", meeting.id)


def meeting_circle(meeting: Meeting) -> Circle:
    return db.session.get(Circle, meeting.circle_id)


def meetings_of(circle: Circle) -> list[Meeting]:
    return list(
        db.session.scalars(
            select(Meeting)
            .where(Meeting.circle_id == circle.id)
            .options(selectinload(Meeting.options), selectinload(Meeting.invitees))
            .order_by(Meeting.created_at.desc())
        )
    )


def my_meetings(user_id: int, *, upcoming_only: bool = True) -> list[tuple[Meeting, Circle]]:
    """Meetings I am invited to, in every circle I am still in."""
    q = (
        select(Meeting, Circle)
        .join(MeetingInvitee, MeetingInvitee.meeting_id == Meeting.id)
        .join(Membership, Membership.id == MeetingInvitee.membership_id)
        .join(Circle, Circle.id == Meeting.circle_id)
        .where(Membership.user_id == user_id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(Meeting.starts_at, Meeting.created_at)
    )
    if upcoming_only:
        q = q.where(
            (Meeting.status == "poll")
            | ((Meeting.starts_at != None) & (Meeting.starts_at >= utcnow() - timedelta(days=1)))  # noqa: E711
        )
    return [(m, c) for m, c in db.session.execute(q).all()]


def next_meeting(circle: Circle) -> Meeting | None:
    """The circle's next follow-up meeting with a date (for the printout)."""
    return db.session.scalar(
        select(Meeting)
        .where(
            Meeting.circle_id == circle.id,
            Meeting.status == "fixed",
            Meeting.starts_at >= utcnow(),
        )
        .order_by(Meeting.starts_at, Meeting.id)
        .limit(1)
    )


def coming_meetings_of(member: Membership) -> tuple[Meeting | None, list[Meeting]]:
    """For one person in one circle: the next fixed meeting they are invited to, and
    the date polls they are invited to that are still open (one query)."""
    rows = db.session.scalars(
        select(Meeting)
        .join(MeetingInvitee, MeetingInvitee.meeting_id == Meeting.id)
        .where(
            Meeting.circle_id == member.circle_id,
            MeetingInvitee.membership_id == member.id,
            (Meeting.status == "poll")
            | ((Meeting.status == "fixed") & (Meeting.starts_at >= utcnow())),
        )
        .order_by(Meeting.starts_at, Meeting.created_at)
    ).all()
    fixed = [m for m in rows if m.status == "fixed"]
    return (fixed[0] if fixed else None), [m for m in rows if m.status == "poll"]


# --- Agenda and review -----------------------------------------------------------------


def last_review_time(circle: Circle, before: Meeting) -> datetime | None:
    return db.session.scalar(
        select(MeetingReview.recorded_at)
        .join(Meeting, Meeting.id == MeetingReview.meeting_id)
        .where(Meeting.circle_id == circle.id, Meeting.id != before.id)
        .order_by(MeetingReview.recorded_at.desc())
        .limit(1)
    )


@dataclass
class AgendaItem:
    row: object  # plan_view.CommitmentRow
    ticks_since: int


def agenda(circle: Circle, meeting: Meeting, me: Membership):
    """For each commitment: health, ticks since the last meeting, help flags; and the
    proposals waiting for this meeting."""
    view = plan_view(circle, me)
    since = last_review_time(circle, meeting)
    ids = [r.c.id for r in view.rows]
    counts: dict[int, int] = {i: 0 for i in ids}
    if ids:
        q = select(Completion.commitment_id).where(
            Completion.commitment_id.in_(ids), Completion.undone_at.is_(None)
        )
        if since:
            q = q.where(Completion.at > since)
        for cid in db.session.scalars(q):
            counts[cid] += 1
    return view, [AgendaItem(r, counts[r.c.id]) for r in view.rows]


def get_review(meeting: Meeting) -> MeetingReview | None:
    return db.session.scalar(
        select(MeetingReview)
        .where(MeetingReview.meeting_id == meeting.id)
        .options(selectinload(MeetingReview.items))
    )


def record_review(
    circle: Circle,
    meeting: Meeting,
    acting: Membership,
    *,
    present_ids: list[int],
    verdicts: dict[int, tuple[str, str]],
    decisions: dict[int, bool],
    next_evaluation: date | None,
    notes: str = "",
) -> MeetingReview:
    """Record the meeting: who was there, how each commitment is going, which open
    proposals the members present decided, and the next evaluation date.

    Only once the meeting has started. A proposal goes into the plan only as
    ``plan.decide_at_meeting`` allows: every voter there agreed, and no voter who was
    not there has a standing objection.

    The review row is unique per meeting: of two people submitting at once, one
    records it and the other is told it is already recorded; a decided proposal is
    applied exactly once (plan.apply_proposal flips it open -> applied atomically).
    """
    _check_reviewable(meeting, acting)
    present = sorted(
        (m for m in circle.memberships if m.id in set(present_ids) and m.is_active),
        key=lambda m: (m.display_name, m.id),
    )
    if not present:
        raise ServiceError(_l("Please tick who was there."), "present")
    for verdict, _note in verdicts.values():
        if verdict not in VERDICTS:
            raise ServiceError(_l("Please choose working, partly or not working."))
    review = MeetingReview(
        meeting_id=meeting.id,
        recorded_by_id=acting.id,
        present=[m.display_name for m in present],
        present_ids=[m.id for m in present],
        next_evaluation=next_evaluation,
        notes=clean_text(notes).strip()[:4000],
    )
    try:
        with db.session.begin_nested():  # only this insert is undone, not the caller's work
            db.session.add(review)
            db.session.flush()
    except IntegrityError:
        raise ServiceError(_l("How this meeting went is already saved.")) from None
    by_id = {c.id: c for c in plan_svc.commitments(circle)}
    for cid, (verdict, note) in verdicts.items():
        if cid in by_id:
            review.items.append(
                CommitmentReview(
                    commitment_id=cid,
                    what=by_id[cid].what,
                    verdict=verdict,
                    note=clean_text(note).strip()[:2000],
                )
            )
    voters_present = [m for m in present if access.can_vote(m)]
    _decide_proposals(circle, meeting, voters_present, decisions, acting)
    if next_evaluation:
        plan_svc.set_evaluation_date(circle, acting, next_evaluation)
    record(circle, "meeting_reviewed", actor=acting, title=meeting.title)
    _publish(meeting, "reviewed")
    return review


def _check_reviewable(meeting: Meeting, acting: Membership) -> None:
    if not access.can_review_meeting(acting, meeting):
        raise Forbidden
    if meeting.status != "fixed" or meeting.starts_at is None:
        raise ServiceError(
            _l("The meeting needs a date first. Then you can write down how it went.")
        )
    if meeting.starts_at > utcnow():
        raise ServiceError(
            _l("The meeting has not started yet. Afterwards you can write down how it went.")
        )


def _decide_proposals(
    circle: Circle,
    meeting: Meeting,
    voters_present: list[Membership],
    decisions: dict[int, bool],
    actor: Membership,
) -> None:
    """The open proposals the people there decided: into the plan (as far as
    ``plan.decide_at_meeting`` allows) or withdrawn."""
    day = meeting.starts_at.date().isoformat()
    for pid, accepted in decisions.items():
        proposal = db.session.get(Proposal, pid)
        if proposal is None or proposal.circle_id != circle.id:
            continue
        if proposal.status != ProposalStatus.OPEN:
            continue
        if accepted:
            plan_svc.decide_at_meeting(circle, proposal, voters_present, day, actor)
        else:
            plan_svc.decline_at_meeting(circle, proposal, actor)


def reviews_of(circle: Circle) -> list[tuple[Meeting, MeetingReview]]:
    return [
        (m, r)
        for m, r in db.session.execute(
            select(Meeting, MeetingReview)
            .join(MeetingReview, MeetingReview.meeting_id == Meeting.id)
            .where(Meeting.circle_id == circle.id)
            .options(selectinload(MeetingReview.items))
            .order_by(Meeting.starts_at.desc())
        ).all()
    ]
