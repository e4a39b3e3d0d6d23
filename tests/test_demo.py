"""``flask kring demo`` builds a circle that looks lived in, through the real services,
and each printed link lets a newcomer in as that role to see it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal.access import can_read_line, open_lines_of
from portal.demo import ROLES, build_demo, demo_users
from portal.models import (
    Circle,
    Meeting,
    MeetingAnswer,
    MeetingOption,
    Membership,
    Message,
    Role,
)
from portal.models.types import utcnow
from portal.services import accounts, lines
from portal.services import meetings as meeting_svc
from portal.services import plan as plan_svc
from portal.services.plan_view import plan_view
from portal.services.schedule import Health
from tests.conftest import PASSWORD, csrf_from

LINE = re.compile(r"^(\w+): (http://localhost(/i/[A-Za-z0-9_\-]{20,}))$")


def _run_demo(app, *args) -> tuple[int, dict[str, str]]:
    result = app.test_cli_runner().invoke(args=["kring", "demo", *args])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    head = re.match(r"^Demo circle (\d+): .+$", lines[0])
    assert head, lines[0]
    links = {}
    for line in lines[1:]:
        m = LINE.match(line)
        assert m, line
        links[m.group(1)] = m.group(3)
    assert list(links) == list(ROLES)
    return int(head.group(1)), links


def _join(client, path: str, username: str) -> str:
    assert client.get(path).status_code == 302
    page = client.get("/join")
    assert page.status_code == 200
    resp = client.post(
        "/join",
        data={
            "csrf_token": csrf_from(page),
            "display_name": username.title(),
            "username": username,
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp.headers["Location"]


def test_the_demo_circle_is_lived_in(db, app):
    demo = build_demo("en")
    db.session.commit()
    circle = demo.circle
    central = next(m for m in circle.memberships if m.role == Role.CENTRAL)

    # Two weeks of chat, by several people.
    span = db.session.execute(
        select(func.min(Message.created_at), func.max(Message.created_at)).where(
            Message.circle_id == circle.id
        )
    ).one()
    assert span[1] - span[0] >= timedelta(days=10)
    assert span[1] < utcnow()
    authors = db.session.scalars(
        select(func.count(func.distinct(Message.author_id))).where(Message.circle_id == circle.id)
    ).one()
    assert authors >= 4
    seqs_by_time = db.session.scalars(
        select(Message.seq).where(Message.circle_id == circle.id).order_by(Message.created_at)
    ).all()
    assert seqs_by_time == sorted(seqs_by_time)  # numbered in the order they were said

    # The plan: version 2 or later, ticks, one overdue, one asking for help.
    view = plan_view(circle, central)
    assert view.version >= 2
    health = [r.health for r in view.rows]
    assert health.count(Health.OVERDUE) == 1
    assert health.count(Health.NEEDS_HELP) == 1
    ticks = plan_svc.standing_completions([r.c.id for r in view.rows])
    assert sum(len(t) for t in ticks.values()) >= 8
    versions = plan_svc.versions(circle)
    assert [v.reason for v in versions][-2:] == ["consent", "agreed"]
    assert plan_svc.acceptances(circle)

    # An open proposal with answers: consent from someone besides the proposer, and
    # someone still to answer.
    (proposal,) = plan_svc.open_proposals(circle)
    answers = {v.membership_id: v.answer for v in proposal.votes}
    others = {k: v for k, v in answers.items() if k != proposal.proposer_id}
    assert "consent" in others.values() and None in others.values()

    # A poll with answers, and a past meeting with its review.
    meetings = meeting_svc.meetings_of(circle)
    poll = next(m for m in meetings if m.status == "poll")
    assert min(o.starts_at for o in poll.options) > utcnow()
    answered = db.session.scalar(
        select(func.count(func.distinct(MeetingAnswer.membership_id)))
        .join(MeetingOption, MeetingOption.id == MeetingAnswer.option_id)
        .where(MeetingOption.meeting_id == poll.id)
    )
    assert answered >= 2
    past = next(m for m in meetings if m.status == "fixed")
    assert past.starts_at < utcnow()
    review = meeting_svc.get_review(past)
    assert review is not None and review.items and review.recorded_at > past.starts_at

    # The people who made all this are demo members: real accounts, not signable-into.
    users = demo_users(circle)
    assert len(users) == 6
    for user in users:
        assert not accounts.check_password(user, "")
        assert not accounts.check_password(user, PASSWORD)

    # Everyone takes part (issue 14): Sam, the child, in simple mode, with a private line
    # to Karim that only those two can read; Great-grandpa Wim without internet, whom
    # Sanne answers for.
    by_name = {m.display_name: m for m in circle.memberships}
    sam, karim, wim = by_name["Sam"], by_name["Karim"], by_name["Great-grandpa Wim"]
    assert sam.user.simple_mode and karim.supports_id == sam.id
    (line,) = open_lines_of(sam)
    assert [m.body for m in lines.messages_after(line, 0)][0].startswith("Karim, can we")
    assert not any(can_read_line(m, line) for m in circle.memberships if m not in (sam, karim))
    assert wim.offline and [p.id for p in wim.proxies] == [central.id] and wim.votes


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_the_demo_speaks_the_circles_language(db, app, language):
    demo = build_demo(language)
    db.session.commit()
    assert demo.circle.language == language
    first = db.session.scalar(
        select(Message.body).where(Message.circle_id == demo.circle.id).order_by(Message.seq)
    )
    assert first and "Thank you" not in first


def test_every_printed_link_lets_a_newcomer_in_as_that_role(app, db, new_client):
    circle_id, links = _run_demo(app)
    circle = db.session.get(Circle, circle_id)
    assert circle is not None
    for label, path in links.items():
        browser = new_client()
        home = _join(browser, path, f"new.{label}")
        assert home == f"/c/{circle_id}"
        me = db.session.scalar(
            select(Membership).where(
                Membership.circle_id == circle_id, Membership.display_name == f"New.{label}".title()
            )
        )
        assert me is not None and me.role == Role(label)
        for page in ("", "/chat", "/plan", "/meetings"):
            resp = browser.get(f"/c/{circle_id}{page}")
            assert resp.status_code == 200, (label, page, resp.status_code)
        chat = browser.get(f"/c/{circle_id}/chat").get_data(as_text=True)
        assert "Sam kept goal for the whole second half" in chat
        meeting = db.session.scalar(
            select(Meeting.id).where(Meeting.circle_id == circle_id, Meeting.status == "fixed")
        )
        assert browser.get(f"/c/{circle_id}/meetings/{meeting}").status_code == 200
