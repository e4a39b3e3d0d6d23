"""Every page's <title> is plain text: what a screen reader reads first and a browser
tab shows. (The circle settings page once opened a whole section, with its form and
CSRF token, inside the title block.) Walks every GET route of the demo circle as each
role, and the public pages as a visitor."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from portal.demo import ROLES, build_demo
from portal.models import (
    Agreement,
    Commitment,
    Meeting,
    Membership,
    Message,
    PlanVersion,
    SupportLine,
)
from tests.conftest import PASSWORD, csrf_from

TITLE = re.compile(r"<title>(.*?)</title>", re.S)
SKIP = {
    "static",
    "pages.socketio_client",
    "pages.health",
    "pages.ready",
    "plan.export",
    "meetings.ics",
    "meetings.feed",
    "invitations.open_link",
    "auth.open_reset_link",
    "auth.open_email_link",  # a secret link: leaves at once for the confirm page
}


def _check_title(resp, where: str) -> str:
    body = resp.get_data(as_text=True)
    titles = TITLE.findall(body)
    assert len(titles) == 1, (where, titles)
    title = titles[0]
    assert "<" not in title and ">" not in title, (where, title)
    assert title.strip() and "\n" not in title.strip(), (where, title)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body)
    if token:
        assert token.group(1) not in title, where
    assert "csrf" not in title.lower(), (where, title)
    # Text only: the unescaped title has no markup either.
    assert "<" not in html.unescape(title), (where, title)
    return title


def _unsubscribe_token(app, db) -> str:
    from portal.models import User
    from portal.services.unsubscribe import make_token

    with app.test_request_context():
        return make_token(db.session.scalars(select(User.id).limit(1)).one(), "digest")


def _urls(app, db, circle_id: int) -> list[tuple[str, str]]:
    ids = {
        "circle_id": [circle_id],
        "message_id": db.session.scalars(
            select(Message.id).where(Message.circle_id == circle_id).limit(2)
        ).all(),
        "meeting_id": db.session.scalars(
            select(Meeting.id).where(Meeting.circle_id == circle_id)
        ).all(),
        "commitment_id": db.session.scalars(
            select(Commitment.id).where(Commitment.circle_id == circle_id).limit(2)
        ).all(),
        "agreement_id": db.session.scalars(
            select(Agreement.id).where(Agreement.circle_id == circle_id).limit(1)
        ).all(),
        "number": db.session.scalars(
            select(PlanVersion.number).where(PlanVersion.circle_id == circle_id)
        ).all(),
        "member_id": db.session.scalars(
            select(Membership.id).where(Membership.circle_id == circle_id).limit(3)
        ).all(),
        "line_id": db.session.scalars(
            select(SupportLine.id).where(SupportLine.circle_id == circle_id).limit(1)
        ).all(),
        "token": [_unsubscribe_token(app, db)],  # the only page with a token in its path
    }
    out = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIP:
            continue
        combos = [{}]
        for arg in rule.arguments:
            combos = [dict(c, **{arg: v}) for c in combos for v in ids[arg]]
        for values in combos:
            path = rule.rule
            for k, v in values.items():
                path = re.sub(rf"<(?:\w+:)?{k}>", str(v), path)
            out.append((rule.endpoint, path))
    return out


def test_every_page_title_is_plain_text(app, db, new_client):
    demo = build_demo("en")
    db.session.commit()
    circle_id = demo.circle.id
    urls = _urls(app, db, circle_id)
    seen_ok: set[str] = set()

    visitor = new_client()
    for endpoint, path in urls:
        resp = visitor.get(path)
        if resp.mimetype == "text/html" and resp.status_code != 302:
            _check_title(resp, f"visitor {path}")
            if resp.status_code == 200:
                seen_ok.add(endpoint)

    for label in ROLES:
        browser = new_client()
        browser.get(f"/i/{demo.tokens[label]}")
        page = browser.get("/join")
        _check_title(page, f"{label} /join")
        resp = browser.post(
            "/join",
            data={
                "csrf_token": csrf_from(page),
                "display_name": label.title(),
                "username": f"walker.{label}",
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        assert resp.status_code == 302
        for endpoint, path in urls:
            resp = browser.get(path)
            if resp.mimetype == "text/html" and resp.status_code != 302:
                _check_title(resp, f"{label} {path}")
                if resp.status_code == 200:
                    seen_ok.add(endpoint)

    # The walk reached the pages that matter, settings among them.
    for endpoint in (
        "circles.settings",
        "circles.home",
        "chat.show",
        "plan.show",
        "plan.version",
        "plan.history",
        "meetings.show",
        "invitations.people",
        "circles.sheet",
        "auth.account",
        "auth.login",
    ):
        assert endpoint in seen_ok, endpoint
    assert len(seen_ok) >= 25, sorted(seen_ok)


def test_settings_page_shows_who_is_here_once(client, db, make_circle, add_member, login):
    circle, _coord = make_circle()
    central = add_member(circle, "central")
    login(client, central.user)
    body = client.get(f"/c/{circle.id}/settings").get_data(as_text=True)
    title = TITLE.search(body).group(1)
    assert title == f"Settings · {circle.title} · Kring"
    assert body.count("Who is here now") == 1
