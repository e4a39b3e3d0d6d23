"""The scheduled purge (``flask --app app kring purge``; hourly in ``python app.py``).

``run(now)`` does four things, each safe to run twice and next to another run:

1. **Ask** the central persons of every circle with no activity for IDLE_CIRCLE_MONTHS
   whether to keep it (``closing.ask_to_keep``: news "closing"/"keep_asked", a Keep
   button on the circle's home page).
2. **Close** every circle asked more than IDLE_ANSWER_DAYS ago with no answer and no
   activity since (as a central person closing it would, with Kring as the actor). A
   circle that became active again after the question is simply not asked any more.
3. **Purge** every circle closed more than CLOSED_CIRCLE_RETENTION_DAYS ago: its
   content is deleted for good, table by table, and its people's names are emptied.
   What stays is an empty shell (the circle row, without title or question, and its
   memberships, ended and without names), so ids are never reused and a former
   member's "My circles" page says they are no longer in "a circle you were in".

4. **Forget old mail**: rows of mail sent or given up more than MAIL_KEEP_DAYS ago.

The log names tables and counts, never content. The clock is a parameter: the tests
move it; nothing here sleeps.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, or_, select, update

from portal.extensions import db
from portal.models import (
    Acceptance,
    AccessLogEntry,
    Agreement,
    ChecklistItem,
    Circle,
    CircleEvent,
    Commitment,
    CommitmentReview,
    Completion,
    Condition,
    Invitation,
    Meeting,
    MeetingAnswer,
    MeetingInvitee,
    MeetingOption,
    MeetingReview,
    Membership,
    MembershipStatus,
    Message,
    MessageRevision,
    Notification,
    OutboxMail,
    Plan,
    PlanVersion,
    Proposal,
    ProposalVote,
    ReentryToken,
)
from portal.models.plan import commitment_assignees
from portal.models.types import utcnow
from portal.services import ServiceError, closing, lines

log = logging.getLogger(__name__)


def run(now: datetime | None = None) -> dict[str, int]:
    """Everything due at ``now`` (default: the clock). Returns how many circles were
    asked, closed and purged."""
    now = now or utcnow()
    config = current_app.config
    counts = {
        "asked": ask_idle(now, months_before(now, config["IDLE_CIRCLE_MONTHS"])),
        "closed": close_unanswered(now, now - timedelta(days=config["IDLE_ANSWER_DAYS"])),
    }
    retention = timedelta(days=config["CLOSED_CIRCLE_RETENTION_DAYS"])
    counts["purged"] = purge_closed(now, now - retention)
    counts["mails_forgotten"] = forget_old_mail(now - timedelta(days=config["MAIL_KEEP_DAYS"]))
    log.info("purge run: %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


# --- Idle circles --------------------------------------------------------------------------


def months_before(when: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the last day of the
    month when that month is shorter: 31 August less 6 months is 28 or 29 February)."""
    index = when.year * 12 + when.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for day in range(when.day, 27, -1):
        try:
            return when.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return when.replace(year=year, month=month, day=min(when.day, 28))


def _activity_since(since):
    """SQL: the circle (``Circle.id``) has had anything new at or after ``since``: a
    message, a tick, a plan version, a meeting made, changed or still to come, or any
    line in its history (joins, settings, "keep it"...)."""
    in_circle = Circle.id
    return or_(
        exists().where(Message.circle_id == in_circle, Message.created_at >= since),
        exists().where(
            Completion.commitment_id == Commitment.id,
            Commitment.circle_id == in_circle,
            Completion.at >= since,
        ),
        exists().where(PlanVersion.circle_id == in_circle, PlanVersion.created_at >= since),
        exists().where(
            Meeting.circle_id == in_circle,
            or_(Meeting.updated_at >= since, Meeting.starts_at >= since),
        ),
        exists().where(CircleEvent.circle_id == in_circle, CircleEvent.created_at >= since),
    )


def ask_idle(now: datetime, cutoff: datetime) -> int:
    """Ask about every open circle with nothing new since ``cutoff`` (one query)."""
    idle = db.session.scalars(
        select(Circle)
        .where(
            Circle.closed_at.is_(None),
            Circle.idle_asked_at.is_(None),
            Circle.created_at < cutoff,
            ~_activity_since(cutoff),
        )
        .order_by(Circle.id)
    ).all()
    asked = 0
    for circle in idle:
        asked += closing.ask_to_keep(circle, now)
        db.session.commit()
    return asked


def close_unanswered(now: datetime, asked_before: datetime) -> int:
    """Close the circles asked before ``asked_before`` that nobody answered."""
    due = db.session.scalars(
        select(Circle)
        .where(Circle.closed_at.is_(None), Circle.idle_asked_at <= asked_before)
        .order_by(Circle.id)
    ).all()
    closed = 0
    for circle in due:
        asked_at = circle.idle_asked_at
        after_question = asked_at + timedelta(seconds=1)  # not the question's own line
        active = db.session.scalar(
            select(_activity_since(after_question)).where(Circle.id == circle.id)
        )
        if active:  # used again since the question: no need to ask any more
            db.session.execute(
                update(Circle)
                .where(Circle.id == circle.id, Circle.idle_asked_at == asked_at)
                .values(idle_asked_at=None)
            )
        else:
            try:
                closing.close_circle(circle, None, now=now)
                closed += 1
            except ServiceError:  # closed meanwhile by someone else
                db.session.rollback()
                continue
        db.session.commit()
    return closed


# --- Old mail ---------------------------------------------------------------------------------


def forget_old_mail(before: datetime) -> int:
    """Delete mail rows sent or given up before ``before``: they keep an address and a
    subject (the body is emptied when sent), which nobody needs once delivered. Their
    unique keys guard only the period they were made for (a day's digest, a reminder
    the day before), long past by then."""
    gone = db.session.execute(
        delete(OutboxMail).where(or_(OutboxMail.sent_at < before, OutboxMail.failed_at < before))
    ).rowcount
    db.session.commit()
    return gone


# --- Purging closed circles -------------------------------------------------------------------


def purge_closed(now: datetime, closed_before: datetime) -> int:
    """Purge every circle closed before ``closed_before``; one transaction per circle."""
    ids = db.session.scalars(
        select(Circle.id)
        .where(Circle.closed_at <= closed_before, Circle.purged_at.is_(None))
        .order_by(Circle.id)
    ).all()
    purged = 0
    for circle_id in ids:
        removed = purge_circle(circle_id, now, closed_before)
        db.session.commit()
        if removed is not None:
            purged += 1
            log.info(
                "purged circle %s: %s",
                circle_id,
                " ".join(f"{table}={n}" for table, n in removed.items()),
            )
    return purged


def purge_circle(circle_id: int, now: datetime, closed_before: datetime) -> dict[str, int] | None:
    """Delete the content of one closed circle for good; the counts per table, or None
    if it was reopened or purged meanwhile. The claim comes first: one conditional
    UPDATE (a reopen at the same moment either wins before it or finds it purged)."""
    claimed = db.session.execute(
        update(Circle)
        .where(
            Circle.id == circle_id,
            Circle.closed_at <= closed_before,
            Circle.purged_at.is_(None),
        )
        .values(purged_at=now, title="", question="", message_seq=0)
    ).rowcount
    if claimed != 1:
        return None
    removed: dict[str, int] = {}

    def gone(table: str, stmt) -> None:
        removed[table] = db.session.execute(
            stmt.execution_options(synchronize_session=False)
        ).rowcount

    messages = select(Message.id).where(Message.circle_id == circle_id)
    meetings = select(Meeting.id).where(Meeting.circle_id == circle_id)
    reviews = select(MeetingReview.id).where(MeetingReview.meeting_id.in_(meetings))
    options = select(MeetingOption.id).where(MeetingOption.meeting_id.in_(meetings))
    commitments = select(Commitment.id).where(Commitment.circle_id == circle_id)
    proposals = select(Proposal.id).where(Proposal.circle_id == circle_id)

    gone(
        "message_revisions", delete(MessageRevision).where(MessageRevision.message_id.in_(messages))
    )
    gone("messages", delete(Message).where(Message.circle_id == circle_id))
    removed.update(lines.purge_circle(circle_id))  # the private lines (issue 14)
    gone("notifications", delete(Notification).where(Notification.circle_id == circle_id))
    gone("access_log", delete(AccessLogEntry).where(AccessLogEntry.circle_id == circle_id))
    gone(
        "commitment_reviews",
        delete(CommitmentReview).where(CommitmentReview.review_id.in_(reviews)),
    )
    gone("meeting_reviews", delete(MeetingReview).where(MeetingReview.meeting_id.in_(meetings)))
    gone("meeting_answers", delete(MeetingAnswer).where(MeetingAnswer.option_id.in_(options)))
    gone("meeting_options", delete(MeetingOption).where(MeetingOption.meeting_id.in_(meetings)))
    gone("meeting_invitees", delete(MeetingInvitee).where(MeetingInvitee.meeting_id.in_(meetings)))
    gone("meetings", delete(Meeting).where(Meeting.circle_id == circle_id))
    gone("completions", delete(Completion).where(Completion.commitment_id.in_(commitments)))
    gone(
        "checklist_items", delete(ChecklistItem).where(ChecklistItem.commitment_id.in_(commitments))
    )
    gone(
        "commitment_assignees",
        delete(commitment_assignees).where(commitment_assignees.c.commitment_id.in_(commitments)),
    )
    gone("plan_versions", delete(PlanVersion).where(PlanVersion.circle_id == circle_id))
    gone("proposal_votes", delete(ProposalVote).where(ProposalVote.proposal_id.in_(proposals)))
    gone("proposals", delete(Proposal).where(Proposal.circle_id == circle_id))
    gone("conditions", delete(Condition).where(Condition.circle_id == circle_id))
    gone("agreements", delete(Agreement).where(Agreement.circle_id == circle_id))
    gone("acceptances", delete(Acceptance).where(Acceptance.circle_id == circle_id))
    gone("commitments", delete(Commitment).where(Commitment.circle_id == circle_id))
    gone("plans", delete(Plan).where(Plan.circle_id == circle_id))
    gone("invitations", delete(Invitation).where(Invitation.circle_id == circle_id))
    gone("reentry_tokens", delete(ReentryToken).where(ReentryToken.circle_id == circle_id))
    gone("circle_events", delete(CircleEvent).where(CircleEvent.circle_id == circle_id))
    # The memberships stay as ended places without a name: the person's "My circles"
    # page still knows they were in a circle, and nothing says who or what it was.
    db.session.execute(
        update(Membership)
        .where(Membership.circle_id == circle_id, Membership.status == MembershipStatus.ACTIVE)
        .values(status=MembershipStatus.LEFT, ended_at=now)
    )
    gone(
        "memberships (names emptied)",
        update(Membership)
        .where(Membership.circle_id == circle_id)
        .values(
            stored_name="",
            supporter_of=None,
            supports_id=None,
            replaces_membership_id=None,
            is_plan_keeper=False,
            in_followup_group=False,
        ),
    )
    db.session.expire_all()
    return removed
