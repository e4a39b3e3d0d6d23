"""A person's own data (GDPR articles 15 and 20): their account (never the password
hash), their places in circles, every message they wrote with its earlier versions,
their private lines (issue 14: what they wrote on each, and what the other wrote on
the lines still open to them),
their commitments, ticks and requests for help, poll and proposal answers, their
settings (the calendar feed on or off, never its secret address), the moments they
signed in, and the current plan of each circle they are in."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import or_, select

from portal.access import open_lines_of
from portal.extensions import db
from portal.models import (
    CalendarFeed,
    Circle,
    Commitment,
    Completion,
    LineMessage,
    Meeting,
    MeetingAnswer,
    MeetingOption,
    Membership,
    Message,
    Proposal,
    ProposalVote,
    PushSubscription,
    SignIn,
    User,
)
from portal.models.plan import commitment_assignees
from portal.models.types import utcnow
from portal.services import news_settings
from portal.services import plan as plan_svc
from portal.services.export import rows
from portal.services.export.circle import FORMAT, VERSION, person
from portal.services.export.writer import Items, html_bytes, iso, json_bytes, pages


def _sign_ins(user_id: int) -> Iterator[str]:
    query = select(SignIn.id, SignIn.at).where(SignIn.user_id == user_id)
    for page in pages(query, SignIn.id):
        for r in page:
            yield iso(r.at)


def _commitments(mine: list[int]) -> list[dict]:
    """The commitments they do, check, or asked help with (a few dozen at most)."""
    doing = select(commitment_assignees.c.commitment_id).where(
        commitment_assignees.c.membership_id.in_(mine)
    )
    found = db.session.scalars(
        select(Commitment)
        .where(
            or_(
                Commitment.id.in_(doing),
                Commitment.checker_id.in_(mine),
                Commitment.help_requested_by_id.in_(mine),
            )
        )
        .order_by(Commitment.circle_id, Commitment.position, Commitment.id)
    )
    done_by = set(db.session.scalars(doing))
    return [
        {
            "circle_id": c.circle_id,
            "id": c.id,
            "what": c.what,
            "i_do_it": c.id in done_by,
            "i_check_it": c.checker_id in mine,
            "still_in_plan": c.active,
            "when": {
                "kind": c.schedule_kind,
                "start": iso(c.start),
                "end": iso(c.end),
                "weekdays": c.weekdays,
                "interval": c.interval,
            },
            "help_asked_at": iso(c.help_requested_at) if c.help_requested_by_id in mine else None,
        }
        for c in found
    ]


def _without_family_texts(ticks: Iterator[dict], gone: set[int]) -> Iterator[dict]:
    """A tick in a circle they left keeps its day and note, not the commitment's text
    as the family has it now."""
    for tick in ticks:
        if tick["circle_id"] in gone:
            tick = {**tick, "commitment": None, "step": None}
        yield tick


def _acted_by(names: dict[int, str], acted_by_id: int | None) -> str | None:
    """Who answered in their name (issue 14), by today's name, else None."""
    return names.get(acted_by_id, "") if acted_by_id else None


def _poll_answers(mine: list[int], gone: set[int], names: dict[int, str]) -> list[dict]:
    found = db.session.execute(
        select(
            Meeting.circle_id,
            Meeting.title,
            MeetingOption.starts_at,
            MeetingAnswer.answer,
            MeetingAnswer.updated_at,
            MeetingAnswer.acted_by_id,
        )
        .join(MeetingOption, MeetingOption.id == MeetingAnswer.option_id)
        .join(Meeting, Meeting.id == MeetingOption.meeting_id)
        .where(MeetingAnswer.membership_id.in_(mine))
        .order_by(MeetingAnswer.id)
    )
    return [
        {
            "circle_id": r.circle_id,
            "meeting": None if r.circle_id in gone else r.title,
            "time": iso(r.starts_at),
            "answer": r.answer,
            "acted_by": _acted_by(names, r.acted_by_id),
            "at": iso(r.updated_at),
        }
        for r in found
    ]


def _plan_answers(mine: list[int], names: dict[int, str]) -> list[dict]:
    found = db.session.execute(
        select(
            Proposal.circle_id,
            Proposal.id,
            Proposal.kind,
            ProposalVote.answer,
            ProposalVote.reason,
            ProposalVote.answered_at,
            ProposalVote.acted_by_id,
        )
        .join(Proposal, Proposal.id == ProposalVote.proposal_id)
        .where(ProposalVote.membership_id.in_(mine), ProposalVote.answer.is_not(None))
        .order_by(ProposalVote.id)
    )
    return [
        {
            "circle_id": r.circle_id,
            "proposal_id": r.id,
            "kind": r.kind,
            "answer": r.answer,
            "reason": r.reason,
            "acted_by": _acted_by(names, r.acted_by_id),
            "at": iso(r.answered_at),
        }
        for r in found
    ]


def _settings(user: User) -> dict:
    news = news_settings.settings_of(user)
    feed = db.session.scalars(
        select(CalendarFeed).where(
            CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None)
        )
    ).first()
    devices = db.session.execute(
        select(PushSubscription.label, PushSubscription.created_at)
        .where(PushSubscription.user_id == user.id)
        .order_by(PushSubscription.id)
    )
    return {
        "news_shown": sorted(news.shown),
        "reminders_on": sorted(news.reminders),
        "digest": news.digest_period,
        "mentions_by_email": news.direct_email,
        "calendar_feed": {
            "on": feed is not None,
            "meeting_titles": bool(feed and feed.show_titles),
        },
        "push_devices": [{"label": d.label, "added_at": iso(d.created_at)} for d in devices],
    }


def _parts(user_id: int) -> dict:
    user = db.session.get(User, user_id)
    memberships = list(
        db.session.scalars(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.id)
        )
    )
    mine = [m.id for m in memberships]
    # Circles they left: what they wrote and did there is theirs, but not what the
    # family wrote or changed since (a commitment's text, a meeting's title).
    gone = {m.circle_id for m in memberships if not m.is_active}
    circles = {
        c.id: c
        for c in db.session.scalars(
            select(Circle).where(Circle.id.in_([m.circle_id for m in memberships]))
        )
    }
    names = rows.names_of(list(circles))
    plans = [
        {
            "circle_id": m.circle_id,
            "circle": circles[m.circle_id].title,
            "version": plan_svc.get_plan(circles[m.circle_id]).version,
            "plan": plan_svc.snapshot(circles[m.circle_id]),
        }
        for m in memberships
        if m.is_active
    ]
    return {
        "user": user,
        "account": {
            "id": user.id,
            "name": user.name,
            "username": user.username,
            "email": user.email,
            "language": user.locale,
            "timezone": user.timezone,
            "created_at": iso(user.created_at),
            "password_changed_at": iso(user.password_changed_at),
            "may_open_circles": user.can_create_circles,
        },
        "settings": _settings(user),
        "memberships": [
            {
                "circle_id": m.circle_id,
                # A circle they left may have been renamed since: not theirs to know.
                "circle": circles[m.circle_id].title if m.is_active else None,
                "muted": m.muted,
                "email_names_circle": m.email_names,
                **person(m),
            }
            for m in memberships
        ],
        "sign_ins": _sign_ins(user_id),
        "messages": rows.messages([Message.author_id.in_(mine)], names),
        "lines": rows.line_messages(
            [
                or_(
                    LineMessage.author_id.in_(mine),
                    LineMessage.line_id.in_(
                        [line.id for m in memberships for line in open_lines_of(m)]
                    ),
                )
            ],
            names,
        ),
        "commitments": _commitments([m.id for m in memberships if m.is_active]),
        "ticks": _without_family_texts(rows.ticks([Completion.by_id.in_(mine)], names), gone),
        "poll_answers": _poll_answers(mine, gone, names),
        "plan_answers": _plan_answers(mine, names),
        "plans": plans,
    }


def _document(user_id: int) -> dict:
    parts = _parts(user_id)
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": "account",
        "exported_at": iso(utcnow()),
        "account": parts["account"],
        "settings": parts["settings"],
        "memberships": parts["memberships"],
        "sign_ins": Items(parts["sign_ins"]),
        "messages": Items(parts["messages"]),
        "lines": Items(parts["lines"]),
        "commitments": parts["commitments"],
        "ticks": Items(parts["ticks"]),
        "poll_answers": parts["poll_answers"],
        "plan_answers": parts["plan_answers"],
        "plans": parts["plans"],
    }


def account_json(user_id: int) -> Iterator[bytes]:
    return json_bytes(lambda: _document(user_id))


def account_html(user_id: int) -> Iterator[bytes]:
    def context() -> dict:
        parts = _parts(user_id)
        parts.pop("user")
        return {"kind": "account", "exported_at": utcnow(), **parts}

    return html_bytes("export/account.html", context)
