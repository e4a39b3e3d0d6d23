"""Security: cross-site request forgery.

A page on another site makes the victim's browser POST to Kring with the victim's
cookie. It cannot read the victim's CSRF token, so it sends none, a made-up one, or
one from the attacker's own session. Every state-changing route must answer 400 and
change nothing. Each attack is followed by the same request with the victim's real
token, which must work: that proves the forged request would have done harm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from portal.models import Role
from portal.services import accounts
from portal.services import circles as circle_svc
from tests.conftest import PASSWORD, csrf_from
from tests.test_security import dump_db

TZ = "Europe/Amsterdam"
# Routes exempt from CSRF, each for a reason (see the sweep below).
CSRF_EXEMPT = {"unsubscribe.one_click"}


@dataclass(frozen=True)
class Case:
    actor: str  # who is the victim: coord, central, member, anon, invited, resetting
    path: str  # formatted with circle, member, inv
    data: dict = field(default_factory=dict)


CASES: dict[str, Case] = {
    "pages.set_language": Case("member", "/language", {"language": "fr", "next": "/"}),
    "auth.login": Case("anon", "/login", {"login": "jan", "password": PASSWORD}),
    "auth.logout": Case("member", "/logout"),
    "auth.account": Case("member", "/account", {"name": "Hacked", "locale": "en", "timezone": TZ}),
    "auth.change_email": Case(
        "member", "/account/email", {"new_email": "evil@example.org", "email_password": PASSWORD}
    ),
    "auth.confirm_email": Case("confirming", "/account/email/confirm"),
    "auth.change_password": Case(
        "member",
        "/account/password",
        {"current": PASSWORD, "password": "attacker password", "confirm": "attacker password"},
    ),
    "auth.forgot_password": Case("anon", "/password/forgot", {"email": "jan@example.org"}),
    "auth.new_password": Case(
        "resetting",
        "/password/new",
        {"password": "attacker password", "confirm": "attacker password"},
    ),
    "circles.new_circle": Case(
        "coord", "/circles/new", {"title": "Evil", "question": "", "language": "en", "timezone": TZ}
    ),
    "circles.settings": Case(
        "coord",
        "/c/{circle}/settings",
        {"title": "Hacked", "question": "", "language": "en", "timezone": TZ},
    ),
    "circles.professionals": Case("central", "/c/{circle}/professionals", {"read_chat": "y"}),
    "circles.remove_member": Case("coord", "/c/{circle}/members/{member}/remove"),
    "circles.member_flags": Case(
        "coord", "/c/{circle}/members/{member}/flags", {"plan_keeper": "y", "followup": "y"}
    ),
    "circles.leave": Case("member", "/c/{circle}/leave"),
    "circles.handover": Case("coord", "/c/{circle}/handover"),
    "invitations.create": Case(
        "coord", "/c/{circle}/invitations", {"name": "Evil", "role": "member"}
    ),
    "invitations.reissue": Case("coord", "/c/{circle}/invitations/{inv}/reissue"),
    "invitations.revoke": Case("coord", "/c/{circle}/invitations/{inv}/revoke"),
    "invitations.reentry": Case("coord", "/c/{circle}/members/{member}/reentry"),
    "invitations.join": Case(
        "invited",
        "/join",
        {
            "display_name": "Evil",
            "username": "evil",
            "password": "a long password",
            "confirm": "a long password",
        },
    ),
}

TOKEN_PAGE = {
    "anon": "/login",
    "invited": "/join",
    "resetting": "/password/new",
    "confirming": "/account/email/confirm",
}


@pytest.fixture
def world(app, db, client, make_circle, add_member, make_user, login, new_client):
    circle, coord = make_circle()
    central = add_member(circle, Role.CENTRAL, user=make_user("Mother", username="mother"))
    member = add_member(circle, user=make_user("Jan", username="jan", email="jan@example.org"))
    inv, inv_token = circle_svc.invite(circle, coord, name="Pending", role="member")
    reset_token = accounts.issue_reset_token(member.user)
    with app.test_request_context():
        accounts.request_email_change(member.user, "new-jan@example.org")
    email_token = _email_token(app)
    db.session.commit()
    ids = {"circle": circle.id, "member": member.id, "inv": inv.id}

    browsers = {
        "coord": login(client, coord.user),
        "central": login(new_client(), central.user),
        "member": login(new_client(), member.user),
        "anon": new_client(),
        "invited": new_client(),
        "resetting": new_client(),
        "confirming": new_client(),
    }
    assert browsers["invited"].get(f"/i/{inv_token}").status_code == 302
    assert browsers["resetting"].get(f"/r/{reset_token}").status_code == 302
    assert browsers["confirming"].get(f"/e/{email_token}").status_code == 302
    return ids, browsers


def _email_token(app) -> str:
    """The token from the confirmation link just queued (read from the outbox table)."""
    import re

    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import OutboxMail

    bodies = db.session.scalars(select(OutboxMail.body).order_by(OutboxMail.id)).all()
    return next(m.group(1) for b in bodies if (m := re.search(r"/e/(\S+)", b)))


def _forged_tokens(new_client) -> dict[str, str | None]:
    attacker = new_client()
    return {
        "missing": None,
        "made_up": "IjEyMzQ1Njc4OTAi.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "attackers_own": csrf_from(attacker.get("/login")),
    }


def test_csrf_protection_is_on(app):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    assert app.config.get("WTF_CSRF_CHECK_DEFAULT", True) is True


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_forged_post_is_refused_and_changes_nothing(endpoint, app, db, world, new_client):
    ids, browsers = world
    case = CASES[endpoint]
    path = case.path.format(**ids)
    victim = browsers[case.actor]
    real_token = csrf_from(victim.get(TOKEN_PAGE.get(case.actor, "/account")))
    outbox = app.extensions["kring_outbox"]
    before, mails = dump_db(db), len(outbox)

    for kind, token in _forged_tokens(new_client).items():
        data = dict(case.data)
        if token is not None:
            data["csrf_token"] = token
        resp = victim.post(path, data=data)
        assert resp.status_code == 400, (kind, resp.status_code)
        assert dump_db(db) == before, kind
        assert len(outbox) == mails, kind

    # The victim's own page, with its real token, does what the forgery tried to do.
    resp = victim.post(path, data={**case.data, "csrf_token": real_token})
    assert resp.status_code != 400, resp.get_data(as_text=True)[:500]
    assert dump_db(db) != before, "the control request changed nothing: the case is wrong"


def test_every_post_route_refuses_a_request_without_token(app, db, world, new_client):
    """A sweep over the URL map, so a route added later is covered too."""
    ids, browsers = world
    fill = {"circle_id": ids["circle"], "member_id": ids["member"], "invitation_id": ids["inv"]}
    rules = [r for r in app.url_map.iter_rules() if "POST" in r.methods]
    assert set(CASES) <= {r.endpoint for r in rules}, "CASES names a route that is gone"
    before = dump_db(db)
    for rule in rules:
        values = {
            arg: fill.get(arg, 1) if isinstance(conv.to_python("1"), int) else "x" * 43
            for arg, conv in rule._converters.items()
        }
        path = rule.build(values)[1]
        case = CASES.get(rule.endpoint)
        data = dict(case.data) if case else {"body": "hello", "name": "x", "text": "x"}
        # The one route without CSRF: one-click unsubscribe (RFC 8058), which a mail
        # client posts with no cookie and no token. Its signed token is the proof: one
        # the forger cannot read from the victim's mailbox is a 404, and nothing changes.
        expected = 404 if rule.endpoint in CSRF_EXEMPT else 400
        for who in ("coord", "central", "member", "anon", "invited"):
            resp = browsers[who].post(path, data=data)
            assert resp.status_code == expected, (rule.rule, who, resp.status_code)
    assert dump_db(db) == before
    # Still signed in: the refused /logout did not sign anyone out.
    assert browsers["coord"].get(f"/c/{ids['circle']}").status_code == 200
