"""Security: a secret link works once, even when 20 browsers use it at the same instant.

Each thread is its own browser (its own Flask test client, so every request runs in
its own application context and database session). All of them open the link and
fetch the form first; then a barrier releases their POSTs together.
PostgreSQL only: SQLite serialises writers, so it cannot show a race.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.models import Invitation, LoginSession, Membership, ReentryToken, User
from portal.services import accounts
from portal.services import circles as circle_svc
from tests.conftest import csrf_from

N = 20


def _browser(app) -> FlaskClient:
    # Not the suite's KringClient: that one commits the test's session, which belongs
    # to the main thread.
    return FlaskClient(app, app.response_class, use_cookies=True)


def _get(app, browser: FlaskClient, path: str):
    """A GET in its own application context, as on a real server (the test's context
    would share ``g``, and with it the CSRF token, between browsers)."""
    with app.app_context():
        return browser.get(path)


def _race(app, opener: str, landing: str, token: str, post_data) -> list:
    """Open the link in N browsers, then POST the form from all of them at once."""
    app.config["TOKEN_RATE_LIMIT"] = "1000 per minute"  # a race, not a brute force
    browsers, forms = [], []
    for _ in range(N):
        b = _browser(app)
        assert _get(app, b, f"{opener}{token}").status_code == 302
        page = _get(app, b, landing)
        assert page.status_code == 200
        browsers.append(b)
        forms.append(csrf_from(page))

    barrier = threading.Barrier(N)
    results: list = [None] * N

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = browsers[i].post(landing, data={**post_data(i), "csrf_token": forms[i]})
        except BaseException as e:  # reported by the assertion below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    errors = [r for r in results if isinstance(r, BaseException) or r is None]
    assert not errors, errors
    return results


@pytest.mark.postgres_only
def test_twenty_concurrent_joins_with_one_invitation_make_one_member(app, db, make_circle):
    circle, coord = make_circle()
    inv, token = circle_svc.invite(circle, coord, name="Oma", role="member")
    db.session.commit()
    circle_id, inv_id = circle.id, inv.id
    users_before = db.session.scalar(select(func.count()).select_from(User))
    db.session.rollback()

    results = _race(
        app,
        "/i/",
        "/join",
        token,
        lambda i: {
            "display_name": f"Racer {i}",
            "username": f"racer{i}",
            "password": "a long password",
            "confirm": "a long password",
        },
    )

    statuses = sorted(r.status_code for r in results)
    assert 500 not in statuses, statuses
    winners = [i for i, r in enumerate(results) if r.status_code == 302]
    assert len(winners) == 1, statuses
    assert urlsplit(results[winners[0]].headers["Location"]).path == f"/c/{circle_id}"
    assert all(r.status_code == 404 for i, r in enumerate(results) if i not in winners)

    db.session.rollback()
    inv = db.session.get(Invitation, inv_id)
    assert inv.redeemed_at is not None and inv.membership_id is not None
    joined = db.session.scalars(
        select(Membership).where(Membership.circle_id == circle_id, Membership.id != coord.id)
    ).all()
    assert len(joined) == 1
    assert joined[0].id == inv.membership_id
    assert joined[0].user.username == f"racer{winners[0]}"
    # The losers' accounts were rolled back with their failed redemption.
    assert db.session.scalar(select(func.count()).select_from(User)) == users_before + 1


@pytest.mark.postgres_only
def test_twenty_concurrent_resets_with_one_link_change_the_password_once(
    app, db, make_circle, add_member
):
    circle, coord = make_circle()
    member = add_member(circle, name="Jan")
    uid = member.user_id
    token = accounts.issue_reset_token(member.user, circle_id=circle.id, issued_by_id=coord.id)
    db.session.commit()
    db.session.close()

    results = _race(
        app,
        "/r/",
        "/password/new",
        token,
        lambda i: {"password": f"racing password {i}", "confirm": f"racing password {i}"},
    )

    statuses = sorted(r.status_code for r in results)
    assert 500 not in statuses, statuses
    winners = [i for i, r in enumerate(results) if r.status_code == 302]
    assert len(winners) == 1, statuses
    assert all(r.status_code == 404 for i, r in enumerate(results) if i not in winners)

    db.session.rollback()
    user = db.session.get(User, uid)
    works = [i for i in range(N) if accounts.check_password(user, f"racing password {i}")]
    assert works == winners
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(ReentryToken)
            .where(ReentryToken.user_id == uid, ReentryToken.used_at.is_(None))
        )
        == 0
    )
    # Only the winner's browser is signed in.
    assert (
        db.session.scalar(
            select(func.count()).select_from(LoginSession).where(LoginSession.user_id == uid)
        )
        == 1
    )
