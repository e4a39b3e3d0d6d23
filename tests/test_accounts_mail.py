"""Security: accounts and mail (issue 10, holes 6, 7 and 8).

6. Changing the email needs the current password; the new address counts only once
   the link sent to it is opened; the old address is told and stays in force.
7. "Forgot password" answers the same for every address, even with the mail server
   down, because mail is only queued in the request (``outbox_mail``) and sent later
   by ``send_pending``. Asking for a new link does not spend the earlier ones; using
   one spends them all.
8. Neither /account nor /join says that an address already has an account: they
   answer as if it worked, and that address gets a note instead. /join is limited per
   invitation.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from portal.extensions import db as _db
from portal.mail import send_pending
from portal.models import EmailChange, OutboxMail, ReentryToken, User
from portal.models.types import utcnow
from portal.services import accounts
from portal.services import circles as circle_svc
from tests.conftest import PASSWORD, csrf_from
from tests.live_server import free_port
from tests.test_security import reset_via_web, strip_csrf, token_of


def _queued(db, to: str | None = None) -> list[OutboxMail]:
    db.session.rollback()
    q = select(OutboxMail).order_by(OutboxMail.id)
    if to is not None:
        q = q.where(OutboxMail.to == to)
    return list(db.session.scalars(q))


def _link(body: str, prefix: str) -> str:
    return token_of(re.search(rf"http\S+{prefix}\S+", body).group(0), prefix)


def _forgot(browser, email: str):
    page = browser.get("/password/forgot")
    return browser.post("/password/forgot", data={"email": email, "csrf_token": csrf_from(page)})


def _smtp_down(app) -> None:
    """Point the mailer at a port where nothing listens."""
    app.config["MAIL_SERVER"] = "127.0.0.1"
    app.config["MAIL_PORT"] = free_port()


# --- 7. Forgot password -------------------------------------------------------------


def test_forgot_password_answers_the_same_with_the_mail_server_down(app, db, new_client, make_user):
    make_user(email="known@example.org")
    _smtp_down(app)
    known = _forgot(new_client(), "known@example.org")
    unknown = _forgot(new_client(), "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert strip_csrf(known.get_data(as_text=True)) == strip_csrf(unknown.get_data(as_text=True))
    # The same row for both: the request looks nothing up, the sender does.
    queued = _queued(db)
    assert [m.to for m in queued] == ["known@example.org", "nobody@example.org"]
    assert [(m.kind, m.body, m.sent_at) for m in queued] == [("password-reset", "", None)] * 2

    # The sender fails quietly, keeps the row pending with its error, and waits. The
    # unknown address gets nothing: its row is done.
    assert send_pending() == 0
    row, unknown_row = _queued(db)
    assert row.sent_at is None and row.attempts == 1
    assert "ConnectionRefused" in row.last_error
    assert row.next_try_at > utcnow()
    assert "/r/" in row.body and row.kind is None  # made once, sent as made on a retry
    assert unknown_row.sent_at is not None and unknown_row.last_error is None
    assert send_pending() == 0  # not yet due: no second try at once
    assert _queued(db)[0].attempts == 1

    # Once the server is back and the row is due, it goes out once and forgets the body.
    app.config["MAIL_SERVER"] = None
    db.session.execute(update(OutboxMail).values(next_try_at=utcnow()))
    db.session.commit()
    assert send_pending() == 1
    assert send_pending() == 0
    assert len(app.extensions["kring_outbox"]) == 1
    assert "/r/" in app.extensions["kring_outbox"][0].get_content()
    row = _queued(db)[0]
    assert row.sent_at is not None and row.body == ""


def test_a_failing_mail_stops_after_the_cap(app, db, new_client, make_user):
    make_user(email="known@example.org")
    _smtp_down(app)
    app.config["MAIL_MAX_ATTEMPTS"] = 3
    _forgot(new_client(), "known@example.org")
    for _ in range(5):
        db.session.execute(update(OutboxMail).values(next_try_at=None))
        db.session.commit()
        assert send_pending() == 0
    row = _queued(db)[0]
    assert row.attempts == 3 and row.sent_at is None


def test_asking_again_does_not_kill_the_earlier_link(app, db, new_client, make_user):
    """An attacker who asks for links for the victim's address must not spend the one
    the victim is about to use. Using any link spends them all."""
    user = make_user(email="victim@example.org")
    _forgot(new_client(), "victim@example.org")
    _forgot(new_client(), "victim@example.org")
    send_pending()
    first, second = (_link(m.get_content(), "/r/") for m in app.extensions["kring_outbox"])
    assert first != second
    assert accounts.find_reset_token(first) is not None
    assert accounts.find_reset_token(second) is not None

    assert reset_via_web(new_client(), first).status_code == 302
    assert accounts.find_reset_token(second) is None
    assert reset_via_web(new_client(), second).status_code == 404
    db.session.rollback()
    assert (
        db.session.scalar(
            select(ReentryToken).where(
                ReentryToken.user_id == user.id, ReentryToken.used_at.is_(None)
            )
        )
        is None
    )


def test_a_rolled_back_cause_queues_no_mail(app, db, make_user):
    make_user(email="known@example.org")
    with app.test_request_context():
        accounts.request_password_reset("known@example.org")
    db.session.rollback()
    assert _queued(db) == []
    assert send_pending() == 0


@pytest.mark.postgres_only
def test_concurrent_senders_send_each_mail_once(app, db, make_user):
    make_user(email="known@example.org")
    app.config["MAIL_PER_ADDRESS_PER_HOUR"] = 100  # thirty mails to one address here
    with app.test_request_context():
        for _ in range(30):
            accounts.request_password_reset("known@example.org")
    db.session.commit()
    sent: list = app.extensions["kring_outbox"]
    n = 8
    barrier = threading.Barrier(n)
    errors: list = []

    def run() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                send_pending()
                _db.session.remove()
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(sent) == 30  # each mail once: none twice, none lost
    links = {_link(m.get_content(), "/r/") for m in sent}
    assert len(links) == 30
    assert all(m.sent_at is not None for m in _queued(db))


# --- 6. Changing the email ------------------------------------------------------------


def _change_email(browser, new_email: str, password: str | None = PASSWORD):
    page = browser.get("/account")
    data = {"new_email": new_email, "csrf_token": csrf_from(page)}
    if password is not None:
        data["email_password"] = password
    return browser.post("/account/email", data=data)


def _confirm(browser, token: str):
    assert browser.get(f"/e/{token}").status_code == 302
    page = browser.get("/account/email/confirm")
    if page.status_code != 200:
        return page
    return browser.post("/account/email/confirm", data={"csrf_token": csrf_from(page)})


def test_the_account_form_no_longer_changes_the_email(app, db, client, login, make_user):
    """The attack: a minute at a signed-in browser, the email set to the attacker's."""
    user = make_user(email="owner@example.org")
    login(client, user)
    page = client.get("/account")
    resp = client.post(
        "/account",
        data={
            "name": "Owner",
            "email": "evil@example.org",
            "locale": "en",
            "timezone": "Europe/Amsterdam",
            "csrf_token": csrf_from(page),
        },
    )
    assert resp.status_code == 302
    db.session.refresh(user)
    assert user.email == "owner@example.org"
    assert user.name == "Owner"


def test_changing_the_email_needs_the_password(app, db, client, login, make_user):
    user = make_user(email="owner@example.org")
    login(client, user)
    for password in (None, "not the password"):
        resp = _change_email(client, "evil@example.org", password)
        assert resp.status_code == 200
        assert "evil@example.org" in resp.get_data(as_text=True)  # the form again
    db.session.refresh(user)
    assert user.email == "owner@example.org"
    assert _queued(db) == []
    assert db.session.scalar(select(EmailChange)) is None


def test_a_new_email_counts_only_once_confirmed(app, db, client, login, make_user, new_client):
    user = make_user(email="owner@example.org")
    login(client, user)
    resp = _change_email(client, "new@example.org")
    assert resp.status_code == 302
    db.session.refresh(user)
    assert user.email == "owner@example.org"  # still the old one
    assert "new@example.org" in client.get("/account").get_data(as_text=True)

    # Until confirmed, "forgot password" works only with the old address.
    _forgot(new_client(), "new@example.org")
    # The ask is queued as for any address; the sender finds no account with it.
    asked = _queued(db, "new@example.org")
    assert asked[0].subject.startswith("Please confirm")
    assert [m.kind for m in asked] == [None, "password-reset"]
    _forgot(new_client(), "owner@example.org")
    send_pending()
    by_to = {}
    for m in app.extensions["kring_outbox"]:
        by_to.setdefault(m["To"], []).append(m)
    assert len(by_to["new@example.org"]) == 1  # the confirmation only, no reset link
    confirm_token = _link(by_to["new@example.org"][0].get_content(), "/e/")
    old_mails = [m.get_content() for m in by_to["owner@example.org"]]
    notice = next(b for b in old_mails if "change your password" in b)
    assert "new@example.org" not in notice  # told, without revealing the new address
    assert any("/r/" in b for b in old_mails)

    # The link, opened in any browser, makes the new address count; it works once.
    assert _confirm(new_client(), confirm_token).status_code == 302
    db.session.refresh(user)
    assert user.email == "new@example.org"
    assert _confirm(new_client(), confirm_token).status_code == 404
    # The reset link that went to the old address died with it.
    old_reset = _link(next(b for b in old_mails if "/r/" in b), "/r/")
    assert accounts.find_reset_token(old_reset) is None


def test_an_expired_or_replaced_email_link_does_not_work(
    app, db, client, login, make_user, new_client
):
    user = make_user(email="owner@example.org")
    login(client, user)
    _change_email(client, "first@example.org")
    _change_email(client, "second@example.org")
    send_pending()
    links = {
        m["To"]: _link(m.get_content(), "/e/")
        for m in app.extensions["kring_outbox"]
        if "/e/" in m.get_content()
    }
    assert _confirm(new_client(), links["first@example.org"]).status_code == 404
    db.session.execute(update(EmailChange).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert _confirm(new_client(), links["second@example.org"]).status_code == 404
    db.session.refresh(user)
    assert user.email == "owner@example.org"


# --- 8. No enumeration ----------------------------------------------------------------


def _flashes(page) -> list[str]:
    return _flashes_of(page.get_data(as_text=True))


def _flashes_of(html: str) -> list[str]:
    return re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', html, re.S)


def _without(body: str, *words: str) -> str:
    body = strip_csrf(body)
    for w in words:
        body = body.replace(w, "<address>")
    return body


def test_account_does_not_say_an_address_is_taken(app, db, client, login, make_user):
    make_user(email="taken@example.org")
    me = make_user(email="me@example.org")
    login(client, me)
    taken = _change_email(client, "taken@example.org")
    taken_page = client.get("/account")
    free = _change_email(client, "free@example.org")
    free_page = client.get("/account")
    assert taken.status_code == free.status_code == 302
    assert "already" not in taken_page.get_data(as_text=True)
    # The same message, but for the address itself.
    taken_flash = _flashes(taken_page)
    assert taken_flash and "taken@example.org" in taken_flash[0]
    assert [_without(f, "taken@example.org") for f in taken_flash] == [
        _without(f, "free@example.org") for f in _flashes(free_page)
    ]
    # The owner of the taken address gets a note; nothing is attached to it.
    note = _queued(db, "taken@example.org")
    assert len(note) == 1 and "Someone tried" in note[0].subject
    assert "/e/" not in note[0].body
    assert (
        db.session.scalar(select(EmailChange).where(EmailChange.new_email == "taken@example.org"))
        is None
    )


def _join(browser, token: str, username: str, email: str):
    browser.get(f"/i/{token}")
    page = browser.get("/join")
    return browser.post(
        "/join",
        data={
            "display_name": "New person",
            "username": username,
            "password": "a long password",
            "confirm": "a long password",
            "email": email,
            "csrf_token": csrf_from(page),
        },
    )


def test_join_does_not_say_an_address_is_taken(app, db, make_circle, make_user, new_client):
    make_user(email="taken@example.org")
    circle, coord = make_circle()
    _i1, t1 = circle_svc.invite(circle, coord, name="A", role="member")
    _i2, t2 = circle_svc.invite(circle, coord, name="B", role="member")
    db.session.commit()
    a, b = new_client(), new_client()
    taken = _join(a, t1, "personaaa", "taken@example.org")
    free = _join(b, t2, "personbbb", "free@example.org")
    assert taken.status_code == free.status_code == 302
    assert taken.headers["Location"] == free.headers["Location"]
    taken_home = a.get(taken.headers["Location"]).get_data(as_text=True)
    free_home = b.get(free.headers["Location"]).get_data(as_text=True)
    assert "already" not in taken_home
    assert [_without(f, "taken@example.org") for f in _flashes_of(taken_home)] == [
        _without(f, "free@example.org") for f in _flashes_of(free_home)
    ]
    assert "taken@example.org" in taken_home and "free@example.org" in free_home

    users = {u.username: u for u in db.session.scalars(select(User))}
    # Neither address counts yet; the taken one is not attached to anyone new.
    assert users["personaaa"].email is None and users["personbbb"].email is None
    note = _queued(db, "taken@example.org")
    assert len(note) == 1 and "/e/" not in note[0].body
    confirm = _queued(db, "free@example.org")
    assert len(confirm) == 1
    token = _link(confirm[0].body, "/e/")
    assert _confirm(new_client(), token).status_code == 302
    db.session.refresh(users["personbbb"])
    assert users["personbbb"].email == "free@example.org"


def test_join_tries_are_limited_per_invitation(app, db, make_circle, make_user, new_client):
    """The join form tells whether a username is taken; one invitation, from however
    many addresses, must not become a way to list them all."""
    app.config["JOIN_RATE_LIMIT"] = "3 per hour"
    make_user(username="takenname")
    circle, coord = make_circle()
    _inv, token = circle_svc.invite(circle, coord, name="A", role="member")
    db.session.commit()
    statuses = []
    for i in range(4):
        b = new_client()
        b.environ_base["REMOTE_ADDR"] = f"10.0.0.{i + 1}"
        statuses.append(_join(b, token, "takenname", "").status_code)
    assert statuses == [200, 200, 200, 429]


def test_the_send_mail_command_sends_what_waits(app, db, new_client, make_user):
    make_user(email="known@example.org")
    _forgot(new_client(), "known@example.org")
    result = app.test_cli_runner().invoke(args=["kring", "send-mail"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 sent"
    assert [m["To"] for m in app.extensions["kring_outbox"]] == ["known@example.org"]
    assert app.test_cli_runner().invoke(args=["kring", "send-mail"]).output.strip() == "0 sent"
