"""The main pages are valid HTML, as the Nu HTML Checker (vnu) reads them.

The pages of the demo circle are rendered as a central person, a member and a
professional (and the public ones as a visitor), written to a folder and checked in
one run of vnu: 0 errors. vnu comes from npm (``vnu-jar`` in package.json; ``make
setup`` installs it) and runs on the installed Java (``make browser`` installs Debian's
``default-jre-headless`` when there is none).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

from sqlalchemy import select

from portal.demo import build_demo
from portal.models import Commitment, Meeting, Membership, PlanVersion, PushSubscription, User
from portal.models.notifications import NEWS_KINDS
from portal.models.plan import commitment_assignees
from portal.services import notifications
from tests.conftest import PASSWORD, ROOT, csrf_from

VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def _circle_pages(db, circle_id: int) -> list[str]:
    c = f"/c/{circle_id}"
    versions = db.session.scalars(
        select(PlanVersion.number)
        .where(PlanVersion.circle_id == circle_id)
        .order_by(PlanVersion.number)
    ).all()
    meetings = db.session.scalars(select(Meeting.id).where(Meeting.circle_id == circle_id)).all()
    commitment = db.session.scalars(
        select(Commitment.id).where(Commitment.circle_id == circle_id).limit(1)
    ).one()
    doer = db.session.scalars(  # someone with commitments: their printed sheet
        select(commitment_assignees.c.membership_id)
        .join(Commitment, Commitment.id == commitment_assignees.c.commitment_id)
        .where(Commitment.circle_id == circle_id)
        .limit(1)
    ).one()
    assert len(versions) >= 2 and meetings, "the demo has versions to compare and meetings"
    return [
        c,
        f"{c}/chat",
        f"{c}/plan",
        f"{c}/plan/print",
        f"{c}/plan/versions",
        f"{c}/plan/versions/{versions[-1]}",
        f"{c}/plan/diff?a={versions[0]}&b={versions[-1]}",
        f"{c}/plan/commitments/{commitment}/history",
        f"{c}/history",
        f"{c}/meetings",
        *(f"{c}/meetings/{m}" for m in meetings),
        f"{c}/people",
        f"{c}/people/{doer}/sheet",
        f"{c}/settings",
        f"{c}/plan/commitments/new",
        f"{c}/plan/commitments/{commitment}/edit",
        f"{c}/plan/agree",
        f"{c}/meetings/new",
        f"{c}/leave",
        f"{c}/answer-for-me",
        "/account/calendar",
        "/me/commitments",
        "/me/meetings",
        "/account",
        "/notifications",
        "/c/987654",  # the 404 page, signed in
    ]


def _join(browser, token: str, label: str) -> None:
    browser.get(f"/i/{token}")
    page = browser.get("/join")
    resp = browser.post(
        "/join",
        data={
            "csrf_token": csrf_from(page),
            "display_name": label.title(),
            "username": f"valid.{label}",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


def _two_devices(db, username: str) -> None:
    """Push devices, so /account shows its list with a Remove button for each."""
    user = db.session.scalars(select(User).where(User.username == username)).one()
    for n, label in enumerate(("Chrome on Android", "Firefox on Windows")):
        db.session.add(
            PushSubscription(
                user_id=user.id,
                endpoint=f"https://fcm.googleapis.com/fcm/send/{username}-{n}",
                p256dh="x",
                auth="y",
                label=label,
            )
        )


def _give_news(db, label: str) -> None:
    """A line of every kind (and every variant) for the new person, so /notifications
    shows them all, unread and read."""
    me = db.session.scalars(
        select(Membership).join(User).where(User.username == f"valid.{label}")
    ).one()
    others = [m for m in me.circle.memberships if m.id != me.id and m.is_active]
    variants = [(k, {}) for k in NEWS_KINDS] + [
        ("due", {"overdue": True}), ("decided", {"op": "declined"}),
        ("meeting", {"op": "moved"}), ("meeting", {"op": "cancelled"}),
        ("people", {"op": "left"}), ("people", {"op": "removed"}),
        ("acted_for", {"what": "poll"}), ("acted_for", {"what": "consent"}),
        ("acted_for", {"what": "object"}), ("acted_for", {"what": "tick"}),
    ]  # fmt: skip
    for kind, data in variants:
        notifications.notify([me], kind, ref_id=others[0].id, actor=others[0], data=data)
    notifications.messages_sent(me.circle_id, others[0].id)
    db.session.flush()
    notifications.mark_read(me.user_id, kinds=["people"])
    db.session.commit()


def _someone_without_internet(db, circle) -> None:
    """Issue 14: Oma (no internet) has named the new central person, who may tick her
    commitment for her ("Who did it?"); the people page shows who answers for her."""
    from portal.services import membership as membership_svc
    from portal.services import offline

    me = db.session.scalars(
        select(Membership).join(User).where(User.username == "valid.central")
    ).one()
    oma = offline.add_offline_member(circle, me, name="Oma Riet", role="member")
    membership_svc.set_proxies(circle, me, oma, [me.id])
    commitment = db.session.scalars(
        select(Commitment).where(Commitment.circle_id == circle.id, Commitment.active).limit(1)
    ).one()
    commitment.assignees.append(oma)
    db.session.commit()


def _save(folder, name: str, resp) -> None:
    assert resp.mimetype == "text/html", (name, resp.mimetype)
    safe = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")
    (folder / f"{safe}.html").write_bytes(resp.get_data())


def _vnu(files: list) -> list[dict]:
    java = shutil.which("java")
    assert java, "no java: `make browser` installs Debian's default-jre-headless"
    assert VNU.exists(), f"{VNU} is missing: `make setup` (npm ci) installs vnu-jar"
    run = subprocess.run(
        [java, "-jar", str(VNU), "--errors-only", "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(run.stderr or run.stdout)
    return report["messages"]


def _unsubscribe_pages(app, db, new_client, tmp_path) -> None:
    """The one-click unsubscribe pages (no sign-in), and a digest email's HTML part."""
    from flask import render_template

    from portal.models import User
    from portal.services.unsubscribe import make_token

    user_id = db.session.scalars(select(User.id).limit(1)).one()
    with app.test_request_context():
        token = make_token(user_id, "digest")
        html = render_template(
            "email/notice.html",
            title="There are 5 new messages and 1 question for you in Kring.",
            sections=[
                ("Circle around Sam", "5 new messages"),
                ("Your other circles", "1 question"),
            ],
            button="Open Kring",
            link="http://localhost/notifications",
            lang="en",
            kind="digest",
            unsubscribe_url=f"http://localhost/email/stop/{token}",
            settings_url="http://localhost/account",
        )
    (tmp_path / "email_digest.html").write_text(html)
    _save(tmp_path, "unsubscribe confirm", new_client().get(f"/email/stop/{token}"))
    _save(tmp_path, "unsubscribe done", new_client().post(f"/email/stop/{token}"))


def test_the_main_pages_are_valid_html(app, db, new_client, tmp_path):
    demo = build_demo("en")
    db.session.commit()
    pages = _circle_pages(db, demo.circle.id)

    visitor = new_client()
    _save(tmp_path, "visitor login", visitor.get("/login"))
    _save(tmp_path, "visitor 404", visitor.get("/no/such/page"))
    _save(tmp_path, "visitor forgot", visitor.get("/password/forgot"))
    _save(tmp_path, "visitor index", visitor.get("/"))
    visitor.get(f"/i/{demo.tokens['supporter']}")
    _save(tmp_path, "visitor join", visitor.get("/join"))
    _unsubscribe_pages(app, db, new_client, tmp_path)

    for label in ("central", "member", "professional"):
        browser = new_client()
        _join(browser, demo.tokens[label], label)
        _two_devices(db, f"valid.{label}")
        _give_news(db, label)
        if label == "central":
            _someone_without_internet(db, demo.circle)
        for path in pages:
            resp = browser.get(path)
            assert resp.status_code in (200, 403, 404), (label, path, resp.status_code)
            _save(tmp_path, f"{label} {path}", resp)
        if label == "member":  # simple mode and the discreet title: same pages (issue 14)
            user = db.session.scalars(select(User).where(User.username == "valid.member")).one()
            user.simple_mode = user.discreet = True
            db.session.commit()
            for path in [*pages[:3], "/me/commitments", "/account"]:
                _save(tmp_path, f"simple {path}", browser.get(path))

        if label == "central":  # the calendar link page as it is made: link, copy, QR
            page = browser.get("/account/calendar")
            made = browser.post(
                "/account/calendar", data={"action": "renew", "csrf_token": csrf_from(page)}
            )
            assert "<svg" in made.get_data(as_text=True)
            _save(tmp_path, f"{label} calendar link made", made)

    files = sorted(tmp_path.glob("*.html"))
    assert len(files) >= 3 * len(pages)
    messages = _vnu(files)
    errors = [m for m in messages if m.get("type") in ("error", "non-document-error")]
    lines = [
        f"{m.get('url', '').rsplit('/', 1)[-1]}:{m.get('lastLine')}: {m.get('message')}"
        f"\n    {m.get('extract', '').strip()!r}"
        for m in errors
    ]
    assert not errors, f"{len(errors)} HTML errors:\n" + "\n".join(lines)
