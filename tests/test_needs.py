""" "What needs you" (issue 14): the start of the circle home and of "My circles".

What a member sees there (today's turns with a Done, missed turns with their date, unread
messages, a question waiting for their consent, a poll to answer, the next meeting), what
a professional sees (no chat count while the chat is closed to them), what a closed
circle shows (no Done), and what must never show: anything of another circle, or of a
circle one was removed from. The page costs the same number of queries however much
there is. Ticking a missed turn from "My commitments", and the rules for which turns
can be ticked, with the clock moved (never a sleep).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from portal.access import ChatSeat
from portal.extensions import db as _db
from portal.models import Circle, Commitment, Completion, Membership
from portal.services import chat as chat_svc
from portal.services import circles as circle_svc
from portal.services import closing
from portal.services import meetings as meet_svc
from portal.services import membership as membership_svc
from portal.services import plan as plan_svc
from portal.services.needs import needs_of
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import csrf_from

TODAY = date(2026, 11, 11)  # a Wednesday: the football turns fall on Wednesdays
WEEK = timedelta(weeks=1)


@pytest.fixture(autouse=True)
def _clock(monkeypatch, app):
    """Today is TODAY for the needs, the plan pages and the tick rules alike."""
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    for where in ("needs", "plan_view", "plan.ticks"):
        monkeypatch.setattr(f"portal.services.{where}.today_in", lambda tz: TODAY)


@pytest.fixture
def browser(new_client, login):
    open_ = {}

    def get(m: Membership):
        if m.user_id not in open_:
            open_[m.user_id] = login(new_client(), m.user)
        return open_[m.user_id]

    return get


def _post(client, url, data=None):
    token = csrf_from(client.get("/account"))
    return client.post(url, data={**(data or {}), "csrf_token": token})


def _commitment(circle, acting, what, who, *, kind="weekly", start, weekdays=(2,), end=None):
    data = plan_svc.CommitmentData(
        what=what,
        assignee_ids=[m.id for m in who],
        other_assignees="",
        checker_id=None,
        checker_name="",
        items=[],
        schedule=Schedule(kind=kind, start=start, end=end, weekdays=frozenset(weekdays)),
    )
    c = plan_data.add_commitment(circle, acting, data)
    _db.session.commit()
    return c


_said = iter(range(10**6))


def _say(circle, m: Membership, body: str, n: int = 1) -> None:
    for _i in range(n):
        chat_svc.send_message(ChatSeat.of(m), f"needs-test-{next(_said):08d}", body)
    _db.session.commit()


def _poll(circle, organiser, invite, title="Check-in", fixed=False):
    options = [datetime(2031, 6, d, 17, 0, tzinfo=UTC) for d in (1, 2)]
    m = meet_svc.propose_meeting(
        circle,
        organiser,
        meet_svc.MeetingData(
            title=title,
            purpose="",
            place="",
            video_link="",
            duration_minutes=90,
            options=options,
            invitee_ids=[x.id for x in invite],
        ),
    )
    if fixed:
        meet_svc.fix_date(m, organiser, m.options[0].id)
    _db.session.commit()
    return m


@dataclass
class Family:
    circle: Circle
    coord: Membership
    sanne: Membership  # central person
    oma: Membership  # member
    vos: Membership  # professional
    football: Commitment  # Oma's, every Wednesday since three weeks ago
    soup: Commitment  # Oma's, once, two days ago (missed)


@pytest.fixture
def family(make_circle, add_member) -> Family:
    circle, coord = make_circle("Circle around Sam")
    sanne = add_member(circle, role="central", name="Sanne")
    oma = add_member(circle, name="Oma")
    vos = add_member(circle, role="professional", name="Dr Vos")
    football = _commitment(circle, coord, "Take Sam to football", [oma], start=TODAY - 3 * WEEK)
    soup = _commitment(
        circle, coord, "Bring soup to Sam", [oma], kind="once", start=TODAY - timedelta(2)
    )
    _commitment(circle, coord, "Sanne's own task", [sanne], start=TODAY - WEEK)
    plan_svc.record_agreement(circle, coord, [sanne.id, oma.id])
    _db.session.commit()
    return Family(circle, coord, sanne, oma, vos, football, soup)


def _needs_section(html: str) -> str:
    m = re.search(r'<section class="card needs" id="needs".*?</section>', html, re.S)
    assert m, "no “What needs you” on the page"
    return m.group(0)


def _home(f: Family, browser, m: Membership) -> str:
    resp = browser(m).get(f"/c/{f.circle.id}")
    assert resp.status_code == 200
    return _needs_section(resp.get_data(as_text=True))


# --- What it shows ---------------------------------------------------------------------


def test_a_member_sees_today_missed_turns_messages_consent_poll_and_the_next_meeting(
    family, browser
):
    f = family
    plan_svc.tick(f.circle, f.oma, f.football, (TODAY - WEEK).isoformat())
    _say(f.circle, f.sanne, "Hello Oma", n=2)
    proposal = plan_svc.propose(
        f.circle,
        f.sanne,
        "add_agreement",
        payload={"text": "If it rains, Sanne drives."},
        reason="Autumn",
    )
    poll = _poll(f.circle, f.sanne, [f.oma], title="Autumn check-in")
    fixed = _poll(f.circle, f.sanne, [f.oma], title="Winter meeting", fixed=True)
    _db.session.commit()

    html = _home(f, browser, f.oma)
    # Today's turn, with one big Done that ticks today's date.
    today = re.search(rf'id="need-{f.football.id}-{TODAY.isoformat()}".*?</li>', html, re.S)
    assert today and "Take Sam to football" in today.group(0)
    assert f'name="occurrence" value="{TODAY.isoformat()}"' in today.group(0)
    assert ">Done<" in today.group(0)
    # The turns missed, each with its date and its own Done: two weeks ago (last week's
    # is ticked) and three weeks ago, and the soup two days ago.
    for day, c in ((TODAY - 2 * WEEK, f.football), (TODAY - 3 * WEEK, f.football)):
        item = re.search(rf'id="need-{c.id}-{day.isoformat()}".*?</li>', html, re.S)
        assert item, day
        assert "Missed on" in item.group(0)
    assert f'id="need-{f.football.id}-{(TODAY - WEEK).isoformat()}"' not in html
    assert f'id="need-{f.soup.id}-once"' in html
    # The rest: two unread messages, the question, the poll, the next meeting.
    assert "2 new messages in the chat" in html
    assert f"/c/{f.circle.id}/plan#p{proposal.id}" in html
    assert "A question waits for your answer:" in html
    assert f"/meetings/{poll.id}" in html and "Autumn check-in" in html
    assert f"/meetings/{fixed.id}" in html and "Next meeting: Winter meeting" in html
    # Sanne's own task is hers, not Oma's.
    assert "Sanne&#39;s own task" not in html and "Sanne's own task" not in html


def test_nothing_needs_you_is_said_kindly(family, browser):
    f = family
    html = _home(f, browser, f.vos)
    assert "Nothing needs you today." in html
    assert "<form" not in html


def test_answered_things_leave_the_list(family, browser):
    """The question answered, the poll answered, the chat read: gone."""
    f = family
    proposal = plan_svc.propose(f.circle, f.sanne, "add_agreement", payload={"text": "Rain."})
    poll = _poll(f.circle, f.sanne, [f.oma])
    _say(f.circle, f.sanne, "Hello")
    _db.session.commit()
    plan_svc.answer(f.circle, f.oma, proposal, True)
    meet_svc.set_answers(poll, f.oma, {poll.options[0].id: "yes"})
    chat_svc.mark_read(f.oma, f.circle.message_seq)
    _db.session.commit()
    html = _home(f, browser, f.oma)
    assert "waits for your answer" not in html
    assert "Say which dates suit you" not in html
    assert "new message" not in html


def test_done_ticks_the_turn_and_it_is_gone(family, browser):
    f = family
    resp = _post(
        browser(f.oma),
        f"/c/{f.circle.id}/plan/commitments/{f.football.id}/tick",
        {"occurrence": TODAY.isoformat(), "back": "home"},
    )
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/c/{f.circle.id}#needs")
    done = _db.session.scalars(
        select(Completion).where(Completion.commitment_id == f.football.id)
    ).all()
    assert [(c.occurrence, c.by_id) for c in done] == [(TODAY.isoformat(), f.oma.id)]
    html = _home(f, browser, f.oma)
    assert f'id="need-{f.football.id}-{TODAY.isoformat()}"' not in html
    # A missed turn is ticked with its own date.
    missed = (TODAY - 2 * WEEK).isoformat()
    resp = _post(
        browser(f.oma),
        f"/c/{f.circle.id}/plan/commitments/{f.football.id}/tick",
        {"occurrence": missed, "back": "all"},
    )
    assert resp.headers["Location"].endswith("/circles#needs")
    assert f'id="need-{f.football.id}-{missed}"' not in _home(f, browser, f.oma)


def test_my_circles_shows_what_needs_me_in_each_circle(family, browser, make_circle, add_member):
    f = family
    other, other_coord = make_circle("Circle around Lea")
    lea_oma = add_member(other, name="Oma", user=f.oma.user)
    _commitment(other, other_coord, "Read to Lea", [lea_oma], start=TODAY - WEEK)
    resp = browser(f.oma).get("/circles")
    assert resp.status_code == 200
    html = _needs_section(resp.get_data(as_text=True))
    assert "Circle around Sam" in html and "Circle around Lea" in html
    assert "Take Sam to football" in html and "Read to Lea" in html
    assert 'name="back" value="all"' in html


# --- Access: what must never show -------------------------------------------------------


def test_nothing_of_another_circle_leaks_into_what_needs_you(
    family, browser, make_circle, add_member
):
    f = family
    other, other_coord = make_circle("Secret circle")
    bert = add_member(other, role="central", name="Bert")
    ben = add_member(other, name="Ben")
    _commitment(other, other_coord, "Secret task", [ben], start=TODAY - WEEK)
    plan_svc.record_agreement(other, other_coord, [bert.id, ben.id])
    _db.session.commit()
    plan_svc.propose(other, bert, "add_agreement", payload={"text": "Secret agreement"})
    _poll(other, bert, [ben], title="Secret meeting")
    _say(other, bert, "Secret message", n=3)
    for m in (f.oma, f.sanne, f.vos):
        html = _home(f, browser, m)
        assert "Secret" not in html and f"/c/{other.id}" not in html
        page = browser(m).get("/circles")
        body = page.get_data(as_text=True) if page.status_code == 200 else ""
        assert "Secret" not in body
    assert {n.circle.id for n in needs_of(f.oma.user_id)} == {f.circle.id}


def test_a_removed_member_sees_nothing_more_of_the_circle(family, browser):
    f = family
    _say(f.circle, f.sanne, "After you went", n=2)
    membership_svc.remove_member(f.circle, f.sanne, f.oma)
    _db.session.commit()
    assert needs_of(f.oma.user_id) == []
    resp = browser(f.oma).get("/circles")
    html = resp.get_data(as_text=True)
    assert "Take Sam to football" not in html and "new message" not in html
    assert browser(f.oma).get(f"/c/{f.circle.id}").status_code == 404


def test_the_coordinator_after_handover_sees_nothing_more_of_the_circle(family, browser):
    f = family
    _say(f.circle, f.sanne, "After the handover", n=2)
    plan_svc.propose(f.circle, f.sanne, "add_agreement", payload={"text": "Rain."})
    _poll(f.circle, f.sanne, [f.oma])
    circle_svc.hand_over(f.circle, f.coord)
    _db.session.commit()
    assert needs_of(f.coord.user_id) == []
    html = browser(f.coord).get("/circles").get_data(as_text=True)
    assert "Circle around Sam" not in html.split("Circles you are no longer in")[0]
    assert "new message" not in html and "waits for your answer" not in html


def test_a_professional_sees_no_chat_count_while_the_chat_is_closed_to_them(family, browser):
    f = family
    _say(f.circle, f.sanne, "Family talk", n=3)
    html = _home(f, browser, f.vos)
    assert "new message" not in html and "/chat" not in html
    circle_svc.set_professionals_read_chat(f.circle, f.sanne, True)
    _db.session.commit()
    assert "3 new messages in the chat" in _home(f, browser, f.vos)


def test_a_professional_and_the_coordinator_are_never_asked_for_consent(family, browser):
    f = family
    plan_svc.propose(f.circle, f.sanne, "add_agreement", payload={"text": "Rain."})
    _db.session.commit()
    for m in (f.vos, f.coord):
        assert "waits for your answer" not in _home(f, browser, m)
    assert "waits for your answer" in _home(f, browser, f.oma)


def test_a_closed_circle_shows_no_done_buttons(family, browser):
    f = family
    closing.close_circle(f.circle, f.sanne)
    _db.session.commit()
    html = _home(f, browser, f.oma)
    assert "Take Sam to football" in html  # still there to read
    assert "<form" not in html and ">Done<" not in html
    # And ticking it anyway is refused as in any closed circle.
    resp = _post(
        browser(f.oma),
        f"/c/{f.circle.id}/plan/commitments/{f.football.id}/tick",
        {"occurrence": TODAY.isoformat(), "back": "home"},
    )
    assert resp.status_code == 403
    assert not _db.session.scalars(select(Completion)).all()


# --- Which turns can be ticked (the clock moved) ------------------------------------------


def _tick(f, browser, day, back="mine"):
    return _post(
        browser(f.oma),
        f"/c/{f.circle.id}/plan/commitments/{f.football.id}/tick",
        {"occurrence": day.isoformat(), "back": back},
    )


def _ticked(f) -> list[str]:
    return _db.session.scalars(
        select(Completion.occurrence)
        .where(Completion.commitment_id == f.football.id)
        .order_by(Completion.occurrence)
    ).all()


def test_a_turn_still_to_come_or_before_the_start_cannot_be_ticked(family, browser, monkeypatch):
    f = family
    for day in (TODAY + WEEK, TODAY - 4 * WEEK):  # next week; the week before the start
        assert _tick(f, browser, day).status_code == 302
    assert _ticked(f) == []
    page = browser(f.oma).get("/me/commitments").get_data(as_text=True)
    assert "This turn is still to come." in page or "not something to tick" in page
    # The clock moves on a week: next week's turn is today's, and can be ticked.
    later = TODAY + WEEK
    for where in ("needs", "plan_view", "plan.ticks"):
        monkeypatch.setattr(f"portal.services.{where}.today_in", lambda tz: later)
    assert _tick(f, browser, later).status_code == 302
    assert _ticked(f) == [later.isoformat()]


def test_my_commitments_offers_missed_turns_with_their_date(family, browser):
    f = family
    plan_svc.tick(f.circle, f.oma, f.football, (TODAY - WEEK).isoformat())
    _db.session.commit()
    page = browser(f.oma).get("/me/commitments").get_data(as_text=True)
    assert "Turns you missed" in page
    two, three = (TODAY - 2 * WEEK).isoformat(), (TODAY - 3 * WEEK).isoformat()
    assert f'data-occurrence="{two}"' in page and f'data-occurrence="{three}"' in page
    assert page.count('class="needs-item missed"') == 2  # not the ticked one, not today's
    resp = _tick(f, browser, TODAY - 3 * WEEK)
    assert resp.headers["Location"].endswith(f"/me/commitments#c{f.football.id}")
    assert _ticked(f) == sorted([three, (TODAY - WEEK).isoformat()])
    page = browser(f.oma).get("/me/commitments").get_data(as_text=True)
    assert f'data-occurrence="{three}"' not in page


def test_the_plan_does_not_offer_a_first_turn_still_to_come(make_circle, add_member, browser):
    circle, coord = make_circle("A new circle")
    oma = add_member(circle, name="Oma")
    later = _commitment(circle, coord, "Start next week", [oma], start=TODAY + WEEK)
    page = browser(oma).get(f"/c/{circle.id}/plan").get_data(as_text=True)
    card = re.search(rf'id="c{later.id}".*?</article>', page, re.S).group(0)
    assert "The first turn is on" in card
    assert f'value="{(TODAY + WEEK).isoformat()}"' not in card


# --- Queries: the same however much there is ---------------------------------------------


def _count(fn) -> int:
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)
    return len(statements)


def test_what_needs_you_costs_the_same_however_much_there_is(
    family, make_circle, add_member, browser
):
    f = family
    second, second_coord = make_circle("Second circle")  # "My circles" lists, not redirects
    add_member(second, name="Oma", user=f.oma.user)
    _poll(f.circle, f.sanne, [f.oma])  # one of each kind of thing, then many
    oma, user_id = browser(f.oma), f.oma.user_id
    oma.get("/circles")
    _db.session.expire_all()
    small = _count(lambda: needs_of(user_id))
    small_page = _count(lambda: oma.get("/circles"))
    # Much more of everything: more circles, commitments, turns, messages, proposals,
    # polls and meetings.
    for n in range(3):
        circle, coord = make_circle(f"Circle {n}")
        central = add_member(circle, role="central", name=f"Central {n}")
        mine = add_member(circle, name="Oma", user=f.oma.user)
        for k in range(8):
            _commitment(circle, coord, f"Task {n}.{k}", [mine], start=TODAY - 4 * WEEK)
        plan_svc.record_agreement(circle, coord, [central.id, mine.id])
        _db.session.commit()
        for k in range(3):
            plan_svc.propose(circle, central, "add_agreement", payload={"text": f"A{k}"})
            _poll(circle, central, [mine], title=f"Poll {k}")
        _poll(circle, central, [mine], title="Fixed", fixed=True)
        _say(circle, central, "Hello", n=5)
    _db.session.expire_all()
    assert len(needs_of(user_id)) == 5
    _db.session.expire_all()
    assert _count(lambda: needs_of(user_id)) == small
    assert _count(lambda: oma.get("/circles")) == small_page
    assert small <= 9
