"""Someone who is no longer in a circle is told so on their circles page, with the
title they knew and the day, instead of meeting a bare 404. Nothing else of the circle
shows, and every circle URL stays the same 404 as a circle that does not exist."""

from __future__ import annotations

import re

from babel.dates import format_date

from portal.access import ChatSeat
from portal.services import chat as chat_svc
from portal.services import circles as circle_svc
from portal.services import membership as membership_svc
from portal.services.schedule import today_in

CIRCLE_PAGES = ("", "/chat", "/plan", "/meetings", "/people", "/settings", "/history")


def _circles_page(client) -> str:
    resp = client.get("/circles")
    assert resp.status_code == 200, resp.headers.get("Location")
    return resp.get_data(as_text=True)


def _assert_closed(client, circle, *secrets: str) -> None:
    missing = client.get("/c/999999").get_data(as_text=True)
    for page in CIRCLE_PAGES:
        resp = client.get(f"/c/{circle.id}{page}")
        assert resp.status_code == 404, page
        assert resp.get_data(as_text=True) == missing, page
    page = _circles_page(client)
    assert f"/c/{circle.id}" not in page
    for secret in secrets:
        assert secret not in page


def _setup(db, make_circle, add_member):
    circle, coord = make_circle("Circle around Sam", question="What does Sam need now?")
    central = add_member(circle, "central", name="Sanne")
    member = add_member(circle, "member", name="Riet")
    chat_svc.send_message(ChatSeat.of(central), "clientid-0001", "Sam's school is Zonnebloem")
    db.session.commit()
    return circle, coord, central, member


def test_removed_member_is_told_and_kept_out(client, db, make_circle, add_member, login):
    circle, _coord, central, member = _setup(db, make_circle, add_member)
    membership_svc.remove_member(circle, central, member)
    db.session.commit()
    login(client, member.user)
    page = _circles_page(client)
    today = format_date(today_in("Europe/Amsterdam"), "d MMMM y", locale="en")
    assert "You are no longer in “Circle around Sam” (since " + today + ")." in page
    _assert_closed(client, circle, "Zonnebloem", "What does Sam need now?", "Sanne")


def test_member_who_left_is_told_and_kept_out(client, db, make_circle, add_member, login, csrf):
    circle, _coord, _central, member = _setup(db, make_circle, add_member)
    login(client, member.user)
    form = client.get(f"/c/{circle.id}/leave")
    resp = client.post(f"/c/{circle.id}/leave", data={"csrf_token": csrf(form)})
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "You are no longer in “Circle around Sam”" in page
    _assert_closed(client, circle, "Zonnebloem", "What does Sam need now?", "Sanne")


def test_coordinator_after_handover_is_told_and_kept_out(
    client, db, make_circle, add_member, login
):
    circle, coord, _central, _member = _setup(db, make_circle, add_member)
    circle_svc.hand_over(circle, coord)
    db.session.commit()
    login(client, coord.user)
    page = _circles_page(client)
    assert "You handed “Circle around Sam” over to the family on " in page
    assert "invite you again" not in page
    _assert_closed(client, circle, "Zonnebloem", "What does Sam need now?", "Sanne")


def test_a_new_title_after_leaving_is_not_shown(client, db, make_circle, add_member, login):
    circle, _coord, central, member = _setup(db, make_circle, add_member)
    membership_svc.remove_member(circle, central, member)
    db.session.commit()
    circle_svc.update_circle(
        circle, central, title="Sam's new start", question="", language="en", timezone="UTC"
    )
    db.session.commit()
    login(client, member.user)
    page = _circles_page(client)
    assert "Sam&#39;s new start" not in page and "Sam's new start" not in page
    assert "Circle around Sam" not in page
    assert re.search(r"You are no longer in a circle you were in \(since .+\)\.", page)


def test_one_circle_left_and_one_still_in_shows_both(client, db, make_circle, add_member, login):
    circle, _coord, central, member = _setup(db, make_circle, add_member)
    other, _ = make_circle("Circle around Lotte")
    add_member(other, "member", user=member.user)
    membership_svc.remove_member(circle, central, member)
    db.session.commit()
    login(client, member.user)
    page = _circles_page(client)  # no longer jumps straight into the one circle left
    assert f"/c/{other.id}" in page and "Circle around Lotte" in page
    assert "You are no longer in “Circle around Sam”" in page
