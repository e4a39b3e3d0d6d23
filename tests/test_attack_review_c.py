# ruff: noqa: F811  (fixtures imported from other test modules, then used as arguments)
"""Review C: an attack on the finished notifications change (issue 12).

Each test performs one attack and asserts the SAFE behaviour: a failing test is a hole.
The push tests use the real test push service of tests/test_push.py (HTTPS on
127.0.0.1), so what the server posts, and where, is seen on the wire.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests
import requests.adapters
from sqlalchemy import func, select

from portal import push
from portal.models import PushSubscription, Role
from portal.services import notifications as news
from tests.conftest import PASSWORD, csrf_from
from tests.test_push import NOW, Browser, b64, certificate, service  # noqa: F401 (fixtures)
from tests.test_webapp import ANDROID_CHROME, _token

NEW_PASSWORD = "a brand new password 42"


def _devices(db, user_id: int | None = None) -> int:
    db.session.rollback()
    query = select(func.count()).select_from(PushSubscription)
    if user_id is not None:
        query = query.where(PushSubscription.user_id == user_id)
    return db.session.scalar(query)


def _add_device(browser, endpoint: str):
    keys = Browser.new()
    data = {
        "endpoint": endpoint,
        "p256dh": keys.p256dh,
        "auth": b64(keys.auth),
        "csrf_token": _token(browser),
    }
    return browser.post("/account/devices", data=data, headers={"User-Agent": ANDROID_CHROME})


def _news_for(db, make_circle, add_member, user):
    """Someone in a circle mentions ``user``: one unread line, fresh enough to push."""
    circle, _ = make_circle("Circle around Jip")
    me = add_member(circle, Role.MEMBER, user=user)
    other = add_member(circle, Role.CENTRAL, "Anna")
    news.notify([me], "mention", ref_id=1, actor=other, now=NOW - dt.timedelta(minutes=5))
    db.session.commit()
    return circle, me


# --- Push: the server must post to a push service and nowhere else ----------------------


@pytest.fixture
def wire(monkeypatch):
    """Where the push run really connects: every request ``requests`` would send, by its
    URL as urllib3 reads it, answered 201 without leaving the machine."""
    sent: list[str] = []

    def send(self, request, **kwargs):
        sent.append(request.url)
        answer = requests.Response()
        answer.status_code, answer.url, answer.request = 201, request.url, request
        return answer

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return sent


def test_a_backslash_in_the_push_address_does_not_send_the_server_inside(
    app, db, wire, make_user, make_circle, add_member, login, new_client
):
    """The address is checked with urllib.parse but sent with requests (urllib3), and
    the two read ``https://10.0.0.5\\.push.apple.com/x`` differently: for the first
    the host ends in ".push.apple.com" (allowed), for the second the host is 10.0.0.5.
    A signed-in person could make the push run post to any machine of the inside
    network (on port 443). Refused when added; and a device stored before (or under
    other PUSH_SERVICE_HOSTS) is not posted to, but forgotten."""
    app.config["PUSH_SERVICE_HOSTS"] = [".push.apple.com", "fcm.googleapis.com"]
    mallory = make_user("Mallory")
    browser = login(new_client(), mallory)
    inside = "https://10.0.0.5\\.push.apple.com/push/inside"
    assert _add_device(browser, inside).status_code == 400
    assert _devices(db) == 0
    _news_for(db, make_circle, add_member, mallory)
    keys = Browser.new()
    db.session.add(
        PushSubscription(
            user_id=mallory.id, endpoint=inside, p256dh=keys.p256dh, auth=b64(keys.auth)
        )
    )
    db.session.commit()
    push.run(NOW)
    assert [url for url in wire if "10.0.0.5" in url] == []
    assert _devices(db) == 0


def test_other_ways_of_hiding_a_host_in_the_push_address_are_refused(
    app, db, make_user, login, new_client
):
    app.config["PUSH_SERVICE_HOSTS"] = [".push.apple.com", "fcm.googleapis.com"]
    browser = login(new_client(), make_user("Mallory"))
    for endpoint in (
        "https://10.0.0.5\\.push.apple.com/x",
        "https://10.0.0.5:6379\\.push.apple.com:443/x",
        "https://10.0.0.5\t.push.apple.com/x",
        "https://10.0.0.5%5C.push.apple.com/x",
        "https://fcm.googleapis.com\\@10.0.0.5/x",
        "https://[::1]\\.push.apple.com/x",
        "https://web.push.apple.com /x",
    ):
        assert _add_device(browser, endpoint).status_code == 400, endpoint
    assert _devices(db) == 0
    assert _add_device(browser, "https://web.push.apple.com/QmFzZTY0").status_code == 201


# --- Push: a device outlives the session that added it -----------------------------------


def test_a_device_added_by_a_thief_stops_when_the_password_is_changed(
    app, db, service, make_user, make_circle, add_member, login, new_client
):
    """A thief with the password (or a stolen cookie) switches on push in their own
    browser. The owner notices and changes the password: every other session ends,
    the calendar links die. The thief's device must die too, or it keeps telling the
    thief each time the owner has news, for as long as the owner does not find it."""
    owner = make_user("Owner")
    thief = login(new_client(), owner)
    assert _add_device(thief, service.endpoint("thief")).status_code == 201
    mine = login(new_client(), owner)
    page = mine.get("/account")
    resp = mine.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 302
    assert _devices(db, owner.id) == 0
    _news_for(db, make_circle, add_member, owner)
    push.run(NOW)
    assert service.to("thief") == []


# --- News: the line must name the person it is about -----------------------------------


def test_news_of_a_removal_names_who_was_removed_not_who_removed_them(
    db, make_circle, add_member, login, new_client
):
    """Sanne (central) removes Nina. Oma's news must say Nina is no longer in the circle;
    it said "Sanne is no longer in ...": the line's actor was the remover, and the page
    names the actor. Sanne herself hears nothing of what she did."""
    circle, _ = make_circle("Circle around Jip")
    sanne = add_member(circle, Role.CENTRAL, "Sanne")
    oma = add_member(circle, Role.MEMBER, "Oma")
    nina = add_member(circle, Role.MEMBER, "Nina")
    sanne_browser = login(new_client(), sanne.user)
    people = sanne_browser.get(f"/c/{circle.id}/people")
    resp = sanne_browser.post(
        f"/c/{circle.id}/members/{nina.id}/remove", data={"csrf_token": csrf_from(people)}
    )
    assert resp.status_code == 302
    page = login(new_client(), oma.user).get("/notifications").get_data(as_text=True)
    assert "Nina is no longer in Circle around Jip" in page
    assert "Sanne is no longer in" not in page
    mine = sanne_browser.get("/notifications").get_data(as_text=True)
    assert "no longer in Circle around Jip" not in mine


# --- One-click unsubscribe: what held ----------------------------------------------------


def test_an_unsubscribe_link_stops_only_its_own_person_and_kind(
    app, db, make_user, login, new_client
):
    """Anna's link, posted from Bob's signed-in browser (a third-party page making Bob's
    browser post it, cookie and all), stops Anna's digest only: the session plays no
    part. Her token turned into Bob's, or into another kind, is a 404. GET changes
    nothing and sets no cookie."""
    from portal.services.unsubscribe import make_token

    anna, bob = make_user("Anna"), make_user("Bob")
    token = make_token(anna.id, "digest")
    bob_browser = login(new_client(), bob)
    fresh = new_client()
    confirm = fresh.get(f"/email/stop/{token}")
    assert confirm.status_code == 200 and "Set-Cookie" not in confirm.headers
    db.session.refresh(anna)
    assert anna.digest_period != "off"
    assert bob_browser.post(f"/email/stop/{token}").status_code == 200
    db.session.refresh(anna)
    db.session.refresh(bob)
    assert (anna.digest_period, bob.digest_period) == ("off", "daily")
    payload, sig = token.split(".")
    bobs = make_token(bob.id, "digest").split(".")[0]
    for forged in (f"{bobs}.{sig}", f"{payload}.{sig[:-2]}AA", token + "x"):
        assert new_client().post(f"/email/stop/{forged}").status_code == 404
    db.session.refresh(bob)
    assert bob.digest_period == "daily"
