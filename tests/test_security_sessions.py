"""Security: stolen session cookies, cookie flags, and who may open a socket.

The attacker copies a victim's session cookie (a shared computer, malware, a proxy
log) and replays it in a browser of their own after the victim signed out, changed
their password, or set a new one with a re-entry link.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

from portal import create_app
from portal.config import TestConfig
from portal.extensions import db as _db
from portal.extensions import socketio
from portal.models import LoginSession
from tests.conftest import ROOT, csrf_from
from tests.test_security import NEW_PASSWORD, reentry_via_web, reset_via_web

COOKIE = "kring_session"


def steal(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None, "not signed in"
    return cookie.value


def replay(new_client, value: str):
    """A fresh browser holding only the stolen cookie."""
    thief = new_client()
    thief.set_cookie(COOKIE, value)
    return thief


def assert_signed_in(browser, circle_id: int) -> None:
    assert browser.get(f"/c/{circle_id}").status_code == 200
    assert browser.get("/account").status_code == 200


def assert_anonymous(browser, circle_id: int) -> None:
    for path in ("/circles", "/account", f"/c/{circle_id}", f"/c/{circle_id}/history"):
        resp = browser.get(path)
        assert resp.status_code in (302, 404), (path, resp.status_code)
        if resp.status_code == 302:
            assert urlsplit(resp.headers["Location"]).path == "/login", path
        assert "Circle around Sam" not in resp.get_data(as_text=True)


def logout(client) -> None:
    page = client.get("/account")
    resp = client.post("/logout", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302


# --- 5. A copied cookie dies with the session -----------------------------------------


def test_cookie_copied_before_logout_is_rejected_after(
    client, db, make_circle, add_member, login, new_client
):
    circle, _coord = make_circle()
    member = add_member(circle, name="Jan")
    uid = member.user_id
    login(client, member.user)
    stolen = steal(client)
    assert_signed_in(replay(new_client, stolen), circle.id)  # the copy works... for now

    logout(client)
    assert_anonymous(replay(new_client, stolen), circle.id)
    assert_anonymous(client, circle.id)
    assert db.session.query(LoginSession).filter_by(user_id=uid).count() == 0


def test_cookie_copied_before_password_change_is_rejected_after(
    client, db, make_circle, add_member, login, new_client
):
    circle, _coord = make_circle()
    member = add_member(circle, name="Jan")
    user = member.user
    login(client, user)
    phone = login(new_client(), user)  # a second device, signed in too
    stolen = steal(client)
    assert_signed_in(replay(new_client, stolen), circle.id)

    page = client.get("/account")
    resp = client.post(
        "/account/password",
        data={
            "current": "correct horse battery",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 302
    assert_signed_in(client, circle.id)  # the browser that changed it stays in
    assert_anonymous(replay(new_client, stolen), circle.id)
    assert_anonymous(phone, circle.id)


def test_cookie_copied_before_reentry_reset_is_rejected_after(
    client, db, make_circle, add_member, login, new_client
):
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    member_id = member.id
    victim = login(new_client(), member.user)
    stolen = steal(victim)
    assert_signed_in(replay(new_client, stolen), circle.id)

    login(client, coord.user)
    token = reentry_via_web(client, circle.id, member_id)
    rightful = new_client()
    assert reset_via_web(rightful, token).status_code == 302
    assert_signed_in(rightful, circle.id)
    assert_anonymous(replay(new_client, stolen), circle.id)
    assert_anonymous(victim, circle.id)


def test_logout_needs_post(client, make_circle, add_member, login):
    """A link or image pointing at /logout (GET) does nothing."""
    circle, _coord = make_circle()
    member = add_member(circle, name="Jan")
    login(client, member.user)
    assert client.get("/logout").status_code == 405
    assert_signed_in(client, circle.id)


# --- 6. Cookie flags --------------------------------------------------------------------


def _set_cookie(resp, name: str) -> str:
    headers = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert headers, f"no {name} cookie set"
    return headers[-1]


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user, csrf):
    user = make_user()
    page = client.get("/login")
    resp = client.post(
        "/login",
        data={
            "login": user.username,
            "password": "correct horse battery",
            "csrf_token": csrf(page),
        },
    )
    assert resp.status_code == 302
    header = _set_cookie(resp, COOKIE)
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in header.split(";")[1:]}
    assert "httponly" in attrs
    assert attrs["samesite"].lower() == "samesite=lax"
    assert "secure" not in attrs  # plain http in tests: a Secure cookie would not come back
    lang = client.post(
        "/language", data={"language": "nl", "csrf_token": csrf(client.get("/account"))}
    )
    lang_header = _set_cookie(lang, "kring_lang")
    assert "HttpOnly" in lang_header and "SameSite=Lax" in lang_header


def test_session_cookie_is_secure_when_served_over_https(app, make_user):
    """Set with a config class (as a deployment or test would)..."""

    class HttpsConfig(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        SQLALCHEMY_ENGINE_OPTIONS = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
        PREFERRED_URL_SCHEME = "https"

    https_app = create_app(HttpsConfig)
    try:
        user = make_user()
        browser = https_app.test_client()
        page = browser.get("https://localhost/login")
        # Over https, flask-wtf also wants a same-origin Referer.
        same_origin = {"Referer": "https://localhost/login"}
        resp = browser.post(
            "https://localhost/login",
            headers=same_origin,
            data={
                "login": user.username,
                "password": "correct horse battery",
                "csrf_token": csrf_from(page),
            },
        )
        assert resp.status_code == 302
        assert "Secure" in _set_cookie(resp, COOKIE).split("; ")
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
        lang = browser.post(
            "https://localhost/language",
            headers=same_origin,
            data={
                "language": "nl",
                "csrf_token": csrf_from(browser.get("https://localhost/account")),
            },
        )
        assert "Secure" in _set_cookie(lang, "kring_lang").split("; ")
    finally:
        with https_app.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_session_cookie_secure_is_derived_from_the_environment():
    """... and through the environment, which ``Config`` reads once at import time."""
    env = {**os.environ, "PREFERRED_URL_SCHEME": "https", "SECRET_KEY": "x"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from portal.config import Config as C;"
            "print(C.SESSION_COOKIE_SECURE, C.REMEMBER_COOKIE_SECURE, C.SESSION_COOKIE_HTTPONLY,"
            " C.SESSION_COOKIE_SAMESITE)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["True", "True", "True", "Lax"]


# --- 10. Sockets ---------------------------------------------------------------------------


def _connect(app, browser=None, **kwargs):
    """Connect in a fresh application context, as a real server would: the test's own
    context would share ``g`` (Flask-Login's cached user) between connects."""
    with app.app_context():
        return socketio.test_client(app, flask_test_client=browser, **kwargs)


def _socket(app, browser, page_path: str = "/account", token: str | None = None):
    if token is None:
        token = csrf_from(browser.get(page_path))
    return _connect(app, browser, auth={"csrf": token})


def test_anonymous_socket_is_refused(app, client, make_circle):
    make_circle()
    token = csrf_from(client.get("/login"))  # a valid token for this anonymous session
    assert not _connect(app, client, auth={"csrf": token}).is_connected()
    assert not _connect(app, client).is_connected()
    assert not _connect(app).is_connected()  # no cookie at all


def test_signed_in_socket_connects_only_with_the_page_token(
    app, client, make_circle, add_member, login
):
    circle, _coord = make_circle()
    member = add_member(circle, name="Jan")
    login(client, member.user)
    sock = _socket(app, client)
    assert sock.is_connected()
    sock.disconnect()
    # A cross-site page can make the browser send the cookie, but cannot read the token.
    assert not _connect(app, client).is_connected()
    assert not _connect(app, client, auth={"csrf": "forged"}).is_connected()


def test_old_cookie_cannot_open_a_socket_after_logout(
    app, client, make_circle, add_member, login, new_client
):
    circle, _coord = make_circle()
    member = add_member(circle, name="Jan")
    login(client, member.user)
    token = csrf_from(client.get("/account"))
    stolen = steal(client)
    live = _socket(app, client, token=token)
    assert live.is_connected()
    before = _socket(app, replay(new_client, stolen), token=token)
    assert before.is_connected()  # the copy works while the session lives
    before.disconnect()

    logout(client)
    # The browser's own socket was closed by the logout...
    assert not live.is_connected()
    # ... and the copied cookie (with the token it carried) cannot open a new one.
    assert not _socket(app, replay(new_client, stolen), token=token).is_connected()


def test_password_change_closes_the_other_devices_sockets(
    app, client, make_circle, add_member, login, new_client
):
    circle, _coord = make_circle()
    member = add_member(circle, name="Jan")
    user = member.user
    login(client, user)
    phone = login(new_client(), user)
    phone_token = csrf_from(phone.get("/account"))
    phone_socket = _socket(app, phone, token=phone_token)
    assert phone_socket.is_connected()

    page = client.get("/account")
    assert (
        client.post(
            "/account/password",
            data={
                "current": "correct horse battery",
                "password": NEW_PASSWORD,
                "confirm": NEW_PASSWORD,
                "csrf_token": csrf_from(page),
            },
        ).status_code
        == 302
    )
    assert not phone_socket.is_connected()
    assert not _socket(app, phone, token=phone_token).is_connected()
    assert _socket(app, client).is_connected()  # the browser that changed it keeps going
