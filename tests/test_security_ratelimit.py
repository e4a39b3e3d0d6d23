"""Security: bursts against sign-in and the secret-link routes get 429.

An attacker guessing passwords, invitation tokens or re-entry tokens has to go
through these routes. After the configured number of tries per minute the answer is
429, and the 429 does nothing: a correct password or a real token is not used.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select

from portal.models import LoginSession, Membership, User
from portal.services import accounts
from portal.services import circles as circle_svc
from tests.conftest import PASSWORD, csrf_from
from tests.test_security import password_ok


def _limit(app, key: str) -> int:
    return int(app.config[key].split()[0])


def test_login_burst_gets_429_even_with_the_right_password(app, client, db, make_user):
    user = make_user()
    uid, username = user.id, user.username
    assert app.config["LOGIN_RATE_LIMIT"] == "10 per minute"
    token = csrf_from(client.get("/login"))
    for i in range(_limit(app, "LOGIN_RATE_LIMIT")):
        resp = client.post(
            "/login", data={"login": username, "password": f"guess {i}", "csrf_token": token}
        )
        assert resp.status_code == 200  # the form again, with an error
    resp = client.post(
        "/login", data={"login": username, "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 429
    assert (
        db.session.scalar(
            select(func.count()).select_from(LoginSession).where(LoginSession.user_id == uid)
        )
        == 0
    )
    assert client.get("/account").status_code == 302  # not signed in
    # Pretending to come from elsewhere through a forwarding header does not help.
    for forged in ("10.0.0.1", "203.0.113.7, 10.0.0.2"):
        resp = client.post(
            "/login",
            headers={"X-Forwarded-For": forged, "X-Real-IP": forged},
            data={"login": username, "password": PASSWORD, "csrf_token": token},
        )
        assert resp.status_code == 429


def test_current_password_guessing_on_the_account_page_gets_429(
    app, client, db, make_circle, add_member, login
):
    circle, _coord = make_circle()
    member = add_member(circle, name="Jan")
    uid = member.user_id
    login(client, member.user)  # one POST /login used; the limit is per route
    token = csrf_from(client.get("/account"))
    for i in range(_limit(app, "LOGIN_RATE_LIMIT")):
        resp = client.post(
            "/account/password",
            data={
                "current": f"guess {i}",
                "password": "attacker password",
                "confirm": "attacker password",
                "csrf_token": token,
            },
        )
        assert resp.status_code == 400
    resp = client.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "password": "attacker password",
            "confirm": "attacker password",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 429
    assert password_ok(db, uid, PASSWORD)


def test_invitation_link_burst_gets_429(app, client, db, make_circle):
    circle, coord = make_circle()
    _inv, real = circle_svc.invite(circle, coord, name="Real", role="member")
    db.session.commit()
    for _ in range(_limit(app, "TOKEN_RATE_LIMIT")):
        resp = client.get(f"/i/{secrets.token_urlsafe(32)}")
        assert resp.status_code == 302
    resp = client.get(f"/i/{real}")
    assert resp.status_code == 429
    # The refused request did not put the real token in the session.
    assert client.get("/join").status_code == 404


def test_join_post_burst_gets_429(app, client, db, make_circle):
    circle, coord = make_circle()
    _inv, real = circle_svc.invite(circle, coord, name="Real", role="member")
    db.session.commit()
    client.get(f"/i/{real}")
    page = client.get("/join")
    assert page.status_code == 200
    token = csrf_from(page)
    for i in range(_limit(app, "TOKEN_RATE_LIMIT")):
        resp = client.post(
            "/join",
            data={
                "display_name": "X",
                "username": f"u{i}",
                "password": "short",
                "confirm": "short",
                "csrf_token": token,
            },
        )
        assert resp.status_code == 200  # the form again: password too short
    resp = client.post(
        "/join",
        data={
            "display_name": "Guest",
            "username": "realguest",
            "password": "a long password",
            "confirm": "a long password",
            "csrf_token": token,
        },
    )
    assert resp.status_code == 429
    assert db.session.scalar(select(User).where(User.username == "realguest")) is None
    assert (
        db.session.scalar(
            select(func.count()).select_from(Membership).where(Membership.circle_id == circle.id)
        )
        == 1
    )


def test_reset_link_burst_gets_429(app, client, db, make_user):
    user = make_user()
    real = accounts.issue_reset_token(user)
    db.session.commit()
    for _ in range(_limit(app, "TOKEN_RATE_LIMIT")):
        assert client.get(f"/r/{secrets.token_urlsafe(32)}").status_code == 302
    assert client.get(f"/r/{real}").status_code == 429
    assert client.get("/password/new").status_code == 404


def test_new_password_post_burst_gets_429(app, client, db, make_user):
    user = make_user()
    uid = user.id
    real = accounts.issue_reset_token(user)
    db.session.commit()
    client.get(f"/r/{real}")
    page = client.get("/password/new")
    assert page.status_code == 200
    token = csrf_from(page)
    for _ in range(_limit(app, "TOKEN_RATE_LIMIT")):
        resp = client.post(
            "/password/new", data={"password": "short", "confirm": "short", "csrf_token": token}
        )
        assert resp.status_code == 200
    resp = client.post(
        "/password/new",
        data={"password": "attacker password", "confirm": "attacker password", "csrf_token": token},
    )
    assert resp.status_code == 429
    assert password_ok(db, uid, PASSWORD)


def test_forgot_password_burst_gets_429(app, client, db, make_user):
    make_user(email="someone@example.org")
    token = csrf_from(client.get("/password/forgot"))
    outbox = app.extensions["kring_outbox"]
    for i in range(_limit(app, "TOKEN_RATE_LIMIT")):
        client.post(
            "/password/forgot", data={"email": f"nobody{i}@example.org", "csrf_token": token}
        )
    resp = client.post(
        "/password/forgot", data={"email": "someone@example.org", "csrf_token": token}
    )
    assert resp.status_code == 429
    assert outbox == []  # no mail-bombing


def test_sign_in_stays_limited_and_answers_while_the_shared_storage_is_away(app, db, make_user):
    """Redis (the limiter's shared storage in a region's setup) is down: sign-in must
    still answer (no 500) and still stop a burst of guesses, counted in memory."""
    import socket

    from portal import create_app
    from portal.config import TestConfig

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class RedisAway(TestConfig):
        SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
        RATELIMIT_STORAGE_URI = f"redis://127.0.0.1:{port}"

    user = make_user()
    username = user.username
    db.session.commit()
    away = create_app(RedisAway)
    away.test_client_class = app.test_client_class
    client = away.test_client()
    token = csrf_from(client.get("/login"))
    answers = [
        client.post(
            "/login", data={"login": username, "password": f"guess {i}", "csrf_token": token}
        ).status_code
        for i in range(_limit(away, "LOGIN_RATE_LIMIT") + 1)
    ]
    assert 500 not in answers, answers
    assert answers[:-1] == [200] * _limit(away, "LOGIN_RATE_LIMIT"), answers
    assert answers[-1] == 429
