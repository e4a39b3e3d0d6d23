"""A lived-in demo circle for ``flask --app app kring demo`` (and so ``make run``).

A newcomer who opens a demo link lands in a circle in use for two weeks: a chat, a plan
at version 2 with ticks (one commitment overdue, one help request open), an open
proposal with answers, a date poll, a reviewed follow-up meeting, a child with a private
line to his supporter and a great-grandfather without internet (``demo_everyone``). The
people who did all that are demo members whose long random passwords nobody is told.

Everything goes through the real services, so the demo obeys the same rules as real
use. The services stamp rows with the current time; :class:`_Timeline` then moves what
each step wrote back to its moment in the story (only "when it happened" columns).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import select, update

from portal import demo_story as words
from portal.access import ChatSeat
from portal.demo_everyone import add_everyone
from portal.extensions import db
from portal.models import (
    Acceptance,
    Circle,
    CircleEvent,
    Commitment,
    Completion,
    Condition,
    Invitation,
    Meeting,
    MeetingAnswer,
    MeetingOption,
    MeetingReview,
    Membership,
    Message,
    PlanVersion,
    Proposal,
    ProposalVote,
    User,
)
from portal.models.types import utcnow
from portal.services import accounts
from portal.services import chat as chat_svc
from portal.services import circles as circle_svc
from portal.services import meetings as meeting_svc
from portal.services import plan as plan_svc
from portal.services.meetings import MeetingData, local_to_utc
from portal.services.plan import CommitmentData
from portal.services.schedule import Schedule, occurrences, today_in

LANGUAGES = ("en", "nl", "fr")
#: The printed links, in this order; ``kring demo`` prints "<label>: <url>" for each.
ROLES = ("coordinator", "central", "member", "supporter", "professional")
MON, TUE, WED, THU, SAT = 0, 1, 2, 3, 5


@dataclass
class Demo:
    circle: Circle
    #: label (see ROLES) -> invitation token for the newcomer
    tokens: dict[str, str]


class _Timeline:
    """Moves what the services just wrote, in this circle, back to a moment in the story.

    Every row written during the build carries a time at or after ``self.start``; the
    story's moments are all earlier. So "fresh" rows are exactly those not yet moved,
    and each step's rows are stamped right after the step.
    """

    def __init__(self, circle: Circle, tz: str, today: date):
        self.circle_id = circle.id
        self.tz = tz
        self.today = today
        self.start = utcnow() - timedelta(seconds=1)

    def day(self, spec) -> date:
        """A number of days before today, or (weekday, n): that weekday n weeks back."""
        if isinstance(spec, int):
            return self.today - timedelta(days=spec)
        name, n = spec
        weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(name)
        back = (self.today.weekday() - weekday - 1) % 7 + 1  # 1..7 days back
        return self.today - timedelta(days=back + 7 * (n - 1))

    def at(self, spec, hhmm: str) -> datetime:
        return self.on(self.day(spec), hhmm)

    def on(self, day: date, hhmm: str) -> datetime:
        h, m = (int(x) for x in hhmm.split(":"))
        return local_to_utc(datetime.combine(day, time(h, m)), self.tz)

    def stamp(self, when: datetime) -> None:
        cid, fresh_since = self.circle_id, self.start
        in_circle_meetings = select(Meeting.id).where(Meeting.circle_id == cid)
        targets = [
            (Circle, Circle.id == cid, ["created_at"]),
            (CircleEvent, CircleEvent.circle_id == cid, ["created_at"]),
            (Message, Message.circle_id == cid, ["created_at"]),
            (Membership, Membership.circle_id == cid, ["joined_at"]),
            (Invitation, Invitation.circle_id == cid, ["created_at"]),
            (Proposal, Proposal.circle_id == cid, ["created_at"]),
            (
                ProposalVote,
                ProposalVote.proposal_id.in_(select(Proposal.id).where(Proposal.circle_id == cid)),
                ["answered_at"],
            ),
            (PlanVersion, PlanVersion.circle_id == cid, ["created_at"]),
            (
                Completion,
                Completion.commitment_id.in_(
                    select(Commitment.id).where(Commitment.circle_id == cid)
                ),
                ["at"],
            ),
            (Commitment, Commitment.circle_id == cid, ["help_requested_at"]),
            (Condition, Condition.circle_id == cid, ["created_at"]),
            (Acceptance, Acceptance.circle_id == cid, ["at"]),
            (Meeting, Meeting.circle_id == cid, ["created_at", "updated_at"]),
            (
                MeetingAnswer,
                MeetingAnswer.option_id.in_(
                    select(MeetingOption.id).where(MeetingOption.meeting_id.in_(in_circle_meetings))
                ),
                ["updated_at"],
            ),
            (MeetingReview, MeetingReview.meeting_id.in_(in_circle_meetings), ["recorded_at"]),
        ]
        db.session.flush()
        for model, where, columns in targets:
            for name in columns:
                col = getattr(model, name)
                db.session.execute(
                    update(model)
                    .where(where, col >= fresh_since)
                    .values({name: when})
                    .execution_options(synchronize_session=False)
                )


class _Cast(NamedTuple):  # the demo members, in the order of demo_story.CAST
    sanne: Membership
    riet: Membership
    joost: Membership
    karim: Membership
    ellen: Membership


@dataclass
class _Story:
    """What every chapter of the build shares: the circle, its clock, the story's words in
    the circle's language, its people, their commitments and the first follow-up meeting."""

    circle: Circle
    clock: _Timeline
    language: str
    cast: _Cast
    commitments: dict[str, Commitment] = field(default_factory=dict)
    #: the first follow-up meeting
    meeting: Meeting | None = None

    def tr(self, text: dict[str, str]) -> str:
        return text[self.language]

    @property
    def voters(self) -> list[Membership]:
        return list(self.cast[:4])

    @property
    def held(self) -> datetime:  # when the first follow-up meeting began
        return self.clock.at(words.MEETING_DAY, "19:30")

    def weekly(self, what, who, days, since: date, checker=None) -> CommitmentData:
        return CommitmentData(
            what=self.tr(what),
            assignee_ids=[who.id],
            checker_id=checker.id if checker else None,
            schedule=Schedule(kind="weekly", start=since, weekdays=frozenset(days)),
        )


def build_demo(language: str = "en", timezone: str = "Europe/Amsterdam") -> Demo:
    """Create the demo circle and its two weeks of life; the caller commits."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}")
    story, coordinator_token = _open_circle(language, timezone)
    _conference_evening(story)
    _first_meeting_poll(story)
    _consent_change(story)
    _ticks(story)
    _last_days(story)
    _chat(story)
    sam = add_everyone(story.circle, story.cast.sanne, story.cast.karim, language)
    story.clock.stamp(story.clock.at(1, "18:00"))
    tokens = _newcomers(story, coordinator_token, sam)
    return _this_morning(story, tokens)


def _open_circle(language: str, timezone: str) -> tuple[_Story, str]:
    """The circle, and the people who have been using it."""
    circle, _none, coordinator_token = circle_svc.create_circle(
        title=words.TITLE[language],
        question=words.QUESTION[language],
        language=language,
        timezone=timezone,
        coordinator_name=words.NEWCOMERS["coordinator"][0][language],
    )
    clock = _Timeline(circle, timezone, today_in(timezone))
    clock.stamp(clock.at(16, "10:00"))
    cast = _people(circle, clock, language)
    return _Story(circle=circle, clock=clock, language=language, cast=cast), coordinator_token


def _people(circle: Circle, clock: _Timeline, language: str) -> _Cast:
    """Real accounts for the demo members, with passwords nobody knows."""
    cast: dict[str, Membership] = {}
    for i, (key, (name, role, supporter_of)) in enumerate(words.CAST.items()):
        user = accounts.create_user(
            name=name[language],
            username=f"demo{circle.id}.{key}",
            password=secrets.token_urlsafe(32),
            locale=language,
        )
        _inv, token = circle_svc.invite(
            circle, None, name=name[language], role=role, supporter_of=supporter_of
        )
        cast[key] = circle_svc.redeem_invitation(token, user)
        clock.stamp(clock.at(16, f"{11 + i}:00"))
    return _Cast(**cast)


def _conference_evening(story: _Story) -> None:
    """The conference evening: the plan is entered and agreed (version 1)."""
    circle, clock, tr, p = story.circle, story.clock, story.tr, story.cast
    circle_svc.set_flags(circle, p.sanne, p.riet, plan_keeper=True, followup=True)
    circle_svc.set_flags(circle, p.sanne, p.joost, plan_keeper=False, followup=True)
    plan_svc.add_condition(circle, p.ellen, tr(words.CONDITION))
    clock.stamp(clock.at(15, "19:00"))
    entered = _plan_v1(story)
    # Entered the way the plan's forms enter a draft; the plan lists them in that order.
    for data in entered.values():
        plan_svc.change(circle, p.sanne, "add_commitment", payload=data.to_payload())
    story.commitments.update(zip(entered, plan_svc.commitments(circle), strict=True))
    for text in words.AGREEMENTS:
        plan_svc.change(circle, p.sanne, "add_agreement", payload={"text": tr(text)})
    plan_svc.set_evaluation_date(circle, p.sanne, story.clock.today + timedelta(days=75))
    plan_svc.record_agreement(circle, p.sanne, [m.id for m in story.voters])
    clock.stamp(clock.at(15, "21:15"))
    plan_svc.accept(circle, p.ellen, 1)
    clock.stamp(clock.at(14, "09:30"))
    circle_svc.set_professionals_read_chat(circle, p.sanne, True)
    clock.stamp(clock.at(13, "20:00"))


def _plan_v1(story: _Story) -> dict[str, CommitmentData]:
    """The commitments of the first plan, by their key in demo_story.VERDICTS."""
    tr, p, today = story.tr, story.cast, story.clock.today
    start = story.clock.day(15)
    return {
        "school": story.weekly(words.SCHOOL, p.riet, {MON, THU}, since=start, checker=p.sanne),
        "football": story.weekly(words.FOOTBALL, p.karim, {SAT}, since=start),
        "call_school": CommitmentData(
            what=tr(words.CALL_SCHOOL),
            assignee_ids=[p.sanne.id],
            schedule=Schedule(kind="once", start=today - timedelta(days=3)),
        ),
        "forms": CommitmentData(
            what=tr(words.FORMS),
            assignee_ids=[p.joost.id],
            checker_id=p.sanne.id,
            schedule=Schedule(kind="period", start=start, end=today + timedelta(days=10)),
        ),
        "chart": CommitmentData(
            what=tr(words.CHART),
            assignee_ids=[p.sanne.id],
            items=[tr(i) for i in words.CHART_ITEMS],
            schedule=Schedule(kind="once", start=today + timedelta(days=7)),
        ),
    }


def _sanne_polls(story: _Story, title, purpose, in_days: int, offsets, deadline_before=None):
    """Sanne puts up a date poll at 19:30 on days ``in_days + offsets`` from today (the
    services only take future times), with Karim invited too."""
    tz = story.clock.tz
    first = datetime.combine(story.clock.today + timedelta(days=in_days), time(19, 30))
    deadline = first - timedelta(days=deadline_before) if deadline_before else None
    return meeting_svc.propose_meeting(
        story.circle,
        story.cast.sanne,
        MeetingData(
            title=story.tr(title),
            purpose=story.tr(purpose),
            place=story.tr(words.PLACE),
            video_link="",
            duration_minutes=90,
            options=[local_to_utc(first + timedelta(days=d), tz) for d in offsets],
            deadline=local_to_utc(deadline, tz) if deadline else None,
            invitee_ids=[story.cast.karim.id],
        ),
    )


def _first_meeting_poll(story: _Story) -> None:
    """The first follow-up meeting: polled and fixed, then (in :func:`_hold_meeting`) held
    and reviewed. The services only take times in the future, so it is made with future
    dates that are moved into the past once it is fixed, the way time would have passed."""
    clock, p = story.clock, story.cast
    meeting = _sanne_polls(story, words.FIRST_MEETING, words.FIRST_PURPOSE, 1, (0, 1))
    clock.stamp(clock.at(12, "18:00"))
    first, second = meeting.options
    for who, answers in (
        (p.riet, ("yes", "yes")),
        (p.joost, ("yes", "no")),
        (p.karim, ("yes", "maybe")),
    ):
        meeting_svc.set_answers(meeting, who, {first.id: answers[0], second.id: answers[1]})
    clock.stamp(clock.at(11, "20:00"))
    meeting_svc.fix_date(meeting, p.sanne, first.id)
    clock.stamp(clock.at(10, "19:55"))
    story.meeting = meeting


def _consent_change(story: _Story) -> None:
    """A change by consent: version 2."""
    circle, clock, tr, p = story.circle, story.clock, story.tr, story.cast
    proposal = plan_svc.propose(
        circle,
        p.joost,
        "add_commitment",
        payload=story.weekly(words.COOKING, p.joost, {WED}, since=clock.day(9)).to_payload(),
        reason=tr(words.COOKING_REASON),
    )
    clock.stamp(clock.at(10, "21:05"))
    for who, when in ((p.sanne, clock.at(10, "21:24")), (p.riet, clock.at(9, "09:10"))):
        plan_svc.answer(circle, who, proposal, True)
        clock.stamp(when)
    plan_svc.answer(circle, p.karim, proposal, True)  # the last consent applies it
    clock.stamp(clock.at(9, "17:49"))
    cooking = tr(words.COOKING)
    story.commitments["cooking"] = db.session.scalar(
        select(Commitment).where(Commitment.circle_id == circle.id, Commitment.what == cooking)
    )
    plan_svc.accept(circle, p.ellen, 2)
    clock.stamp(clock.at(8, "10:25"))


def _ticks(story: _Story) -> None:
    """Every turn done on its day, except the Monday Sam was ill; the call to the school
    was not made (overdue); two of the three chart steps are done."""
    circle, clock, p = story.circle, story.clock, story.cast
    yesterday = story.clock.today - timedelta(days=1)
    sick_day = clock.day(("mon", 2))
    for key, who, hhmm in (
        ("school", p.riet, "08:45"),
        ("football", p.karim, "12:00"),
        ("cooking", p.joost, "20:30"),
    ):
        c = story.commitments[key]
        for day in occurrences(plan_svc.schedule_of(c), c.start, yesterday):
            if key == "school" and day == sick_day:
                continue
            plan_svc.tick(circle, who, c, day.isoformat())
            clock.stamp(clock.on(day, hhmm))
    chart = story.commitments["chart"]
    for item, days_ago in zip(chart.items[:2], (6, 4), strict=True):
        plan_svc.tick(circle, p.sanne, chart, f"item:{item.id}")
        clock.stamp(clock.at(days_ago, "16:00"))


def _last_days(story: _Story) -> None:
    """The meeting held, the call for help and the backup proposal, in the order they
    happened (the meeting's day moves with the calendar), so the circle's history, which
    lists newest first by id, reads right."""
    clock = story.clock
    for _when, step in sorted(
        [
            (story.held, _hold_meeting),
            (clock.at(3, "19:35"), _ask_for_help),
            (clock.at(2, "10:12"), _propose_backup),
        ],
        key=lambda pair: pair[0],
    ):
        step(story)


def _hold_meeting(story: _Story) -> None:
    """The meeting took place; its review is recorded that evening, and the date poll for
    the next one is put up."""
    tr, p, held = story.tr, story.cast, story.held
    first, second = story.meeting.options
    first.starts_at, second.starts_at = held, held - timedelta(days=1)
    story.meeting.starts_at = held
    db.session.flush()
    meeting_svc.record_review(
        story.circle,
        story.meeting,
        p.sanne,
        present_ids=[m.id for m in story.voters],
        verdicts={
            story.commitments[k].id: (verdict, tr(note))
            for k, (verdict, note) in words.VERDICTS.items()
        },
        decisions={},
        next_evaluation=story.clock.today + timedelta(days=40),
        notes=tr(words.REVIEW_NOTES),
    )
    story.clock.stamp(held + timedelta(hours=2, minutes=30))
    _next_meeting_poll(story)


def _next_meeting_poll(story: _Story) -> None:
    """Put up that evening, right after the review; three have answered."""
    p, held = story.cast, story.held
    poll = _sanne_polls(
        story, words.SECOND_MEETING, words.SECOND_PURPOSE, 12, (0, 1, 3), deadline_before=5
    )
    story.clock.stamp(held + timedelta(hours=3, minutes=10))
    answers = {
        p.sanne: ("yes", "yes", "maybe"),
        p.riet: ("yes", "maybe", "no"),
        p.joost: ("maybe", "yes", "yes"),
    }
    for i, (who, said) in enumerate(answers.items()):
        ids = [o.id for o in poll.options]
        meeting_svc.set_answers(poll, who, dict(zip(ids, said, strict=True)))
        story.clock.stamp(held + timedelta(hours=3, minutes=20 + 10 * i))


def _ask_for_help(story: _Story) -> None:
    plan_svc.request_help(story.circle, story.cast.joost, story.commitments["forms"])
    story.clock.stamp(story.clock.at(3, "19:35"))


def _propose_backup(story: _Story) -> None:
    """An open proposal: Grandma Riet's backup plan, one consent so far, two waiting."""
    circle, clock, tr, p = story.circle, story.clock, story.tr, story.cast
    backup = plan_svc.propose(
        circle,
        p.riet,
        "add_agreement",
        payload={"text": tr(words.BACKUP)},
        reason=tr(words.BACKUP_REASON),
    )
    clock.stamp(clock.at(2, "10:12"))
    plan_svc.answer(circle, p.sanne, backup, True)
    clock.stamp(clock.at(2, "11:00"))


def _chat(story: _Story) -> None:
    """Two weeks of chat, oldest first, so the numbering follows the clock."""
    clock, tr = story.clock, story.tr
    lines = [(clock.at(day, hhmm), who, tr(text)) for day, hhmm, who, text in words.CHAT]
    lines += [
        (clock.at(words.MEETING_DAY, hhmm), who, tr(text))
        for hhmm, who, text in words.AFTER_MEETING
    ]
    for when, who, text in sorted(lines, key=lambda line: line[0]):
        chat_svc.send_message(ChatSeat.of(getattr(story.cast, who)), secrets.token_hex(8), text)
        clock.stamp(when)


def _newcomers(story: _Story, coordinator_token: str, sam: Membership) -> dict[str, str]:
    """The newcomer's doors, one per role (the coordinator's came with the circle); the
    newcomer supporter supports Sam, so a private line with him opens on joining."""
    tokens = {"coordinator": coordinator_token}
    for label in ROLES[1:]:
        name, role, sup = words.NEWCOMERS[label]
        _inv, tokens[label] = circle_svc.invite(
            story.circle,
            story.cast.sanne,
            name=story.tr(name),
            role=role,
            supporter_of=sup,
            supports=sam.id if sup else None,
        )
    return tokens


def _this_morning(story: _Story, tokens: dict[str, str]) -> Demo:
    """The invitations were made this morning, after everything else, however the calendar
    falls; the demo members have read everything."""
    circle_id = story.circle.id
    story.clock.stamp(utcnow() - timedelta(minutes=20))
    last_seq = db.session.scalar(select(Circle.message_seq).where(Circle.id == circle_id))
    for m in story.cast:
        m.last_read_seq = last_seq
    db.session.flush()
    db.session.expire_all()
    return Demo(circle=db.session.get(Circle, circle_id), tokens=tokens)


def demo_users(circle: Circle) -> list[User]:
    """The accounts made for the demo members of ``circle``."""
    prefix = f"demo{circle.id}."
    return list(db.session.scalars(select(User).where(User.username.startswith(prefix))))
