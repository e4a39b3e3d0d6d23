"""Follow-up meetings under concurrency: double submits must not double anything.

Each thread is its own browser (a plain Flask test client with its own cookies) and
runs its request inside its own ``with app.app_context():``, so it has its own
database session, as on a real server. Everyone fetches their form first; a barrier
then releases the POSTs together. PostgreSQL only: SQLite serialises writers, so it
cannot show a race.
"""

from __future__ import annotations

import re
import threading

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import (
    Commitment,
    MeetingAnswer,
    MeetingReview,
    PlanVersion,
    Proposal,
    ProposalStatus,
)
from portal.services import meetings as meet_svc
from portal.services import plan as plan_svc
from tests.conftest import PASSWORD, csrf_from
from tests.test_meetings_rules import (
    _agreed_plan,
    _fixed,
    _held,
    _meeting,
    _new_commitment_payload,
    _option_ids,
    _url,
    make_kring,
)

pytestmark = pytest.mark.postgres_only

ANSWERS = ("yes", "maybe", "no")


@pytest.fixture
def kring(db, make_circle, add_member):
    return make_kring(db, make_circle, add_member)


@pytest.fixture(autouse=True)
def _many_logins(app):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"  # a race, not a brute force


def _browser(app, user) -> tuple[FlaskClient, str]:
    """A signed-in browser of its own and its CSRF token. Not the suite's KringClient:
    that one commits the test's session, which belongs to the main thread."""
    b = FlaskClient(app, app.response_class, use_cookies=True)
    with app.app_context():
        page = b.get("/login")
        resp = b.post(
            "/login",
            data={"login": user.username, "password": PASSWORD, "csrf_token": csrf_from(page)},
        )
        assert resp.status_code == 302
    with app.app_context():
        token = csrf_from(b.get("/me/meetings"))
    return b, token


def _race(app, calls) -> list:
    """Run every call in its own thread and application context, released together."""
    _db.session.commit()  # the threads must see the set-up
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                results[i] = calls[i]()
        except BaseException as e:  # reported by the assertion below
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    errors = [r for r in results if isinstance(r, BaseException) or r is None]
    assert not errors, errors
    _db.session.rollback()  # read what the threads wrote
    return results


def _flashes(app, browser, url) -> list[str]:
    with app.app_context():
        html = browser.get(url).get_data(as_text=True)
    return re.findall(r'<p class="flash flash-\w+"[^>]*>([^<]*)</p>', html)


def test_one_person_submitting_answers_at_once_leaves_one_row_per_option(app, kring):
    n = 8
    m = _meeting(kring.circle, kring.oma)
    ids = _option_ids(m)
    url = f"{_url(m)}/answers"
    oma_id = kring.oma.id
    user = kring.oma.user
    # The same person, in n tabs (each its own sign-in), answering differently in each.
    submissions = [{oid: ANSWERS[(i + k) % 3] for k, oid in enumerate(ids)} for i in range(n)]
    tabs = [_browser(app, user) for _ in range(n)]

    def submit(i):
        b, token = tabs[i]
        data = {f"answer-{oid}": a for oid, a in submissions[i].items()}
        return b.post(url, data={**data, "csrf_token": token})

    results = _race(app, [lambda i=i: submit(i) for i in range(n)])
    assert [r.status_code for r in results] == [302] * n
    rows = _db.session.execute(
        select(MeetingAnswer.option_id, MeetingAnswer.answer).where(
            MeetingAnswer.membership_id == oma_id
        )
    ).all()
    assert sorted(oid for oid, _ in rows) == sorted(ids)  # exactly one row per option
    assert _db.session.scalar(select(func.count()).select_from(MeetingAnswer)) == len(ids)
    # What is stored is one whole submission (the last), not a mix of several.
    assert dict(rows) in submissions
    # And the page shows those answers, counted once.
    tally = meet_svc.tallies(_db.session.get(type(m), m.id))[0]
    assert sum(len(t.yes) + len(t.maybe) + len(t.no) for t in tally) == len(ids)


@pytest.mark.parametrize("round_", range(3))
def test_two_people_recording_the_review_at_once_decide_the_proposal_once(app, kring, round_):
    c = _agreed_plan(kring)
    proposal = plan_svc.propose(
        kring.circle,
        kring.oma,
        "add_commitment",
        payload=_new_commitment_payload("Call the school", kring.oma),
    )
    _db.session.commit()
    m = _held(_fixed(kring.circle, kring.piet))  # Piet organises; Sanne is a central person
    circle_id, meeting_id, proposal_id = kring.circle.id, m.id, proposal.id
    versions_before = _db.session.scalar(select(func.count()).select_from(PlanVersion))
    assert versions_before == 1
    url = _url(m)
    data = {
        "present": [str(kring.sanne.id), str(kring.oma.id), str(kring.piet.id)],
        f"verdict-{c.daily.id}": "working",
        f"decide-{proposal_id}": "accept",
        "next_evaluation": "2027-06-01",
    }
    people = [_browser(app, kring.piet.user), _browser(app, kring.sanne.user)]

    def submit(i):
        b, token = people[i]
        return b.post(f"{url}/review", data={**data, "csrf_token": token})

    results = _race(app, [lambda i=i: submit(i) for i in range(len(people))])
    assert [r.status_code for r in results] == [302, 302]
    assert (
        _db.session.scalar(
            select(func.count())
            .select_from(MeetingReview)
            .where(MeetingReview.meeting_id == meeting_id)
        )
        == 1
    )
    # Applied exactly once: one new version, one new commitment.
    versions = _db.session.scalars(
        select(PlanVersion).where(PlanVersion.circle_id == circle_id).order_by(PlanVersion.number)
    ).all()
    assert [v.number for v in versions] == [1, 2]
    assert versions[1].reason == "meeting" and versions[1].proposal_id == proposal_id
    assert versions[1].agreed_by == ["Oma", "Piet", "Sanne"]
    p = _db.session.get(Proposal, proposal_id)
    assert p.status == ProposalStatus.APPLIED and p.applied_version == 2
    assert (
        _db.session.scalar(
            select(func.count())
            .select_from(Commitment)
            .where(Commitment.circle_id == circle_id, Commitment.what == "Call the school")
        )
        == 1
    )
    # One of them is thanked, the other told it was already recorded.
    said = [f for b, _t in people for f in _flashes(app, b, url)]
    assert sorted(said) == sorted(
        ["Saved how the meeting went. Thank you.", "How this meeting went is already saved."]
    )


def test_links_made_in_several_tabs_at_once_all_stop_when_the_person_stops_them(app, kring):
    n = 4
    _fixed(kring.circle, kring.oma)
    tabs = [_browser(app, kring.oma.user) for _ in range(n)]

    def make(i):
        b, token = tabs[i]
        return b.post("/account/calendar", data={"action": "renew", "csrf_token": token})

    results = _race(app, [lambda i=i: make(i) for i in range(n)])
    assert [r.status_code for r in results] == [200] * n
    links = [
        re.search(r"http://localhost(/calendar/[^<\s]+\.ics)", r.get_data(as_text=True)).group(1)
        for r in results
    ]
    assert len(set(links)) == n
    anon = FlaskClient(app, app.response_class, use_cookies=True)
    # She stops her calendar link: none of the links handed out works any more.
    b, token = tabs[0]
    with app.app_context():
        assert (
            b.post("/account/calendar", data={"action": "revoke", "csrf_token": token}).status_code
            == 200
        )
    for link in links:
        with app.app_context():
            assert anon.get(link).status_code == 404, link
