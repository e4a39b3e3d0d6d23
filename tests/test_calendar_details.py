"""The calendar entry helps, safely (issue 14).

"Add to my calendar" on a meeting gives two files: with the details (the meeting's
title, place, purpose and video link) and without (only "Kring meeting" and a link).
The personal feed page shows its secret link once, with a webcal:// subscribe link, a
text field to copy it from, and a QR code drawn on the server; nobody else's page, and
no cache, ever holds it. Set-up goes through the services; every check through the
pages and files a person (or an outsider) gets.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from html import unescape

import pytest
import segno
from icalendar import Calendar

from portal.extensions import db as _db
from portal.services import meetings as meet_svc
from portal.services import membership as membership_svc
from tests.conftest import csrf_from

TITLE = "Is the shopping plan working?"
PLACE = "At Oma's, Dorpsstraat 4"
PURPOSE = "We look at who does the shopping on Saturdays."
VIDEO = "https://video.example.org/kring-sam"


@pytest.fixture(autouse=True)
def _many_logins(app):
    """These tests sign in many people from one address; the login limit has its own tests."""
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"


def _html(resp) -> str:
    assert resp.status_code == 200, resp.status_code
    return resp.get_data(as_text=True)


def _fixed_meeting(circle, organiser, **overrides):
    data = dict(
        title=TITLE,
        purpose=PURPOSE,
        place=PLACE,
        video_link=VIDEO,
        duration_minutes=60,
        options=[
            meet_svc.local_to_utc(
                datetime.combine(date.today() + timedelta(days=d), time(19, 0)), circle.timezone
            )
            for d in (9, 10)
        ],
    )
    data.update(overrides)
    m = meet_svc.propose_meeting(circle, organiser, meet_svc.MeetingData(**data))
    meet_svc.fix_date(m, organiser, m.options[0].id)
    _db.session.commit()
    return m


def _event(raw: bytes):
    events = list(Calendar.from_ical(raw).walk("VEVENT"))
    assert len(events) == 1, raw
    return events[0]


@pytest.fixture
def circle_with_meeting(db, make_circle, add_member):
    circle, _coord = make_circle("Circle around Sam")
    sanne = add_member(circle, role="central", name="Sanne")
    jan = add_member(circle, name="Jan")
    meeting = _fixed_meeting(circle, sanne)
    return circle, sanne, jan, meeting


def test_the_meeting_offers_both_files_and_each_holds_what_it_says(
    circle_with_meeting, new_client, login
):
    circle, _sanne, jan, meeting = circle_with_meeting
    browser = login(new_client(), jan.user)
    base = f"/c/{circle.id}/meetings/{meeting.id}"
    page = unescape(_html(browser.get(base)))
    assert f'href="{base}/meeting-details.ics">Add to my calendar with the details</a>' in page
    assert f'href="{base}/meeting.ics">Add to my calendar without details</a>' in page
    assert "Without details, it only says “Kring meeting”." in page

    # With the details: the meeting's own title, place, purpose and video call.
    resp = browser.get(f"{base}/meeting-details.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    assert f'filename="kring-{meeting.id}-details.ics"' in resp.headers["Content-Disposition"]
    ev = _event(resp.data)
    assert str(ev["summary"]) == TITLE
    assert str(ev["location"]) == PLACE
    description = str(ev["description"])
    assert PURPOSE in description
    assert f"Video call: {VIDEO}" in description
    assert f"See it in Kring: http://localhost{base}" in description
    assert str(ev["url"]) == f"http://localhost{base}"

    # Without details: "Kring meeting" and the link, nothing about the family.
    resp = browser.get(f"{base}/meeting.ics")
    assert resp.status_code == 200 and resp.mimetype == "text/calendar"
    assert f'filename="kring-{meeting.id}.ics"' in resp.headers["Content-Disposition"]
    ev = _event(resp.data)
    assert str(ev["summary"]) == "Kring meeting"
    assert "location" not in ev
    assert str(ev["description"]) == f"http://localhost{base}"
    raw = resp.data.decode()
    for secret in ("shopping", "Dorpsstraat", "Saturdays", "video.example", "Circle around Sam"):
        assert secret not in raw, secret
    # Both files describe the same calendar entry: a calendar keeps one, not two.
    assert str(_event(resp.data)["uid"]) == str(
        _event(browser.get(f"{base}/meeting-details.ics").data)["uid"]
    )


def test_a_video_meeting_without_a_place_puts_the_call_in_the_location(
    db, make_circle, add_member, new_client, login
):
    circle, _ = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    meeting = _fixed_meeting(circle, sanne, place="", purpose="")
    browser = login(new_client(), sanne.user)
    ev = _event(browser.get(f"/c/{circle.id}/meetings/{meeting.id}/meeting-details.ics").data)
    assert str(ev["location"]) == VIDEO
    assert str(ev["description"]).startswith(f"Video call: {VIDEO}")


def test_outsiders_and_removed_members_get_neither_file(
    circle_with_meeting, make_circle, add_member, new_client, login
):
    circle, sanne, jan, meeting = circle_with_meeting
    other, _ = make_circle("Circle around Lotte")
    outsider = add_member(other, role="central", name="Boss")
    base = f"/c/{circle.id}/meetings/{meeting.id}"
    missing = f"/c/{circle.id}/meetings/{meeting.id + 999}"
    membership_svc.remove_member(circle, sanne, jan)
    _db.session.commit()
    for who in (outsider, jan):
        browser = login(new_client(), who.user)
        for name in ("meeting-details.ics", "meeting.ics"):
            resp = browser.get(f"{base}/{name}")
            gone = browser.get(f"{missing}/{name}")
            assert resp.status_code == gone.status_code == 404, (who.display_name, name)
            assert resp.data == gone.data
            assert b"shopping" not in resp.data
    # Signed out: off to the login page, nothing of the meeting.
    anon = new_client().get(f"{base}/meeting-details.ics")
    assert anon.status_code == 302 and "/login" in anon.headers["Location"]
    # A poll has no date yet, so no file of either kind.
    poll = meet_svc.propose_meeting(
        circle,
        sanne,
        meet_svc.MeetingData(
            title="Poll",
            purpose="",
            place="",
            video_link="",
            duration_minutes=60,
            options=[meeting.options[0].starts_at, meeting.options[1].starts_at],
        ),
    )
    _db.session.commit()
    browser = login(new_client(), sanne.user)
    assert browser.get(f"/c/{circle.id}/meetings/{poll.id}/meeting-details.ics").status_code == 404


# --- The feed page ---------------------------------------------------------------------


def _make_link(browser) -> tuple[str, str]:
    page = browser.get("/account/calendar")
    resp = browser.post(
        "/account/calendar", data={"action": "renew", "csrf_token": csrf_from(page)}
    )
    assert resp.headers["Cache-Control"] == "no-store"
    html = _html(resp)
    url = re.search(r'<input id="feed-url" type="text" readonly value="([^"]+)"', html).group(1)
    return url, html


def _svg(html: str) -> str:
    found = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert len(found) == 1, found
    return found[0]


def test_the_feed_page_offers_subscribe_copy_and_a_qr_code_and_is_never_cached(
    db, make_user, new_client, login
):
    anna = make_user("Anna")
    browser = login(new_client(), anna)
    first = browser.get("/account/calendar")
    assert first.headers["Cache-Control"] == "no-store"
    assert "<svg" not in _html(first)  # no link yet, so no code

    url, html = _make_link(browser)
    assert re.fullmatch(r"http://localhost/calendar/[A-Za-z0-9_-]{43}\.ics", url), url
    token = url.rsplit("/", 1)[1]
    # Subscribe: the same address as a webcal:// link, which calendar apps subscribe to.
    assert f'href="webcal://localhost/calendar/{token}"' in html
    # The plain field works without JavaScript; the copy button (hidden until the
    # script shows it) copies that field, and the script is a file of its own.
    assert '<label for="feed-url">Your calendar link</label>' in html
    assert re.search(
        r'<button type="button"[^>]*data-copy="feed-url"[^>]*hidden>Copy the link</button>', html
    )
    assert '<script src="/static/js/copy.js' in html and "<script>" not in html
    # The QR code is drawn on the server (no image request) and holds exactly this link:
    # encoding the link shown in the field gives the same code, and another link would not.
    svg = _svg(html)
    assert svg == segno.make(url, error="m").svg_inline(scale=5, dark="#1b1b1b", omitsize=True)
    other = url.replace(token, token[::-1])
    assert svg != segno.make(other, error="m").svg_inline(scale=5, dark="#1b1b1b", omitsize=True)
    assert (
        'role="img" aria-label="A code to scan with a phone camera. It opens your calendar link."'
        in html
    )
    # The feed itself works (a calendar app: no cookies).
    assert new_client().get(f"/calendar/{token}").status_code == 200

    # Shown once: the page again has neither the link nor its code, and is not cached.
    again = browser.get("/account/calendar")
    assert again.headers["Cache-Control"] == "no-store"
    later = _html(again)
    assert token not in later and "<svg" not in later and "webcal:" not in later


def test_nobody_else_gets_my_feed_page_or_link(db, make_circle, add_member, new_client, login):
    circle, _ = make_circle("Circle around Sam")
    anna = add_member(circle, role="central", name="Anna")
    other, _ = make_circle("Circle around Lotte")
    boss = add_member(other, role="central", name="Boss")
    anna_url, anna_page = _make_link(login(new_client(), anna.user))
    token = anna_url.rsplit("/", 1)[1].removesuffix(".ics")

    # Boss (another circle) opens the feed page: his own, with nothing of Anna's.
    bob = login(new_client(), boss.user)
    page = _html(bob.get("/account/calendar"))
    assert token not in page and "<svg" not in page
    bob_url, bob_page = _make_link(bob)
    assert bob_url != anna_url and token not in bob_page
    assert _svg(bob_page) != _svg(anna_page)
    # Anna still has a link (Boss's new one did not touch hers), still not shown.
    assert token not in _html(login(new_client(), anna.user).get("/account/calendar"))
    assert new_client().get(anna_url.removeprefix("http://localhost")).status_code == 200
    # Signed out: the login page, never a link or a code.
    anon = new_client().get("/account/calendar")
    assert anon.status_code == 302 and "/login" in anon.headers["Location"]


def test_a_professionals_download_of_the_details_is_in_the_access_log(
    circle_with_meeting, add_member, new_client, login
):
    """The details file holds what the meeting page shows, so the family sees a
    professional's download of it as a look at a meeting; the neutral file holds
    nothing about them and is not a look."""
    from sqlalchemy import select

    from portal.models.privacy import AccessLogEntry

    circle, _sanne, _jan, meeting = circle_with_meeting
    vos = add_member(circle, role="professional", name="Dr Vos")
    browser = login(new_client(), vos.user)
    base = f"/c/{circle.id}/meetings/{meeting.id}"

    def looks():
        return _db.session.execute(
            select(AccessLogEntry.page, AccessLogEntry.count).where(
                AccessLogEntry.membership_id == vos.id
            )
        ).all()

    assert browser.get(f"{base}/meeting.ics").status_code == 200
    assert looks() == []
    assert browser.get(f"{base}/meeting-details.ics").status_code == 200
    assert looks() == [("meeting", 1)]
