"""A person's language is their own: by default the one they joined in, never the
circle's. (Before, the account took the circle's language at joining, so a Dutch
browser saw a Dutch invitation page and English after joining an English circle.)"""

from __future__ import annotations

import re

from portal.models import User
from portal.services import circles as circle_svc
from tests.conftest import PASSWORD, csrf_from


def _lang(response) -> str:
    m = re.search(r'<html lang="([a-z]+)"', response.get_data(as_text=True))
    assert m, response.get_data(as_text=True)[:300]
    return m.group(1)


def _invite(db, circle, name="Mila"):
    _inv, token = circle_svc.invite(circle, None, name=name, role="member")
    db.session.commit()
    return token


def _join(client, token, username, headers=None):
    headers = headers or {}
    assert client.get(f"/i/{token}", headers=headers).status_code == 302
    page = client.get("/join", headers=headers)
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
        headers=headers,
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return page, resp.headers["Location"]


def test_dutch_browser_stays_dutch_after_joining_an_english_circle(client, db, make_circle):
    circle, _coord = make_circle()  # an English circle
    token = _invite(db, circle)
    dutch = {"Accept-Language": "nl-NL,nl;q=0.9"}
    page, home = _join(client, token, "mila", dutch)
    assert _lang(page) == "nl"
    user = db.session.scalar(db.select(User).where(User.username == "mila"))
    assert user.locale == "nl"
    # After joining, every page is Dutch: the account keeps the language it joined in,
    # even from a browser that now asks for English.
    for path in (home, f"/c/{circle.id}/chat", f"/c/{circle.id}/plan", "/circles"):
        for browser in (dutch, {"Accept-Language": "en"}):
            assert _lang(client.get(path, headers=browser, follow_redirects=True)) == "nl", path


def test_language_chosen_on_the_join_page_is_kept(client, db, make_circle):
    circle, _coord = make_circle()
    token = _invite(db, circle)
    client.get(f"/i/{token}")
    page = client.get("/join")
    client.post(
        "/language", data={"csrf_token": csrf_from(page), "language": "fr", "next": "/join"}
    )
    page, home = _join(client, token, "mila")
    assert _lang(page) == "fr"
    assert db.session.scalar(db.select(User.locale).where(User.username == "mila")) == "fr"
    assert _lang(client.get(home)) == "fr"


def test_french_circle_does_not_override_a_person_who_chose_english(
    client, new_client, db, make_circle, make_user, login
):
    circle, _coord = make_circle()
    circle.language = "fr"
    db.session.commit()
    # Joins with an English browser: English, not the circle's French.
    token = _invite(db, circle)
    _page, home = _join(client, token, "mila", {"Accept-Language": "en-GB,en;q=0.9"})
    assert db.session.scalar(db.select(User.locale).where(User.username == "mila")) == "en"
    assert _lang(client.get(home)) == "en"
    # An existing account that chose English accepts a French circle's invitation.
    ben = make_user("Ben")
    ben.locale = "en"
    db.session.commit()
    browser = login(new_client(), ben)
    token = _invite(db, circle, "Ben")
    browser.get(f"/i/{token}")
    page = browser.get("/join")
    resp = browser.post("/join", data={"csrf_token": csrf_from(page), "display_name": "Ben"})
    assert resp.status_code == 302
    assert db.session.get(User, ben.id).locale == "en"
    assert _lang(browser.get(resp.headers["Location"])) == "en"


def test_browser_without_a_language_we_speak_sees_the_circles_language(client, db, make_circle):
    circle, _coord = make_circle()
    circle.language = "nl"
    db.session.commit()
    token = _invite(db, circle)
    page, home = _join(client, token, "mila", {"Accept-Language": "de-DE,de;q=0.9"})
    assert _lang(page) == "nl"
    assert db.session.scalar(db.select(User.locale).where(User.username == "mila")) == "nl"
    assert _lang(client.get(home, headers={"Accept-Language": "de"})) == "nl"


def test_own_choice_on_the_account_page_wins_over_the_circle(client, db, make_circle, login):
    circle, _coord = make_circle()
    circle.language = "fr"
    db.session.commit()
    token = _invite(db, circle)
    _join(client, token, "mila", {"Accept-Language": "fr"})
    page = client.get("/account")
    resp = client.post(
        "/account",
        data={
            "csrf_token": csrf_from(page),
            "name": "Mila",
            "email": "",
            "locale": "nl",
            "timezone": "Europe/Amsterdam",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    assert _lang(client.get(f"/c/{circle.id}", headers={"Accept-Language": "fr"})) == "nl"
