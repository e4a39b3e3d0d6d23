# ruff: noqa: F811  (fixtures imported from other test modules, then used as arguments)
"""Review A of issue 10: the finished change attacked as an insider would.

Each test performs one attack and asserts the SAFE behaviour: a failing test is a hole.
Focus: the life of tokens and roles (links, way-back-in links, email links, calendar
feeds; the coordinator after the handover, removed members, professionals with the
chat closed, members of another circle) and consent at meetings.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.extensions import db as _db
from portal.mail import send_pending
from portal.models import Condition, Proposal, ProposalStatus, Role
from portal.services import accounts
from portal.services import circles as circle_svc
from portal.services import plan as plan_svc
from tests.conftest import PASSWORD, csrf_from
from tests.test_accounts_mail import _change_email, _confirm
from tests.test_meetings_rules import (  # noqa: F401
    _agreed_plan,
    _fixed,
    _held,
    _new_commitment_payload,
    _plan_answer,
    _propose,
    _review_data,
    _url,
    as_,
    make_kring,
)
from tests.test_meetings_rules import _post as _mpost
from tests.test_plan_rules import _many_logins, _post, browser, family, make_family  # noqa: F401
from tests.test_security import NEW_PASSWORD, card_link, reentry_via_web, reset_via_web, token_of
from tests.test_token_life import accept_with_own_account, active_in, hand_over_via_web


@pytest.fixture(autouse=True)
def _lenient_limits(app):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    app.config["TOKEN_RATE_LIMIT"] = "1000 per minute"


def _mail_link(app, to: str, prefix: str) -> str:
    send_pending()
    for m in app.extensions["kring_outbox"]:
        if m["To"] == to and prefix in m.get_content():
            return token_of(re.search(rf"http\S+{prefix}\S+", m.get_content()).group(0), prefix)
    raise AssertionError(f"no {prefix} mail to {to}")


def _change_password(client, new: str = NEW_PASSWORD):
    page = client.get("/account")
    return client.post(
        "/account/password",
        data={"current": PASSWORD, "password": new, "confirm": new, "csrf_token": csrf_from(page)},
    )


# --- Email links and password changes ----------------------------------------------


def test_pending_email_change_dies_when_the_owner_changes_the_password(
    app, db, client, login, make_user, new_client
):
    """A thief who knows the password asks to move the email to theirs. The owner gets
    "If this was not you, please change your password now", and does so. The thief's
    confirmation link must die with the password; else the thief confirms it and then
    takes the account over with "forgot password" to the new address."""
    user = make_user(email="owner@example.org")
    thief = login(new_client(), user)
    assert _change_email(thief, "thief@example.org").status_code == 302
    link = _mail_link(app, "thief@example.org", "/e/")

    login(client, user)
    assert _change_password(client).status_code == 302  # the owner reacts to the notice

    _confirm(new_client(), link)
    db.session.rollback()
    db.session.refresh(user)
    assert user.email == "owner@example.org"


def test_pending_email_change_dies_when_the_password_is_reset(
    app, db, make_user, new_client, login
):
    """Same attack, the owner answering with "forgot password" instead."""
    user = make_user(email="owner@example.org")
    thief = login(new_client(), user)
    assert _change_email(thief, "thief@example.org").status_code == 302
    owner = new_client()
    owner.post(
        "/password/forgot",
        data={"email": "owner@example.org", "csrf_token": csrf_from(owner.get("/password/forgot"))},
    )
    reset = _mail_link(app, "owner@example.org", "/r/")
    assert reset_via_web(owner, reset).status_code == 302
    confirm = _mail_link(app, "thief@example.org", "/e/")
    _confirm(new_client(), confirm)
    db.session.rollback()
    db.session.refresh(user)
    assert user.email == "owner@example.org"


# --- Calendar feed tokens ------------------------------------------------------------


def test_calendar_feed_made_by_an_intruder_dies_with_the_password(
    db, client, login, make_circle, add_member, new_client
):
    """A minute at a signed-in browser (the threat of hole 6): the intruder makes a
    calendar feed with circle titles on. The owner changes the password; the feed must
    stop too, or the intruder keeps reading when and where every circle meets, and it
    follows the owner into every circle they join later."""
    circle, coord = make_circle("Circle around Sam")
    sanne = add_member(circle, Role.CENTRAL, name="Sanne")
    intruder = login(new_client(), sanne.user)
    page = intruder.get("/account/calendar")
    resp = intruder.post(
        "/account/calendar",
        data={"action": "renew", "show_titles": "y", "csrf_token": csrf_from(page)},
    )
    url = re.search(r"/calendar/[A-Za-z0-9_\-]+\.ics", resp.get_data(as_text=True)).group(0)
    assert new_client().get(url).status_code == 200

    login(client, sanne.user)
    assert _change_password(client).status_code == 302
    assert new_client().get(url).status_code == 404


# --- Way back in: what the link leaves behind ------------------------------------------


def test_a_way_back_in_used_by_its_maker_gives_no_reach_into_a_later_circle(
    db, client, new_client, login, make_circle, add_member, make_user
):
    """The rule behind a circle-made link is "the person reaches no further than this
    circle". Sanne (central) uses the way back in she made for Anna herself: her
    browser is now signed in as Anna, and she knows the password she chose. Later Anna
    is invited into circle 2. Safe: an account whose password was set through a
    circle's link joins no other circle until the person chooses their own password,
    which signs Sanne's browser out; only then does Anna join, and Sanne never reads
    circle 2."""
    c1, coord1 = make_circle("Circle one")
    sanne = add_member(c1, Role.CENTRAL, name="Sanne")
    anna = add_member(c1, name="Anna")
    login(client, sanne.user)
    token = reentry_via_web(client, c1.id, anna.id)

    sanne_as_anna = new_client()
    assert reset_via_web(sanne_as_anna, token).status_code == 302
    assert sanne_as_anna.get(f"/c/{c1.id}").status_code == 200  # signed in as Anna
    anna_user = db.session.get(type(anna.user), anna.user_id)
    assert anna_user.password_set_in_circle_id == c1.id

    # Anna herself, with the password Sanne told her, gets an invitation to circle 2.
    c2, coord2 = make_circle("Circle two")
    invite = token_of(card_link(_post_invitation(login(new_client(), coord2.user), c2.id)), "/i/")
    anna_browser = login(new_client(), anna_user, NEW_PASSWORD)
    refused = accept_with_own_account(anna_browser, invite)
    assert refused.status_code == 302
    page = anna_browser.get(refused.headers["Location"], follow_redirects=True)
    assert "Please choose your own password first" in page.get_data(as_text=True)
    db.session.rollback()
    assert not active_in(db, anna.user_id, c2.id)
    assert circle_svc.find_invitation(invite) is not None  # not spent: she can come back
    assert sanne_as_anna.get(f"/c/{c2.id}").status_code in (302, 404)
    # Nor by the join form with a fresh CSRF token, nor through the service directly.
    assert anna_browser.get("/join").status_code == 200  # kept in her session
    with pytest.raises(circle_svc.ServiceError):
        circle_svc.redeem_invitation(invite, anna_user)
    db.session.rollback()

    # Anna chooses her own password: the mark goes, and so does Sanne's session.
    page = anna_browser.get("/account")
    assert (
        anna_browser.post(
            "/account/password",
            data={
                "current": NEW_PASSWORD,
                "password": "anna's very own",
                "confirm": "anna's very own",
                "csrf_token": csrf_from(page),
            },
        ).status_code
        == 302
    )
    db.session.rollback()
    assert db.session.get(type(anna_user), anna.user_id).password_set_in_circle_id is None
    assert sanne_as_anna.get(f"/c/{c1.id}").status_code in (302, 404)

    # Now the invitation kept in her session works.
    page = anna_browser.get("/join")
    assert page.status_code == 200
    assert (
        anna_browser.post(
            "/join", data={"display_name": "Anna", "csrf_token": csrf_from(page)}
        ).status_code
        == 302
    )
    db.session.rollback()
    assert active_in(db, anna.user_id, c2.id)
    assert sanne_as_anna.get(f"/c/{c2.id}").status_code in (302, 404)


def _post_invitation(client, circle_id: int, name: str = "Anna"):
    people = client.get(f"/c/{circle_id}/people")
    return client.post(
        f"/c/{circle_id}/invitations",
        data={"name": name, "role": "member", "csrf_token": csrf_from(people)},
    )


def test_coordinator_way_back_in_link_dies_at_the_handover(
    db, client, new_client, login, make_circle, add_member
):
    circle, coord = make_circle()
    add_member(circle, Role.CENTRAL, name="Sanne")
    anna = add_member(circle, name="Anna")
    login(client, coord.user)
    token = reentry_via_web(client, circle.id, anna.id)
    hand_over_via_web(client, circle.id)
    resp = reset_via_web(new_client(), token)
    assert resp.status_code == 404
    assert accounts.find_user_for_login(anna.user.username, PASSWORD) is not None


def test_an_invitation_opened_before_sign_in_is_checked_again_after_revocation(
    db, client, new_client, login, make_circle, add_member, make_user
):
    """The link is kept in the session across sign-in; revoked meanwhile, it must not
    work when the signed-in person accepts it."""
    circle, coord = make_circle()
    sanne = add_member(circle, Role.CENTRAL, name="Sanne")
    login(client, sanne.user)
    people = client.get(f"/c/{circle.id}/people")
    resp = client.post(
        f"/c/{circle.id}/invitations",
        data={"name": "Bob", "role": "member", "csrf_token": csrf_from(people)},
    )
    token = token_of(card_link(resp), "/i/")
    bob = make_user("Bob")
    b = new_client()
    assert b.get(f"/i/{token}").status_code == 302
    assert b.get("/join").status_code == 200
    inv = circle_svc.find_invitation(token)
    circle_svc.revoke_invitation(inv, sanne)
    db.session.commit()
    login(b, bob)
    page = b.get("/join")
    assert page.status_code == 404
    assert not active_in(db, bob.id, circle.id)
    # Nor by posting the accept form straight away (a CSRF token of the session).
    b.get(f"/i/{token}")
    b.post("/join", data={"display_name": "Bob", "csrf_token": csrf_from(b.get("/account"))})
    assert not active_in(db, bob.id, circle.id)


def test_removed_member_cannot_come_back_with_an_invitation_opened_before(
    db, client, new_client, login, make_circle, add_member
):
    circle, coord = make_circle()
    sanne = add_member(circle, Role.CENTRAL, name="Sanne")
    anna = add_member(circle, name="Anna")
    login(client, sanne.user)
    people = client.get(f"/c/{circle.id}/people")
    resp = client.post(
        f"/c/{circle.id}/invitations",
        data={"name": "Anna bis", "role": "central", "csrf_token": csrf_from(people)},
    )
    token = token_of(card_link(resp), "/i/")
    anna_browser = login(new_client(), anna.user)
    anna_browser.get(f"/i/{token}")  # opened, kept in her session
    _post(client, f"/c/{circle.id}/members/{anna.id}/remove")
    db.session.rollback()
    assert not active_in(db, anna.user_id, circle.id)
    accept_with_own_account(anna_browser, token)
    assert not active_in(db, anna.user_id, circle.id)


# --- Conditions: who may take them away --------------------------------------------------


def test_family_cannot_remove_a_condition_through_a_replacement_it_names(
    family, browser, make_user
):
    """Conditions are the professionals': not the family's to remove (hole 12). But the
    central person named the "replacement" on the invitation. Sanne invites her own
    second account as a professional who "takes over from" Dr Vos (still active) and
    removes his condition. Safe: the invitation names nobody (the field is ignored),
    and only Dr Vos himself can name who takes over from him."""
    f = family
    k = plan_svc.add_condition(f.circle, f.prof, "Sam sleeps at home on school nights")
    _db.session.commit()
    resp = _post(
        browser(f.sanne),
        f"/c/{f.circle.id}/invitations",
        {"name": "Mr Fake", "role": "professional", "email": "", "replaces": str(f.prof.id)},
    )
    assert resp.status_code == 200
    token = re.search(r"/i/([A-Za-z0-9_\-]{20,})", resp.get_data(as_text=True)).group(1)
    fake = circle_svc.redeem_invitation(token, make_user("Sanne's other account"))
    _db.session.commit()
    assert fake.replaces_membership_id is None
    # Nor can Sanne name her account through the professional's own form.
    assert (
        _post(browser(f.sanne), f"{f.plan}/conditions/pass-on", {"to": str(fake.id)}).status_code
        == 403
    )
    assert _post(browser(fake), f"{f.plan}/conditions/{k.id}/remove").status_code == 403
    assert _db.session.get(Condition, k.id).active


# --- Consent at a meeting -----------------------------------------------------------


def test_a_review_cannot_turn_a_present_objectors_no_into_yes(db, make_circle, add_member, as_):
    """The plan keeper records the review and ticks the objector (Sanne) as present:
    "accept" then decides over her recorded objection, on one person's word. Safe: a
    present voter's standing objection is lifted only by that voter (their own answer),
    not by whoever fills in the review."""
    k = make_kring(db, make_circle, add_member)
    c = _agreed_plan(k)
    p = _propose(k, k.kees, "add_commitment", _new_commitment_payload("Kees decides", k.kees))
    _plan_answer(k, k.sanne, p, consent=False, reason="Not without talking first")
    m = _held(_fixed(k.circle, k.kees))
    data = _review_data(k, c, accept=p, present=[str(k.kees.id), str(k.sanne.id)])
    _mpost(as_(k.kees), f"{_url(m)}/review", data, follow_redirects=True)
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN


# --- Socket events: who hears what ------------------------------------------------------


def _names(sock) -> list[str]:
    if not sock.is_connected():
        return []
    return [e["name"] for e in sock.get_received()]


def test_professional_with_chat_closed_hears_no_chat_or_presence(family, browser, socket_client):
    f = family
    _db.session.get(type(f.circle), f.circle.id).presence_enabled = True
    _db.session.commit()
    pro = socket_client(f.prof.user, http=browser(f.prof))
    assert pro.emit("plan:join", {"circle_id": f.circle.id})["ok"]
    join = pro.emit("chat:join", {"circle_id": f.circle.id})
    assert join["ok"] is False and join["error"] == "forbidden"
    oma = socket_client(f.oma.user, http=browser(f.oma))
    assert oma.emit("chat:join", {"circle_id": f.circle.id})["ok"]
    assert oma.emit(
        "chat:send", {"circle_id": f.circle.id, "client_id": "client-x1", "body": "private"}
    )["ok"]
    oma.get_received()
    # The sentinel: something the professional may hear (a tick on the plan).
    plan_svc.tick(f.circle, f.oma, f.football, "2026-11-04")
    _db.session.commit()
    got = _names(pro)
    assert "plan:event" in got
    assert "chat:message" not in got and "presence" not in got
    history = pro.emit("chat:history", {"circle_id": f.circle.id, "before_seq": 10})
    assert history["ok"] is False


def test_member_of_another_circle_hears_nothing_and_joins_nothing(
    family, browser, socket_client, make_circle, add_member
):
    f = family
    other_circle, _c = make_circle("Other circle")
    stranger = add_member(other_circle, Role.CENTRAL, name="Stranger")
    s = socket_client(stranger.user)
    for ev in ("chat:join", "plan:join"):
        ack = s.emit(ev, {"circle_id": f.circle.id})
        assert ack == {"ok": False, "error": "not_found"}
    for ev, extra in (
        ("chat:send", {"client_id": "client-zz", "body": "hi"}),
        ("chat:history", {"before_seq": 5}),
        ("chat:read", {"seq": 1}),
    ):
        assert s.emit(ev, {"circle_id": f.circle.id, **extra})["ok"] is False
    oma = socket_client(f.oma.user, http=browser(f.oma))
    assert oma.emit("chat:join", {"circle_id": f.circle.id})["ok"]
    oma.emit("chat:send", {"circle_id": f.circle.id, "client_id": "client-s1", "body": "family"})
    plan_svc.tick(f.circle, f.oma, f.football, "2026-11-04")
    _db.session.commit()
    assert "chat:message" in _names(oma)
    assert [n for n in _names(s) if n in ("chat:message", "plan:event", "presence")] == []


def test_removed_member_plan_socket_hears_no_more_plan_events(family, browser, socket_client):
    f = family
    piet = socket_client(f.piet.user, http=browser(f.piet))
    oma = socket_client(f.oma.user, http=browser(f.oma))
    for s in (piet, oma):
        assert s.emit("plan:join", {"circle_id": f.circle.id})["ok"]
        s.get_received()
    assert (
        _post(browser(f.sanne), f"/c/{f.circle.id}/members/{f.piet.id}/remove").status_code == 302
    )
    plan_svc.tick(f.circle, f.oma, f.football, "2026-11-04")
    _db.session.commit()
    assert "plan:event" in _names(oma)
    assert "plan:event" not in _names(piet)
    assert not piet.is_connected()


def test_closing_the_chat_stops_a_professionals_open_chat_socket(family, browser, socket_client):
    f = family
    f.circle.professionals_read_chat = True
    _db.session.commit()
    pro = socket_client(f.prof.user, http=browser(f.prof))
    assert pro.emit("chat:join", {"circle_id": f.circle.id})["ok"]
    pro.get_received()
    resp = _post(browser(f.sanne), f"/c/{f.circle.id}/professionals", {})
    assert resp.status_code == 302
    oma = socket_client(f.oma.user, http=browser(f.oma))
    assert oma.emit("chat:join", {"circle_id": f.circle.id})["ok"]
    assert oma.emit(
        "chat:send", {"circle_id": f.circle.id, "client_id": "client-c1", "body": "after closing"}
    )["ok"]
    assert "chat:message" in _names(oma)
    assert "chat:message" not in _names(pro)


# --- Consent over HTTP by someone who went ---------------------------------------------


def test_a_removed_voter_cannot_answer_or_withdraw(family, browser):
    f = family
    resp = _post(
        browser(f.oma),
        f"{f.plan}/commitments/new",
        {
            "what": "Call the school",
            "assignees": [str(f.oma.id)],
            "kind": "once",
            "start": "2026-12-10",
            "checker": "0",
            "interval": "1",
            "reason": "x",
        },
    )
    assert resp.status_code == 302
    p = _db.session.scalars(select(Proposal).order_by(Proposal.id.desc())).first()
    _post(browser(f.sanne), f"/c/{f.circle.id}/members/{f.oma.id}/remove")
    for path, data in (
        (f"{f.plan}/proposals/{p.id}/answer", {"answer": "consent"}),
        (f"{f.plan}/proposals/{p.id}/withdraw", {}),
    ):
        r = _post(browser(f.oma), path, data)
        assert r.status_code == 404
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN


def test_coordinator_after_handover_cannot_reach_the_circle_by_socket(
    db, client, login, make_circle, add_member, socket_client
):
    circle, coord = make_circle()
    add_member(circle, Role.CENTRAL, name="Sanne")
    login(client, coord.user)
    s = socket_client(coord.user, http=client)
    assert s.emit("plan:join", {"circle_id": circle.id})["ok"]
    hand_over_via_web(client, circle.id)
    assert not s.is_connected()
    s2 = socket_client(coord.user, http=client)
    assert s2.emit("plan:join", {"circle_id": circle.id}) == {"ok": False, "error": "not_found"}
    assert s2.emit("chat:join", {"circle_id": circle.id}) == {"ok": False, "error": "not_found"}


# --- Lesser findings ---------------------------------------------------------------------


def test_a_stopped_invitation_is_not_brought_back_by_another_manager(
    db, client, new_client, login, make_circle, add_member
):
    """The coordinator stops an invitation; Sanne (central) used to be able to revive it
    with "New link", undoing that decision. Safe: a stopped invitation stays stopped; a
    new invitation is the way (and shows in the history)."""
    circle, coord = make_circle()
    sanne = add_member(circle, Role.CENTRAL, name="Sanne")
    login(client, coord.user)
    people = client.get(f"/c/{circle.id}/people")
    resp = client.post(
        f"/c/{circle.id}/invitations",
        data={"name": "Bob", "role": "member", "csrf_token": csrf_from(people)},
    )
    token = token_of(card_link(resp), "/i/")
    inv = circle_svc.find_invitation(token)
    _post(client, f"/c/{circle.id}/invitations/{inv.id}/revoke")
    db.session.expire_all()
    assert inv.status == "revoked"

    s = login(new_client(), sanne.user)
    resp = _post(s, f"/c/{circle.id}/invitations/{inv.id}/reissue")
    assert resp.status_code == 302
    page = s.get(resp.headers["Location"]).get_data(as_text=True)
    assert "This invitation was stopped, so it cannot get a new link" in page
    assert "/i/" not in page  # no card, no link
    db.session.expire_all()
    assert inv.status == "revoked"
    with pytest.raises(circle_svc.ServiceError):
        circle_svc.reissue_invitation(inv, sanne)
    db.session.rollback()
    assert circle_svc.find_invitation(token) is None


def test_the_email_confirmation_page_names_the_account(app, db, login, make_user, new_client):
    """An attacker asks to put a victim's address on the attacker's account and gets the
    victim to press "Yes". Safe: the page says which account the address will belong to."""
    attacker = make_user("Mallory", username="mallory", email="mallory@example.org")
    assert _change_email(login(new_client(), attacker), "victim@example.org").status_code == 302
    link = _mail_link(app, "victim@example.org", "/e/")
    victim = new_client()
    assert victim.get(f"/e/{link}").status_code == 302
    page = victim.get("/account/email/confirm").get_data(as_text=True)
    assert "This address will belong to the Kring account «mallory»." in page
