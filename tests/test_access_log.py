"""Who from outside the family looked (issue 13): the access log and "who can see what".

A professional's look at a page is one row per person, page and day with a count,
written by one statement; nobody else's look writes anything. The family reads the
whole log, a professional only their own lines, and anyone outside the circle gets the
circle's 404, byte for byte. "Who can see what" is asked of the real rules: flipping a
setting or a rule changes the page.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from portal import access
from portal.models import Membership, Role
from portal.models.privacy import AccessLogEntry
from portal.models.types import utcnow
from portal.services import access_log
from portal.services import circles as circle_svc
from portal.services import meetings as meetings_svc
from portal.services import membership as membership_svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule, today_in
from portal.services.who_can_see import who_can_see
from tests import plan_data

PAGES_OF = {
    "plan": "/plan",
    "plan_print": "/plan/print",
    "plan_export": "/plan/export.json",
    "chat": "/chat",
}


@pytest.fixture
def family(db, make_circle, add_member):
    """Circle around Sam: Sanne (central), Ben (member), Piet (supporter), Ellen and
    Joost (professionals), a commitment and a meeting."""
    circle, coord = make_circle()
    f = type("Family", (), {})()
    f.circle, f.coord = circle, coord
    f.sanne = add_member(circle, Role.CENTRAL, name="Sanne")
    f.ben = add_member(circle, Role.MEMBER, name="Ben")
    f.piet = add_member(circle, Role.SUPPORTER, name="Piet")
    f.ellen = add_member(circle, Role.PROFESSIONAL, name="Ellen")
    f.joost = add_member(circle, Role.PROFESSIONAL, name="Joost")
    f.commitment = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Walk the dog",
            assignee_ids=[f.ben.id],
            schedule=Schedule(kind="once", start=date(2026, 12, 1)),
        ),
    )
    when = [datetime(2031, 6, 1, 17, tzinfo=UTC), datetime(2031, 6, 2, 17, tzinfo=UTC)]
    f.meeting = meetings_svc.propose_meeting(
        circle,
        f.sanne,
        meetings_svc.MeetingData(
            title="Check-in",
            purpose="Is the plan working?",
            place="At Gran's",
            video_link="",
            duration_minutes=60,
            options=when,
            invitee_ids=[f.sanne.id, f.ben.id],
        ),
    )
    circle.professionals_read_chat = True
    db.session.commit()
    return f


def _all_pages(f) -> dict[str, str]:
    base = f"/c/{f.circle.id}"
    return {
        **{page: base + path for page, path in PAGES_OF.items()},
        "meeting": f"{base}/meetings/{f.meeting.id}",
        "commitment_history": f"{base}/plan/commitments/{f.commitment.id}/history",
    }


def _rows(db, circle) -> list[tuple]:
    db.session.expire_all()
    return db.session.execute(
        select(
            AccessLogEntry.membership_id,
            AccessLogEntry.page,
            AccessLogEntry.day,
            AccessLogEntry.count,
        )
        .where(AccessLogEntry.circle_id == circle.id)
        .order_by(AccessLogEntry.membership_id, AccessLogEntry.page)
    ).all()


def _text(resp) -> str:
    return html.unescape(re.sub(r"\s+", " ", resp.get_data(as_text=True)))


def _log_lines(resp) -> list[str]:
    body = resp.get_data(as_text=True)
    items = re.findall(r'<li class="row"><div>(.*?)<span', body, re.S)
    return [html.unescape(" ".join(i.split())) for i in items]


# --- Recording ---------------------------------------------------------------------------


def test_a_professional_gets_one_row_per_page_and_day_with_a_count(db, family, login, client):
    f = family
    login(client, f.ellen.user)
    pages = _all_pages(f)
    for page, url in pages.items():
        for _ in range(3 if page == "plan" else 1):
            assert client.get(url).status_code == 200, url
    today = utcnow().date()
    expected = sorted((f.ellen.id, page, today, 3 if page == "plan" else 1) for page in pages)
    assert _rows(db, f.circle) == expected
    entry = db.session.scalars(select(AccessLogEntry).where(AccessLogEntry.page == "plan")).one()
    assert entry.first_at <= entry.last_at and entry.circle_id == f.circle.id


def test_the_next_utc_day_starts_a_new_row(db, family):
    f = family
    monday = datetime(2026, 12, 7, 23, 50, tzinfo=UTC)
    for when in (monday, monday + timedelta(minutes=5), monday + timedelta(minutes=15)):
        assert access_log.looked(f.ellen, "plan", now=when) is True
    db.session.commit()
    assert _rows(db, f.circle) == [
        (f.ellen.id, "plan", date(2026, 12, 7), 2),
        (f.ellen.id, "plan", date(2026, 12, 8), 1),
    ]
    entry = db.session.scalars(
        select(AccessLogEntry).where(AccessLogEntry.day == date(2026, 12, 7))
    ).one()
    assert entry.first_at == monday and entry.last_at == monday + timedelta(minutes=5)


def test_the_family_and_the_coordinator_record_nothing(db, family, login, new_client):
    f = family
    for who in (f.coord, f.sanne, f.ben, f.piet):
        browser = login(new_client(), who.user)
        for url in _all_pages(f).values():
            assert browser.get(url).status_code == 200, url
        if who.role in (Role.CENTRAL, Role.COORDINATOR):
            assert browser.get(f"/c/{f.circle.id}/people").status_code == 200
    assert _rows(db, f.circle) == []


def test_refused_pages_record_nothing(db, family, login, client):
    """A professional refused the chat (closed to them) or the people page (403) leaves
    no line: only what they saw is written down."""
    f = family
    f.circle.professionals_read_chat = False
    db.session.commit()
    login(client, f.ellen.user)
    assert client.get(f"/c/{f.circle.id}/chat").status_code == 403
    assert client.get(f"/c/{f.circle.id}/people").status_code == 403
    assert client.get(f"/c/{f.circle.id}/plan/commitments/999999/history").status_code == 404
    assert _rows(db, f.circle) == []


def test_ended_memberships_record_nothing(db, family):
    f = family
    membership_svc.remove_member(f.circle, f.sanne, f.ellen)
    db.session.commit()
    assert access_log.looked(f.ellen, "plan") is False
    assert _rows(db, f.circle) == []


# --- Statements --------------------------------------------------------------------------


def _statements(db, fn) -> list[str]:
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return seen


def _cost(db, browser, url) -> list[str]:
    def go():
        assert browser.get(url).status_code == 200, url

    go()  # warm: the first view may fill caches
    return _statements(db, go)


@pytest.mark.parametrize(
    "page", ["plan", "plan_print", "plan_export", "chat", "meeting", "commitment_history"]
)
def test_a_look_costs_one_statement_and_only_for_a_professional(
    db, family, login, new_client, monkeypatch, page
):
    """The same page, the same person, with the log and with ``looked`` doing nothing:
    a professional pays exactly one statement more (the upsert), a member none."""
    f = family
    url = _all_pages(f)[page]
    ellen, ben = login(new_client(), f.ellen.user), login(new_client(), f.ben.user)
    with_log = {who: _cost(db, b, url) for who, b in (("ellen", ellen), ("ben", ben))}
    monkeypatch.setattr(access_log, "looked", lambda m, page, now=None: False)
    without = {who: _cost(db, b, url) for who, b in (("ellen", ellen), ("ben", ben))}
    assert len(with_log["ben"]) == len(without["ben"]), page
    assert len(with_log["ellen"]) == len(without["ellen"]) + 1, page
    extra = [s for s in with_log["ellen"] if "access_log" in s]
    assert len(extra) == 1 and extra[0].lstrip().upper().startswith("INSERT"), extra
    assert "ON CONFLICT" in extra[0].upper()


def test_looked_sends_nothing_for_anyone_but_a_professional(db, family):
    f = family
    for who in (f.coord, f.sanne, f.ben, f.piet, f.ellen):
        db.session.refresh(who)  # loaded, as a view has it from access_circle
    for who in (f.coord, f.sanne, f.ben, f.piet):
        assert _statements(db, lambda m=who: access_log.looked(m, "plan")) == []
    assert len(_statements(db, lambda: access_log.looked(f.ellen, "plan"))) == 1


# --- Reading the log ---------------------------------------------------------------------


def _log(browser, circle, page=1):
    return browser.get(f"/c/{circle.id}/access-log?page={page}")


def test_the_family_reads_every_look_in_plain_words(db, family, login, new_client):
    f = family
    ellen, joost = login(new_client(), f.ellen.user), login(new_client(), f.joost.user)
    for _ in range(3):
        ellen.get(f"/c/{f.circle.id}/plan")
    joost.get(f"/c/{f.circle.id}/chat")
    day = today_in(f.circle.timezone).strftime("%-d %B %Y")
    for who in (f.sanne, f.ben, f.piet, f.coord):
        resp = _log(login(new_client(), who.user), f.circle)
        assert resp.status_code == 200
        lines = _log_lines(resp)
        assert f"Ellen (professional) looked at the plan 3 times on {day}." in lines, lines
        assert f"Joost (professional) looked at the chat once on {day}." in lines, lines
        main = resp.get_data(as_text=True).split("<main", 1)[1].split("</main>", 1)[0]
        assert "<form" not in main  # read-only: nothing to press


def test_a_professional_sees_only_their_own_looks(db, family, login, new_client):
    f = family
    ellen, joost = login(new_client(), f.ellen.user), login(new_client(), f.joost.user)
    ellen.get(f"/c/{f.circle.id}/plan")
    joost.get(f"/c/{f.circle.id}/chat")
    mine = _log_lines(_log(ellen, f.circle))
    assert len(mine) == 1 and mine[0].startswith("Ellen (professional) looked at the plan once")
    assert "Joost" not in _text(_log(ellen, f.circle))
    assert "Ellen" not in " ".join(_log_lines(_log(joost, f.circle)))


def test_an_erased_professional_shows_as_a_former_member(db, family, login, new_client):
    f = family
    login(new_client(), f.ellen.user).get(f"/c/{f.circle.id}/plan")
    f.ellen.stored_name = ""
    db.session.commit()
    lines = _log_lines(_log(login(new_client(), f.sanne.user), f.circle))
    assert lines and lines[0].startswith("a former member (professional) looked at the plan")
    assert "Ellen" not in " ".join(lines)


def test_the_log_is_paginated_newest_first(db, family, login, client, app):
    f = family
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    per_page = app.config["ITEMS_PER_PAGE"]
    for i in range(per_page + 3):
        access_log.looked(f.ellen, "plan", now=start + timedelta(days=i))
    db.session.commit()
    login(client, f.sanne.user)
    first, second = _log(client, f.circle), _log(client, f.circle, 2)
    assert len(_log_lines(first)) == per_page and len(_log_lines(second)) == 3
    newest = (start + timedelta(days=per_page + 2)).strftime("%-d %B %Y")
    assert newest in _log_lines(first)[0]
    assert "1 January 2026" in _log_lines(second)[-1]
    assert _log(client, f.circle, 99).status_code == 200  # past the end: an empty page


def test_the_date_is_the_readers_own(db, family, login, client):
    """Late in the evening in UTC is already the next day in the circle's zone."""
    f = family
    access_log.looked(f.ellen, "plan", now=datetime(2026, 12, 2, 23, 30, tzinfo=UTC))
    db.session.commit()
    login(client, f.sanne.user)
    assert "looked at the plan once on 3 December 2026." in _log_lines(_log(client, f.circle))[0]


def _missing(browser) -> bytes:
    return browser.get("/c/999999/access-log").get_data()


@pytest.mark.parametrize("path", ["access-log", "who-can-see"])
def test_outsiders_the_removed_and_the_handed_over_coordinator_get_the_404(
    db, family, login, new_client, make_circle, add_member, path
):
    f = family
    login(new_client(), f.ellen.user).get(f"/c/{f.circle.id}/plan")
    other, _c = make_circle("Another circle")
    outsider = add_member(other, Role.CENTRAL, name="Stranger")
    removed = f.ben
    membership_svc.remove_member(f.circle, f.sanne, removed)
    circle_svc.hand_over(f.circle, f.coord)
    db.session.commit()
    for who in (outsider, removed, f.coord):
        browser = login(new_client(), who.user)
        missing = browser.get(f"/c/999999/{path}")
        resp = browser.get(f"/c/{f.circle.id}/{path}")
        assert resp.status_code == 404 == missing.status_code, who.stored_name
        assert resp.get_data() == missing.get_data(), who.stored_name
        assert b"Ellen" not in resp.get_data()
    anonymous = new_client().get(f"/c/{f.circle.id}/{path}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_the_log_is_linked_from_the_people_page_and_home(db, family, login, client):
    f = family
    login(client, f.sanne.user)
    for url in (f"/c/{f.circle.id}/people", f"/c/{f.circle.id}"):
        body = client.get(url).get_data(as_text=True)
        assert f'href="/c/{f.circle.id}/access-log"' in body, url
        assert f'href="/c/{f.circle.id}/who-can-see"' in body, url


# --- Who can see what --------------------------------------------------------------------


def _section(resp, role: str) -> str:
    body = resp.get_data(as_text=True)
    m = re.search(rf'<section class="card role-rights" id="role-{role}".*?</section>', body, re.S)
    assert m, role
    return html.unescape(" ".join(m.group(0).split()))


def _can(section: str) -> str:
    m = re.search(r'<ul class="can">(.*?)</ul>', section)
    return m.group(1) if m else ""


def test_who_can_see_is_open_to_everyone_in_the_circle(db, family, login, new_client):
    f = family
    for who in (f.coord, f.sanne, f.ben, f.piet, f.ellen):
        resp = login(new_client(), who.user).get(f"/c/{f.circle.id}/who-can-see")
        assert resp.status_code == 200
        text = _text(resp)
        for role in ("Coordinator", "Central person", "Member", "Supporter", "Professional"):
            assert f">{role}" in text, role
        assert f'href="/c/{f.circle.id}/access-log"' in resp.get_data(as_text=True)


def test_who_can_see_follows_the_chat_setting(db, family, login, client):
    f = family
    login(client, f.ben.user)
    url = f"/c/{f.circle.id}/who-can-see"
    opened = client.get(url)
    assert "read and write in the chat" in _can(_section(opened, "professional"))
    assert "Professionals can read the chat" in _text(opened)
    circle_svc.set_professionals_read_chat(f.circle, f.sanne, False)
    db.session.commit()
    closed = client.get(url)
    assert "read and write in the chat" not in _can(_section(closed, "professional"))
    assert "Professionals cannot read the chat" in _text(closed)
    # The family's own rows did not move.
    assert _section(opened, "member") == _section(closed, "member")


def test_who_can_see_follows_the_rules_themselves(db, family, login, client, monkeypatch):
    """Change a rule in portal.access and the page says the new rule: nothing on it is
    written per role."""
    f = family
    login(client, f.ben.user)
    url = f"/c/{f.circle.id}/who-can-see"
    assert "say yes or no to changes" not in _can(_section(client.get(url), "professional"))
    monkeypatch.setattr(access, "can_vote", lambda m: m.is_active)
    assert "say yes or no to changes" in _can(_section(client.get(url), "professional"))
    monkeypatch.setattr(access, "can_vote", lambda m: False)
    assert "say yes or no to changes" not in _can(_section(client.get(url), "member"))


def test_who_can_see_matches_every_rule_for_every_role(db, family):
    """Each role's lines are exactly what the rules answer for a real member of it."""
    from portal.services.who_can_see import ABILITIES

    rights = who_can_see(family.circle)
    real = {
        Role.COORDINATOR: family.coord,
        Role.CENTRAL: family.sanne,
        Role.MEMBER: family.ben,
        Role.SUPPORTER: family.piet,
        Role.PROFESSIONAL: family.ellen,
    }
    assert [r.role for r in rights.roles] == list(real)
    for r in rights.roles:
        assert [str(x) for x in r.can] == [
            str(label) for label, rule in ABILITIES if rule(real[r.role])
        ]


def test_the_stand_ins_never_reach_the_database(db, family, login, client):
    f = family
    before = db.session.scalar(select(func.count(Membership.id)))
    login(client, f.ben.user)
    assert client.get(f"/c/{f.circle.id}/who-can-see").status_code == 200
    rights = who_can_see(f.circle)
    assert len(f.circle.memberships) == 6
    assert not [o for o in db.session.new if isinstance(o, Membership)]
    db.session.commit()
    assert db.session.scalar(select(func.count(Membership.id))) == before
    assert rights.people == 6


def test_who_can_see_after_the_handover_and_the_circles_settings(db, family, login, client):
    f = family
    f.ben.email_names = True
    f.circle.presence_enabled = True
    circle_svc.hand_over(f.circle, f.coord)
    db.session.commit()
    login(client, f.sanne.user)
    resp = client.get(f"/c/{f.circle.id}/who-can-see")
    assert 'id="role-coordinator"' not in resp.get_data(as_text=True)
    text = _text(resp)
    assert "Each person chooses" in text and "Now 1 of 5 people allow it." in text
    assert "The chat shows who is there right now." in text
    assert "Kring writes it down in the access log" in text
