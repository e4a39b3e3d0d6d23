"""Security: secret links (invitations, re-entry / password reset) and stored passwords.

Every test plays the attacker: it guesses, replays, reads the database or the logs,
and asserts what the attacker gets (one refusal page, nothing changed).

The small helpers at the top are shared by the other ``test_security_*.py`` files.
"""

from __future__ import annotations

import hashlib
import html
import logging
import math
import re
import secrets
import string
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher, Type, extract_parameters
from sqlalchemy import func, inspect, select, text, update

from portal.mail import send_pending
from portal.models import Invitation, Membership, ReentryToken, Role, User
from portal.models.types import utcnow
from portal.services import ServiceError, accounts
from portal.services import circles as circle_svc
from tests.conftest import PASSWORD, csrf_from

URLSAFE = set(string.ascii_letters + string.digits + "-_")
NEW_PASSWORD = "a brand new password"


# --- Shared helpers ------------------------------------------------------------------


def card_link(resp) -> str:
    """The secret link printed on an invitation / re-entry card."""
    body = resp.get_data(as_text=True)
    m = re.search(r'readonly value="([^"]+)"', body)
    assert m, "no link on the card"
    return html.unescape(m.group(1))


def token_of(link: str, prefix: str) -> str:
    path = urlsplit(link).path
    assert path.startswith(prefix), link
    return path[len(prefix) :]


def invite_via_web(
    client, circle_id: int, name: str = "Oma Riet", role: str = "member", **extra
) -> str:
    """As a signed-in manager: make an invitation on the people page; return its token."""
    people = client.get(f"/c/{circle_id}/people")
    assert people.status_code == 200
    resp = client.post(
        f"/c/{circle_id}/invitations",
        data={"name": name, "role": role, "csrf_token": csrf_from(people), **extra},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return token_of(card_link(resp), "/i/")


def reentry_via_web(client, circle_id: int, member_id: int) -> str:
    """As a signed-in manager: make a "way back in" link for a member; return its token."""
    people = client.get(f"/c/{circle_id}/people")
    resp = client.post(
        f"/c/{circle_id}/members/{member_id}/reentry", data={"csrf_token": csrf_from(people)}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return token_of(card_link(resp), "/r/")


def join_via_web(
    client,
    token: str,
    username: str,
    display_name: str = "New person",
    password: str = "a long password",
):
    """Open an invitation link and make an account with it; return the last response."""
    opened = client.get(f"/i/{token}")
    assert opened.status_code == 302
    page = client.get("/join")
    if page.status_code != 200:
        return page
    return client.post(
        "/join",
        data={
            "display_name": display_name,
            "username": username,
            "password": password,
            "confirm": password,
            "csrf_token": csrf_from(page),
        },
    )


def reset_via_web(client, token: str, password: str = NEW_PASSWORD):
    """Open a re-entry / reset link and set a password with it; return the last response."""
    opened = client.get(f"/r/{token}")
    assert opened.status_code == 302
    page = client.get("/password/new")
    if page.status_code != 200:
        return page
    return client.post(
        "/password/new",
        data={"password": password, "confirm": password, "csrf_token": csrf_from(page)},
    )


def strip_csrf(body: str) -> str:
    """The page without its per-session CSRF tokens, so two pages can be compared."""
    return re.sub(r'<input[^>]*name="csrf_token"[^>]*>', "<csrf>", body)


def dump_db(db) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, as strings: to compare before/after, or to grep."""
    db.session.rollback()
    out = {}
    for table in sorted(inspect(db.engine).get_table_names()):
        rows = db.session.execute(text(f'SELECT * FROM "{table}"')).all()
        out[table] = sorted(tuple("" if v is None else str(v) for v in row) for row in rows)
    db.session.rollback()
    return out


def db_text(db) -> str:
    return "\n".join(
        f"{table}: {' | '.join(row)}" for table, rows in dump_db(db).items() for row in rows
    )


def password_ok(db, user_id: int, password: str) -> bool:
    db.session.rollback()
    return accounts.check_password(db.session.get(User, user_id), password)


# --- 1. Entropy ----------------------------------------------------------------------


def test_links_carry_at_least_128_random_bits(client, db, make_circle, add_member, login, app):
    """The attacker sees a printed link: the token in it is long, URL-safe, never repeats."""
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    login(client, coord.user)
    tokens = [invite_via_web(client, circle.id, name=f"Guest {i}") for i in range(5)]
    tokens += [reentry_via_web(client, circle.id, member.id) for _ in range(3)]
    for token in tokens:
        assert set(token) <= URLSAFE, token
        # base64url: 6 bits per character.
        assert len(token) * math.log2(len(URLSAFE)) >= 128, (token, len(token))
        assert len(token) >= 43  # secrets.token_urlsafe(32): 256 bits
    assert len(set(tokens)) == len(tokens)
    # No shared prefix that would hint at structure (a counter, a timestamp).
    assert len({t[:6] for t in tokens}) == len(tokens)


# --- 1. Stored only as a SHA-256 hash ---------------------------------------------------


def test_raw_tokens_appear_nowhere_in_the_database(
    client, db, make_circle, add_member, login, new_client, make_user, app
):
    """An attacker with a copy of the database finds only hashes, never a usable link."""
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    make_user("Mail user", username="mailuser", email="mail@example.org")
    login(client, coord.user)
    invite_tokens = [invite_via_web(client, circle.id, name=f"Guest {i}") for i in range(3)]
    reentry_token = reentry_via_web(client, circle.id, member.id)
    # A coordinator invitation made on the command line.
    _c, _m, cli_token = circle_svc.create_circle(title="From the CLI", language="en")
    db.session.commit()
    # A reset link sent by email.
    forgot = new_client()
    page = forgot.get("/password/forgot")
    forgot.post(
        "/password/forgot", data={"email": "mail@example.org", "csrf_token": csrf_from(page)}
    )
    send_pending()
    mail = app.extensions["kring_outbox"][-1].get_content()
    email_token = token_of(re.search(r"http\S+/r/\S+", mail).group(0), "/r/")

    all_tokens = [*invite_tokens, cli_token, reentry_token, email_token]
    snapshot = db_text(db)
    for token in all_tokens:
        assert token not in snapshot
    inv_hashes = set(db.session.scalars(select(Invitation.token_hash)))
    reentry_hashes = set(db.session.scalars(select(ReentryToken.token_hash)))
    for token in [*invite_tokens, cli_token]:
        assert hashlib.sha256(token.encode()).hexdigest() in inv_hashes
    for token in [reentry_token, email_token]:
        assert hashlib.sha256(token.encode()).hexdigest() in reentry_hashes

    # Still nowhere after the links were used (events, memberships, sessions...).
    assert join_via_web(new_client(), invite_tokens[0], "guestzero").status_code == 302
    assert reset_via_web(new_client(), reentry_token).status_code == 302
    assert reset_via_web(new_client(), email_token).status_code == 302
    snapshot = db_text(db)
    for token in all_tokens:
        assert token not in snapshot


# --- 1. Single use -------------------------------------------------------------------


def test_invitation_works_once(client, db, make_circle, login, new_client, make_user):
    circle, coord = make_circle()
    login(client, coord.user)
    token = invite_via_web(client, circle.id)

    first = new_client()
    assert join_via_web(first, token, "firstguest").status_code == 302
    users_before = db.session.scalar(select(func.count()).select_from(User))

    # A second person with the same link (forwarded, or read over a shoulder).
    second = new_client()
    resp = join_via_web(second, token, "secondguest")
    assert resp.status_code == 404
    assert "This invitation does not work" in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User)) == users_before
    assert db.session.scalar(select(User).where(User.username == "secondguest")) is None

    # An existing account tries it too (the accept path for signed-in people).
    other = make_user("Other")
    login(second, other)
    assert second.get(f"/i/{token}").status_code == 302
    assert second.get("/join").status_code == 404
    # And the service refuses it directly.
    with pytest.raises(ServiceError):
        circle_svc.redeem_invitation(token, other)
    db.session.rollback()
    members = db.session.scalars(select(Membership).where(Membership.circle_id == circle.id)).all()
    assert sorted(m.user.username for m in members) == sorted([coord.user.username, "firstguest"])


def test_reentry_link_works_once(client, db, make_circle, add_member, login, new_client):
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    uid = member.user_id
    login(client, coord.user)
    token = reentry_via_web(client, circle.id, member.id)

    # Someone opens the link and keeps the form open...
    early = new_client()
    assert early.get(f"/r/{token}").status_code == 302
    early_form = early.get("/password/new")
    assert early_form.status_code == 200

    # ... while the rightful person uses it.
    assert reset_via_web(new_client(), token, "the real new password").status_code == 302
    assert password_ok(db, uid, "the real new password")

    # Replay with a fresh browser: refused, and the password is not changed.
    resp = reset_via_web(new_client(), token, "attacker password")
    assert resp.status_code == 404
    # The stale form, submitted after the use: refused too.
    resp = early.post(
        "/password/new",
        data={
            "password": "attacker password",
            "confirm": "attacker password",
            "csrf_token": csrf_from(early_form),
        },
    )
    assert resp.status_code == 404
    assert password_ok(db, uid, "the real new password")
    assert not password_ok(db, uid, "attacker password")
    with pytest.raises(ServiceError):
        accounts.use_reset_token(token, "attacker password")
    db.session.rollback()
    assert password_ok(db, uid, "the real new password")


# --- 1. Expiry -----------------------------------------------------------------------


def test_expired_invitation_is_refused(client, db, make_circle, login, new_client, app):
    circle, coord = make_circle()
    login(client, coord.user)
    token = invite_via_web(client, circle.id)
    digest = hashlib.sha256(token.encode()).hexdigest()
    db.session.execute(
        update(Invitation)
        .where(Invitation.token_hash == digest)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert join_via_web(new_client(), token, "lateguest").status_code == 404

    # With the configured validity at zero days, a fresh link is already too old.
    app.config["INVITATION_VALID_DAYS"] = 0
    token = invite_via_web(client, circle.id, name="Zero")
    assert join_via_web(new_client(), token, "zeroguest").status_code == 404
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.username.in_(["lateguest", "zeroguest"]))
        )
        == 0
    )
    assert (
        db.session.scalar(
            select(func.count()).select_from(Membership).where(Membership.circle_id == circle.id)
        )
        == 1
    )


def test_expired_reentry_link_is_refused(
    client, db, make_circle, add_member, login, new_client, app
):
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    uid = member.user_id
    login(client, coord.user)
    token = reentry_via_web(client, circle.id, member.id)
    db.session.execute(
        update(ReentryToken)
        .where(ReentryToken.token_hash == hashlib.sha256(token.encode()).hexdigest())
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert reset_via_web(new_client(), token, "attacker password").status_code == 404

    app.config["REENTRY_VALID_HOURS"] = 0
    token = reentry_via_web(client, circle.id, member.id)
    assert reset_via_web(new_client(), token, "attacker password").status_code == 404
    assert password_ok(db, uid, PASSWORD)


# --- 1. Revocation -------------------------------------------------------------------


def test_revoked_and_replaced_invitations_are_refused(client, db, make_circle, login, new_client):
    circle, coord = make_circle()
    login(client, coord.user)
    revoked = invite_via_web(client, circle.id, name="Revoked")
    inv = db.session.scalar(select(Invitation).where(Invitation.name == "Revoked"))
    people = client.get(f"/c/{circle.id}/people")
    client.post(
        f"/c/{circle.id}/invitations/{inv.id}/revoke", data={"csrf_token": csrf_from(people)}
    )
    assert join_via_web(new_client(), revoked, "revokedguest").status_code == 404

    old = invite_via_web(client, circle.id, name="Reissued")
    inv = db.session.scalar(select(Invitation).where(Invitation.name == "Reissued"))
    people = client.get(f"/c/{circle.id}/people")
    card = client.post(
        f"/c/{circle.id}/invitations/{inv.id}/reissue", data={"csrf_token": csrf_from(people)}
    )
    new = token_of(card_link(card), "/i/")
    assert new != old
    assert join_via_web(new_client(), old, "oldlinkguest").status_code == 404
    assert join_via_web(new_client(), new, "newlinkguest").status_code == 302
    names = db.session.scalars(select(User.username)).all()
    assert "revokedguest" not in names and "oldlinkguest" not in names
    assert "newlinkguest" in names


def test_a_new_reentry_link_revokes_the_previous_one(
    client, db, make_circle, add_member, login, new_client
):
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    uid = member.user_id
    login(client, coord.user)
    old = reentry_via_web(client, circle.id, member.id)
    new = reentry_via_web(client, circle.id, member.id)
    assert reset_via_web(new_client(), old, "attacker password").status_code == 404
    assert password_ok(db, uid, PASSWORD)
    assert reset_via_web(new_client(), new, NEW_PASSWORD).status_code == 302
    assert password_ok(db, uid, NEW_PASSWORD)


# --- 1. One answer for every failure ------------------------------------------------------


def _refusal(client, opener: str, landing: str, token: str) -> tuple[int, str]:
    opened = client.get(f"{opener}{token}")
    assert opened.status_code == 302 and opened.headers["Location"] == landing
    resp = client.get(landing)
    return resp.status_code, strip_csrf(resp.get_data(as_text=True))


def test_bad_invitations_all_get_the_same_page(client, db, make_circle, login, new_client):
    """Invalid, expired, used, revoked and replaced links: an attacker probing tokens
    learns nothing about which ones ever existed."""
    circle, coord = make_circle()
    login(client, coord.user)
    expired = invite_via_web(client, circle.id, name="Expired")
    db.session.execute(
        update(Invitation)
        .where(Invitation.name == "Expired")
        .values(expires_at=utcnow() - timedelta(days=1))
    )
    db.session.commit()
    used = invite_via_web(client, circle.id, name="Used")
    assert join_via_web(new_client(), used, "usedguest").status_code == 302
    revoked = invite_via_web(client, circle.id, name="Revoked")
    inv = db.session.scalar(select(Invitation).where(Invitation.name == "Revoked"))
    page = client.get(f"/c/{circle.id}/people")
    client.post(f"/c/{circle.id}/invitations/{inv.id}/revoke", data={"csrf_token": csrf_from(page)})
    replaced = invite_via_web(client, circle.id, name="Replaced")
    inv = db.session.scalar(select(Invitation).where(Invitation.name == "Replaced"))
    page = client.get(f"/c/{circle.id}/people")
    client.post(
        f"/c/{circle.id}/invitations/{inv.id}/reissue", data={"csrf_token": csrf_from(page)}
    )

    cases = {
        "invalid": secrets.token_urlsafe(32),
        "garbage": "x",
        "expired": expired,
        "used": used,
        "revoked": revoked,
        "replaced": replaced,
    }
    answers = {name: _refusal(new_client(), "/i/", "/join", t) for name, t in cases.items()}
    assert {status for status, _ in answers.values()} == {404}
    assert len({body for _, body in answers.values()}) == 1, list(answers)
    assert "This invitation does not work" in answers["invalid"][1]

    # A join form opened while the link worked and posted after it was revoked.
    late = invite_via_web(client, circle.id, name="Late")
    browser = new_client()
    browser.get(f"/i/{late}")
    form = browser.get("/join")
    inv = db.session.scalar(select(Invitation).where(Invitation.name == "Late"))
    page = client.get(f"/c/{circle.id}/people")
    client.post(f"/c/{circle.id}/invitations/{inv.id}/revoke", data={"csrf_token": csrf_from(page)})
    data = {
        "display_name": "Late",
        "username": "lateguest",
        "password": "a long password",
        "confirm": "a long password",
    }
    resp = browser.post("/join", data={**data, "csrf_token": csrf_from(form)})
    # The same answer as a POST made with a token that never existed.
    prober = new_client()
    prober.get(f"/i/{secrets.token_urlsafe(32)}")
    probe = prober.post(
        "/join", data={**data, "username": "prober", "csrf_token": csrf_from(prober.get("/join"))}
    )
    assert probe.status_code == resp.status_code == 404
    assert strip_csrf(resp.get_data(as_text=True)) == strip_csrf(probe.get_data(as_text=True))
    assert db.session.scalar(select(User).where(User.username == "lateguest")) is None


def test_bad_reentry_links_all_get_the_same_page(
    client, db, make_circle, add_member, login, new_client
):
    circle, coord = make_circle()
    jan = add_member(circle, name="Jan")
    piet = add_member(circle, name="Piet")
    kees = add_member(circle, name="Kees")
    login(client, coord.user)
    expired = reentry_via_web(client, circle.id, jan.id)
    db.session.execute(
        update(ReentryToken)
        .where(ReentryToken.user_id == jan.user_id)
        .values(expires_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    used = reentry_via_web(client, circle.id, piet.id)
    assert reset_via_web(new_client(), used).status_code == 302
    superseded = reentry_via_web(client, circle.id, kees.id)
    reentry_via_web(client, circle.id, kees.id)

    cases = {
        "invalid": secrets.token_urlsafe(32),
        "garbage": "x",
        "expired": expired,
        "used": used,
        "superseded": superseded,
    }
    answers = {n: _refusal(new_client(), "/r/", "/password/new", t) for n, t in cases.items()}
    assert {status for status, _ in answers.values()} == {404}
    assert len({body for _, body in answers.values()}) == 1, list(answers)
    assert "This link does not work" in answers["invalid"][1]


# --- 3. Tokens leave the URL at once; no Referer; never in the logs ---------------------


def test_token_urls_redirect_away_and_nothing_sends_a_referer(
    client, db, make_circle, add_member, login, new_client
):
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    login(client, coord.user)
    token = invite_via_web(client, circle.id)
    reentry = reentry_via_web(client, circle.id, member.id)

    responses = []
    guest = new_client()
    opened = guest.get(f"/i/{token}")
    responses.append(opened)
    assert opened.status_code == 302
    assert opened.headers["Location"] == "/join"
    assert token not in opened.headers["Location"]
    page = guest.get("/join")
    responses.append(page)
    assert page.status_code == 200
    # The page the person lands on does not repeat the token (no link or form leaks it).
    assert token not in page.get_data(as_text=True)
    done = guest.post(
        "/join",
        data={
            "display_name": "Guest",
            "username": "refguest",
            "password": "a long password",
            "confirm": "a long password",
            "csrf_token": csrf_from(page),
        },
    )
    responses.append(done)
    assert done.status_code == 302 and token not in done.headers["Location"]
    responses.append(guest.get(done.headers["Location"]))

    browser = new_client()
    opened = browser.get(f"/r/{reentry}")
    responses.append(opened)
    assert opened.status_code == 302 and opened.headers["Location"] == "/password/new"
    page = browser.get("/password/new")
    responses.append(page)
    assert reentry not in page.get_data(as_text=True)
    done = browser.post(
        "/password/new",
        data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_from(page)},
    )
    responses.append(done)
    assert done.status_code == 302 and reentry not in done.headers["Location"]

    # Every other kind of response too: static files, errors, JSON, the card itself.
    responses += [
        client.get(f"/c/{circle.id}/people"),
        client.get("/static/css/kring.css"),
        client.get("/healthz"),
        client.get("/c/999999"),
        new_client().get(f"/i/{secrets.token_urlsafe(32)}"),
        new_client().get("/join"),
        new_client().post("/login", data={}),
    ]
    for resp in responses:
        assert resp.headers.get("Referrer-Policy") == "no-referrer", resp.request.path


def test_tokens_never_reach_the_logs(
    client, db, make_circle, add_member, login, new_client, make_user, app, caplog
):
    caplog.set_level(logging.DEBUG)
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    make_user("Mail user", username="mailuser", email="mail@example.org")
    login(client, coord.user)
    invite = invite_via_web(client, circle.id)
    reentry = reentry_via_web(client, circle.id, member.id)
    forgot = new_client()
    page = forgot.get("/password/forgot")
    forgot.post(
        "/password/forgot", data={"email": "mail@example.org", "csrf_token": csrf_from(page)}
    )
    send_pending()
    mail = app.extensions["kring_outbox"][-1].get_content()
    emailed = token_of(re.search(r"http\S+/r/\S+", mail).group(0), "/r/")

    assert join_via_web(new_client(), invite, "logguest").status_code == 302
    assert reset_via_web(new_client(), reentry).status_code == 302
    assert reset_via_web(new_client(), emailed, "another new password").status_code == 302
    # Replays and a refused CSRF attempt (which is logged) with a token in the session.
    assert join_via_web(new_client(), invite, "logguest2").status_code == 404
    assert reset_via_web(new_client(), reentry).status_code == 404
    b = new_client()
    b.get(f"/r/{reentry}")
    refused = b.post("/password/new", data={"password": "x" * 10, "confirm": "x" * 10})
    assert refused.status_code == 400

    assert caplog.records, "nothing was logged: the capture is not working"
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    for token in (invite, reentry, emailed):
        assert token not in logged


# --- 4. Passwords --------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_only(client, db, make_circle, login, new_client, app):
    circle, coord = make_circle()
    login(client, coord.user)
    token = invite_via_web(client, circle.id)
    chosen = "my secret joining password"
    assert join_via_web(new_client(), token, "hashguest", password=chosen).status_code == 302
    user = db.session.scalar(select(User).where(User.username == "hashguest"))
    uid = user.id

    # Change it on the account page, then reset it with a re-entry link.
    joined = new_client()
    page = joined.get("/login")
    joined.post(
        "/login", data={"login": "hashguest", "password": chosen, "csrf_token": csrf_from(page)}
    )
    account = joined.get("/account")
    changed = "my secret changed password"
    resp = joined.post(
        "/account/password",
        data={
            "current": chosen,
            "password": changed,
            "confirm": changed,
            "csrf_token": csrf_from(account),
        },
    )
    assert resp.status_code == 302
    member = db.session.scalar(select(Membership).where(Membership.user_id == uid))
    reset = "my secret reset password"
    assert (
        reset_via_web(
            new_client(), reentry_via_web(client, circle.id, member.id), reset
        ).status_code
        == 302
    )

    snapshot = db_text(db)
    for plain in (chosen, changed, reset, PASSWORD):
        assert plain not in snapshot
    for stored in db.session.scalars(select(User.password_hash)):
        assert stored.startswith("$argon2id$"), stored
        params = extract_parameters(stored)
        assert params.type is Type.ID
        assert params.memory_cost >= 8 * 1024  # memory-hard even with the test costs
    assert password_ok(db, uid, reset) and not password_ok(db, uid, changed)

    # Production settings (no test override): at least OWASP's minimum for argon2id.
    app.config.pop("PASSWORD_HASH_PARAMS")
    prod = accounts.hash_password("whatever it is")
    params = extract_parameters(prod)
    assert params.type is Type.ID and params.memory_cost >= 19 * 1024 and params.time_cost >= 2
    assert PasswordHasher().verify(prod, "whatever it is")


# --- Re-entry links may not reach into other circles -----------------------------------


def test_reentry_link_cannot_take_over_an_account_used_in_other_circles(
    client, db, make_circle, add_member, make_user, login
):
    """A central person of one circle makes a "way back in" link for someone who is also
    in other circles (a social worker; the coordinator): setting that account's password
    would open those other circles to them. Refused; for someone only in this circle it
    works."""
    circle_a, coord_a = make_circle("Circle A")
    circle_b, _coord_b = make_circle("Circle B")
    central = add_member(circle_a, Role.CENTRAL, name="Mother")
    worker = make_user("Social worker")
    worker_in_a = add_member(circle_a, Role.PROFESSIONAL, user=worker)
    add_member(circle_b, Role.PROFESSIONAL, user=worker)
    # The coordinator of A also coordinates B.
    coord_in_b = add_member(circle_b, Role.MEMBER, user=coord_a.user)
    only_a = add_member(circle_a, name="Only in A")
    ids = (circle_a.id, worker_in_a.id, coord_a.id, only_a.id, worker.id, coord_in_b.user_id)
    login(client, central.user)
    a_id, worker_mid, coord_mid, only_mid, worker_uid, coord_uid = ids

    for target in (worker_mid, coord_mid):
        page = client.get(f"/c/{a_id}/people")
        resp = client.post(
            f"/c/{a_id}/members/{target}/reentry", data={"csrf_token": csrf_from(page)}
        )
        assert resp.status_code in (302, 403)
        assert "/r/" not in resp.get_data(as_text=True)
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(ReentryToken)
            .where(ReentryToken.user_id.in_([worker_uid, coord_uid]))
        )
        == 0
    )
    # Someone who is only in this circle still gets their way back in.
    assert reentry_via_web(client, a_id, only_mid)
