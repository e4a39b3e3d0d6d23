"""The plan's rules, checked the way a family member (or someone trying to cheat) notices.

Consent before a change enters the plan; draft versus agreed plan; who may tick and what
can be ticked; asking for help; how commitments are doing; versions that never change;
what professionals may do; pages that cost the same however big the plan; my
commitments across circles; and the export. Attacks go over HTTP with a valid CSRF
token, so the only thing standing in the way is the rule under test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select, text

from portal.access import ChatSeat
from portal.extensions import db as _db
from portal.models import (
    Acceptance,
    Circle,
    Commitment,
    Completion,
    Condition,
    Membership,
    MembershipStatus,
    PlanVersion,
    Proposal,
    ProposalStatus,
    ProposalVote,
)
from portal.models.types import utcnow
from portal.services import chat as chat_svc
from portal.services import plan as svc
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import csrf_from

WED = date(2026, 11, 4)  # a Wednesday: the football turns fall on Wednesdays
TODAY = date(2026, 11, 9)  # a Monday, the "today" of the tests that fix it


# --- Helpers ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _many_logins(app):
    # These tests sign in many people from one address; the login limit is not under test.
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"


@pytest.fixture
def browser(new_client, login):
    """``browser(membership)``: that person's own signed-in browser (one per person)."""
    open_ = {}

    def get(m: Membership):
        if m.user_id not in open_:
            open_[m.user_id] = login(new_client(), m.user)
        return open_[m.user_id]

    return get


def _post(client, url, data=None):
    """POST like the page's form would: with the session's valid CSRF token."""
    token = csrf_from(client.get("/account"))
    return client.post(url, data={**(data or {}), "csrf_token": token})


def _data(
    what,
    who,
    *,
    kind="once",
    start=date(2026, 12, 1),
    end=None,
    weekdays=(),
    interval=1,
    items=(),
    checker=None,
    other="",
    checker_name="",
) -> svc.CommitmentData:
    return svc.CommitmentData(
        what=what,
        assignee_ids=[m.id for m in who],
        other_assignees=other,
        checker_id=checker.id if checker else None,
        checker_name=checker_name,
        items=list(items),
        schedule=Schedule(
            kind=kind, start=start, end=end, weekdays=frozenset(weekdays), interval=interval
        ),
    )


def _add(circle, acting, what, who, **kw) -> Commitment:
    c = plan_data.add_commitment(circle, acting, _data(what, who, **kw))
    _db.session.commit()
    return c


def _agree(circle, acting, voters) -> None:
    svc.record_agreement(circle, acting, [m.id for m in voters])
    _db.session.commit()


def _form(what, who, kind="once", start="2026-12-10", **extra) -> dict:
    return {
        "what": what,
        "assignees": [str(m.id) for m in who],
        "kind": kind,
        "start": start,
        "checker": "0",
        "interval": "1",
        **extra,
    }


def _versions(circle) -> list[int]:
    return _db.session.scalars(
        select(PlanVersion.number)
        .where(PlanVersion.circle_id == circle.id)
        .order_by(PlanVersion.number)
    ).all()


def _version(circle, number) -> PlanVersion:
    return _db.session.scalar(
        select(PlanVersion).where(PlanVersion.circle_id == circle.id, PlanVersion.number == number)
    )


def _whats(circle) -> list[str]:
    """The commitments in the live plan."""
    return _db.session.scalars(
        select(Commitment.what)
        .where(Commitment.circle_id == circle.id, Commitment.active.is_(True))
        .order_by(Commitment.id)
    ).all()


def _proposals(circle) -> list[Proposal]:
    return _db.session.scalars(
        select(Proposal).where(Proposal.circle_id == circle.id).order_by(Proposal.id)
    ).all()


def _votes(proposal) -> dict[int, tuple]:
    return {
        v.membership_id: (v.answer, v.reason)
        for v in _db.session.scalars(
            select(ProposalVote).where(ProposalVote.proposal_id == proposal.id)
        )
    }


def _completions(commitment) -> list[Completion]:
    return _db.session.scalars(
        select(Completion).where(Completion.commitment_id == commitment.id).order_by(Completion.id)
    ).all()


def _count_queries(fn) -> int:
    statements = []

    def count(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("PRAGMA", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    event.listen(_db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(_db.engine, "before_cursor_execute", count)
    return len(statements)


@dataclass
class Family:
    circle: Circle
    coord: Membership
    sanne: Membership  # central person
    oma: Membership  # member
    piet: Membership  # supporter
    prof: Membership  # professional
    football: Commitment
    plan: str  # the plan page's URL


@pytest.fixture
def make_family(make_circle, add_member):
    """A circle with three voters (Sanne, Oma, Piet), a coordinator and a professional,
    one weekly commitment and one agreement; agreed (version 1) unless ``agreed=False``."""

    def make(agreed: bool = True) -> Family:
        circle, coord = make_circle()
        sanne = add_member(circle, role="central", name="Sanne")
        oma = add_member(circle, name="Oma")
        piet = add_member(circle, role="supporter", name="Piet")
        prof = add_member(circle, role="professional", name="Dr Vos")
        football = _add(
            circle,
            coord,
            "Take Sam to football",
            [oma],
            kind="weekly",
            start=WED,
            weekdays=[2],
            checker=sanne,
        )
        plan_data.add_agreement(circle, coord, "If Oma is ill, Sanne drives.")
        _db.session.commit()
        if agreed:
            _agree(circle, coord, [sanne, oma, piet])
        return Family(circle, coord, sanne, oma, piet, prof, football, f"/c/{circle.id}/plan")

    return make


@pytest.fixture
def family(make_family) -> Family:
    return make_family()


def _propose_school(f: Family, browser, by=None) -> Proposal:
    resp = _post(
        browser(by or f.oma),
        f"{f.plan}/commitments/new",
        _form("Call the school", [f.oma], reason="Sam asked"),
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return _proposals(f.circle)[-1]


def _answer(f: Family, browser, m, proposal, answer="consent", reason=""):
    return _post(
        browser(m),
        f"{f.plan}/proposals/{proposal.id}/answer",
        {"answer": answer, "reason": reason},
    )


# --- 1. Consent ------------------------------------------------------------------------


def test_a_proposal_enters_the_plan_only_after_every_voter_consents(family, browser):
    f = family
    p = _propose_school(f, browser)
    # The voters are fixed when the change is proposed: central, member and supporter.
    assert set(_votes(p)) == {f.sanne.id, f.oma.id, f.piet.id}
    assert _votes(p)[f.oma.id][0] == "consent"  # proposing is consenting

    # One consent (the proposer's) and then two: nothing changes.
    assert _versions(f.circle) == [1] and "Call the school" not in _whats(f.circle)
    assert _answer(f, browser, f.sanne, p).status_code == 302
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN
    assert _versions(f.circle) == [1] and "Call the school" not in _whats(f.circle)
    html = browser(f.piet).get(f.plan).get_data(as_text=True)
    assert "Call the school" in html and "I agree" in html and "has not answered yet" in html

    # The third consent applies it: exactly one new version, with everyone named.
    assert _answer(f, browser, f.piet, p).status_code == 302
    assert "Everyone agreed. The plan has a new version." in browser(f.piet).get(f.plan).get_data(
        as_text=True
    )
    p = _db.session.get(Proposal, p.id)
    assert p.status == ProposalStatus.APPLIED and p.applied_version == 2
    assert _versions(f.circle) == [1, 2]
    assert _whats(f.circle).count("Call the school") == 1
    v2 = _version(f.circle, 2)
    assert v2.reason == "consent" and v2.agreed_by == ["Oma", "Piet", "Sanne"]
    assert "Call the school" in [c["what"] for c in v2.snapshot["commitments"]]

    # A late second click changes nothing.
    _answer(f, browser, f.sanne, p)
    assert _versions(f.circle) == [1, 2] and _whats(f.circle).count("Call the school") == 1


def test_an_objection_needs_a_reason_and_keeps_the_proposal_open(family, browser):
    f = family
    p = _propose_school(f, browser)
    for empty in ("", "   "):
        assert _answer(f, browser, f.sanne, p, "object", empty).status_code == 302
        html = browser(f.sanne).get(f.plan).get_data(as_text=True)
        assert "Please say why you object, so the circle can talk about it." in html
        assert _votes(p)[f.sanne.id] == (None, "")

    _answer(f, browser, f.sanne, p, "object", "The school is closed that week")
    assert _votes(p)[f.sanne.id] == ("object", "The school is closed that week")
    _answer(f, browser, f.piet, p)  # everyone else agrees: still not enough
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN
    assert _versions(f.circle) == [1] and "Call the school" not in _whats(f.circle)
    html = browser(f.oma).get(f.plan).get_data(as_text=True)
    assert "The school is closed that week" in html
    assert "Someone objects, so this waits for the next follow-up meeting." in html


def test_professionals_and_the_coordinator_do_not_vote(family, browser):
    f = family
    p = _propose_school(f, browser)
    before = _votes(p)
    for m in (f.coord, f.prof):
        html = browser(m).get(f.plan).get_data(as_text=True)
        assert "Call the school" in html and "I agree" not in html
        assert _answer(f, browser, m, p).status_code == 403
        assert _answer(f, browser, m, p, "object", "I do not like it").status_code == 403
    assert _votes(p) == before
    assert f.coord.id not in before and f.prof.id not in before

    # The three voters decide alone: neither of them is waited for.
    _answer(f, browser, f.sanne, p)
    _answer(f, browser, f.piet, p)
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.APPLIED
    assert _versions(f.circle) == [1, 2]
    assert _version(f.circle, 2).agreed_by == ["Oma", "Piet", "Sanne"]


def test_a_removed_member_no_longer_blocks_a_proposal(family, browser, add_member):
    f = family
    kees = add_member(f.circle, name="Kees")
    p = _propose_school(f, browser)
    assert set(_votes(p)) == {f.sanne.id, f.oma.id, f.piet.id, kees.id}
    _answer(f, browser, f.sanne, p)

    # Removing one of the two who have not answered: the other still blocks.
    resp = _post(browser(f.sanne), f"/c/{f.circle.id}/members/{kees.id}/remove")
    assert resp.status_code == 302
    assert _db.session.get(Membership, kees.id).status == MembershipStatus.REMOVED
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.OPEN
    assert _versions(f.circle) == [1]

    # Removing the last one who has not answered: everyone left agreed, so it applies.
    resp = _post(browser(f.sanne), f"/c/{f.circle.id}/members/{f.piet.id}/remove")
    assert resp.status_code == 302
    assert _db.session.get(Membership, f.piet.id).status == MembershipStatus.REMOVED
    p = _db.session.get(Proposal, p.id)
    assert p.status == ProposalStatus.APPLIED and _versions(f.circle) == [1, 2]
    assert _version(f.circle, 2).agreed_by == ["Oma", "Sanne"]
    assert "Call the school" in _whats(f.circle)


def test_a_member_who_leaves_no_longer_blocks_a_proposal(family, browser):
    f = family
    p = _propose_school(f, browser)
    _answer(f, browser, f.sanne, p)
    piet = browser(f.piet)
    assert piet.get(f"/c/{f.circle.id}/leave").status_code == 200
    assert _post(piet, f"/c/{f.circle.id}/leave").status_code == 302
    assert _db.session.get(Membership, f.piet.id).status == MembershipStatus.LEFT
    p = _db.session.get(Proposal, p.id)
    assert p.status == ProposalStatus.APPLIED and _versions(f.circle) == [1, 2]
    assert _version(f.circle, 2).agreed_by == ["Oma", "Sanne"]


def test_someone_named_in_an_open_proposal_can_still_leave_or_be_removed(
    family, browser, add_member
):
    """A proposal that gives Piet (or Kees) a task must not lock him in: once he is gone
    it can no longer apply as written, so it stays open (its proposer can withdraw it)
    instead of entering the plan with someone who is not in the circle."""
    f = family
    kees = add_member(f.circle, name="Kees")
    sanne = browser(f.sanne)
    for who in (f.piet, kees):
        _post(sanne, f"{f.plan}/commitments/new", _form(f"{who.display_name} mows", [who]))
    piet_task, kees_task = _proposals(f.circle)
    for p in (piet_task, kees_task):
        _answer(f, browser, f.oma, p)
    _answer(f, browser, kees, piet_task)  # only Piet has not answered it
    _answer(f, browser, f.piet, kees_task)  # only Kees has not answered it

    assert _post(browser(f.piet), f"/c/{f.circle.id}/leave").status_code == 302
    assert _db.session.get(Membership, f.piet.id).status == MembershipStatus.LEFT
    assert _post(sanne, f"/c/{f.circle.id}/members/{kees.id}/remove").status_code == 302
    assert _db.session.get(Membership, kees.id).status == MembershipStatus.REMOVED
    assert _whats(f.circle) == ["Take Sam to football"] and _versions(f.circle) == [1]
    assert [p.status for p in _proposals(f.circle)] == [ProposalStatus.OPEN] * 2
    # The proposer withdraws what can no longer be.
    _post(sanne, f"{f.plan}/proposals/{piet_task.id}/withdraw")
    assert _db.session.get(Proposal, piet_task.id).status == ProposalStatus.WITHDRAWN


def test_a_removed_voter_is_disconnected_and_hears_no_more_of_the_chat(
    family, browser, add_member, socket_client
):
    """Issue 10, hole 4. Kees is the only voter who has not answered a proposal that
    gives him a task. Removing him reconsiders that proposal in a savepoint, which rolls
    back (it cannot apply without him); that rollback used to throw away the whole
    after-commit queue, with it the closing of Kees's socket, and Kees went on reading."""
    f = family
    kees = add_member(f.circle, name="Kees")
    _post(browser(f.sanne), f"{f.plan}/commitments/new", _form("Kees mows", [kees]))
    (task,) = _proposals(f.circle)
    _answer(f, browser, f.oma, task)
    _answer(f, browser, f.piet, task)
    assert _votes(task)[kees.id] == (None, "")

    socks = {m.id: socket_client(m.user, http=browser(m)) for m in (kees, f.oma, f.piet)}
    for s in socks.values():
        assert s.emit("chat:join", {"circle_id": f.circle.id})["ok"]
        s.get_received()

    resp = _post(browser(f.sanne), f"/c/{f.circle.id}/members/{kees.id}/remove")
    assert resp.status_code == 302
    assert _db.session.get(Membership, kees.id).status == MembershipStatus.REMOVED
    assert _db.session.get(Proposal, task.id).status == ProposalStatus.OPEN

    ack = socks[f.oma.id].emit(
        "chat:send",
        {"circle_id": f.circle.id, "client_id": "after-removal-1", "body": "Kees is gone"},
    )
    assert ack["ok"]

    def bodies(sock):
        if not sock.is_connected():
            return []
        return [
            e["args"][0]["message"]["body"]
            for e in sock.get_received()
            if e["name"] == "chat:message"
        ]

    assert bodies(socks[f.piet.id]) == ["Kees is gone"]  # the circle heard it: the sentinel
    assert bodies(socks[kees.id]) == []  # Kees did not
    assert not socks[kees.id].is_connected()
    assert socks[f.piet.id].is_connected() and socks[f.oma.id].is_connected()


# --- 2. Draft versus agreed ------------------------------------------------------------


def test_before_agreement_coordinator_and_central_enter_the_plan_directly(make_family, browser):
    f = make_family(agreed=False)
    for m, what in ((f.coord, "Cook on Mondays"), (f.sanne, "Cook on Tuesdays")):
        resp = _post(browser(m), f"{f.plan}/commitments/new", _form(what, [f.oma]))
        assert resp.status_code == 302
        assert what in _whats(f.circle)
    cook = _db.session.scalar(select(Commitment).where(Commitment.what == "Cook on Mondays"))
    edit = f"{f.plan}/commitments/{cook.id}/edit"
    assert _post(browser(f.sanne), edit, _form("Cook on Fridays", [f.oma])).status_code == 302
    assert "Cook on Fridays" in _whats(f.circle) and "Cook on Mondays" not in _whats(f.circle)
    _post(browser(f.coord), f"{f.plan}/agreements", {"text": "If it rains, we stay in."})
    _post(browser(f.coord), f"{f.plan}/evaluation", {"date": "2027-02-01"})
    assert "If it rains, we stay in." in [a.text for a in svc.agreements(f.circle)]
    assert svc.get_plan(f.circle).evaluation_date == date(2027, 2, 1)
    assert _proposals(f.circle) == [] and _versions(f.circle) == []

    # A member, a supporter and a professional cannot write the draft. The professional
    # may not touch it at all; the member and the supporter may suggest (issue 14):
    # each suggestion is a proposal to the circle, and the draft stays as it was
    # (tests/test_suggestions.py follows one through consent).
    before = (_whats(f.circle), [a.text for a in svc.agreements(f.circle)])
    b = browser(f.prof)
    assert b.get(f"{f.plan}/commitments/new").status_code == 403
    assert _post(b, f"{f.plan}/commitments/new", _form("Mine", [f.prof])).status_code == 403
    assert b.get(edit).status_code == 403
    assert _post(b, edit, _form("Hacked", [f.oma])).status_code == 403
    assert _post(b, f"{f.plan}/commitments/{cook.id}/remove").status_code == 403
    assert _post(b, f"{f.plan}/agreements", {"text": "Mine"}).status_code == 403
    assert _post(b, f"{f.plan}/evaluation", {"date": "2030-01-01"}).status_code == 403
    assert _post(b, f"{f.plan}/agree", {"present": [str(f.prof.id)]}).status_code == 403
    for m in (f.oma, f.piet):
        b = browser(m)
        assert b.get(f"{f.plan}/commitments/new").status_code == 200
        assert _post(b, f"{f.plan}/commitments/new", _form("Mine", [m])).status_code == 302
        assert _post(b, edit, _form("Changed", [f.oma])).status_code == 302
        assert _post(b, f"{f.plan}/commitments/{cook.id}/remove").status_code == 302
        assert _post(b, f"{f.plan}/agreements", {"text": "Mine"}).status_code == 302
        assert _post(b, f"{f.plan}/evaluation", {"date": "2030-01-01"}).status_code == 302
        assert _post(b, f"{f.plan}/agree", {"present": [str(m.id)]}).status_code == 403
    assert (_whats(f.circle), [a.text for a in svc.agreements(f.circle)]) == before
    assert svc.get_plan(f.circle).evaluation_date == date(2027, 2, 1)
    assert [p.kind for p in _proposals(f.circle)] == 2 * [
        "add_commitment",
        "change_commitment",
        "remove_commitment",
        "add_agreement",
        "set_evaluation_date",
    ]
    assert _versions(f.circle) == []

    # Recording who agreed makes version 1.
    resp = _post(browser(f.coord), f"{f.plan}/agree", {"present": [str(f.sanne.id), str(f.oma.id)]})
    assert resp.status_code == 302 and _versions(f.circle) == [1]


def test_when_fields_that_do_not_fit_the_kind_are_ignored(make_family, browser):
    """The form hides the fields of other kinds of schedule, but they keep what was typed
    before switching (and without JavaScript they all show). "Once, by a date" with a
    forgotten end before the date, weekdays and an interval must still save cleanly."""
    f = make_family(agreed=False)
    leftovers = {"end": "2026-12-01", "weekdays": ["0", "2"], "interval": "3"}
    resp = _post(
        browser(f.sanne),
        f"{f.plan}/commitments/new",
        _form("Call the school", [f.oma], kind="once", start="2026-12-10", **leftovers),
    )
    assert resp.status_code == 302
    c = _db.session.scalar(select(Commitment).where(Commitment.what == "Call the school"))
    assert (c.schedule_kind, c.start, c.end, c.weekdays, c.interval) == (
        "once",
        date(2026, 12, 10),
        None,
        "",
        1,
    )
    resp = _post(
        browser(f.sanne),
        f"{f.plan}/commitments/new",
        _form("Swim", [f.oma], kind="weekly", start="2026-12-10", **leftovers),
    )
    assert resp.status_code == 400  # the end really is before the start for "weekly"
    assert "Swim" not in _whats(f.circle)
    _post(
        browser(f.sanne),
        f"{f.plan}/commitments/new",
        _form(
            "Swim",
            [f.oma],
            kind="weekly",
            start="2026-12-10",
            end="2027-03-01",
            weekdays=["2"],
            interval="3",
        ),
    )
    c = _db.session.scalar(select(Commitment).where(Commitment.what == "Swim"))
    assert (c.schedule_kind, c.end, c.weekdays, c.interval) == (
        "weekly",
        date(2027, 3, 1),
        "2",
        1,
    )


def test_after_agreement_the_same_forms_make_proposals(family, browser):
    f = family
    url_new = f"{f.plan}/commitments/new"
    edit = f"{f.plan}/commitments/{f.football.id}/edit"
    remove = f"{f.plan}/commitments/{f.football.id}/remove"
    agreement = svc.agreements(f.circle)[0]
    live = (_whats(f.circle), [a.text for a in svc.agreements(f.circle)])

    # The coordinator entered the draft, but does not vote: no more changes.
    c = browser(f.coord)
    assert c.get(url_new).status_code == 403
    assert _post(c, url_new, _form("Coordinator's idea", [f.oma])).status_code == 403
    assert _post(c, edit, _form("Changed", [f.oma])).status_code == 403
    # Recording agreement again does not make another version.
    _post(c, f"{f.plan}/agree", {"present": [str(f.sanne.id)]})
    assert _versions(f.circle) == [1]

    # The central person's edits become proposals; the live plan stays as agreed.
    s = browser(f.sanne)
    assert "Send the proposal" in s.get(url_new).get_data(as_text=True)
    assert _post(s, edit, _form("Take Sam to hockey", [f.oma])).status_code == 302
    assert _post(s, remove).status_code == 302
    _post(s, f"{f.plan}/agreements/{agreement.id}/remove")
    _post(s, f"{f.plan}/agreements", {"text": "If Sam is ill, he stays home."})
    _post(s, f"{f.plan}/evaluation", {"date": "2027-03-01"})
    # The service the forms call proposes as well: it never edits the agreed plan.
    sneaky = _data("Sneaky", [f.oma]).to_payload()
    assert isinstance(svc.change(f.circle, f.sanne, "add_commitment", payload=sneaky), Proposal)
    assert "Sneaky" not in _whats(f.circle)
    _db.session.rollback()
    assert (_whats(f.circle), [a.text for a in svc.agreements(f.circle)]) == live
    assert svc.get_plan(f.circle).evaluation_date is None
    assert [p.kind for p in _proposals(f.circle)] == [
        "change_commitment",
        "remove_commitment",
        "remove_agreement",
        "add_agreement",
        "set_evaluation_date",
    ]
    assert all(p.status == ProposalStatus.OPEN for p in _proposals(f.circle))
    assert _versions(f.circle) == [1]

    # Any voting member proposes: a member and a supporter.
    for m, what in ((f.oma, "Oma bakes"), (f.piet, "Piet reads")):
        assert _post(browser(m), url_new, _form(what, [m])).status_code == 302
        assert _proposals(f.circle)[-1].proposer_id == m.id
        assert what not in _whats(f.circle)

    # A professional cannot propose anything.
    count = len(_proposals(f.circle))
    b = browser(f.prof)
    assert b.get(url_new).status_code == 403
    assert _post(b, url_new, _form("Prof's task", [f.oma])).status_code == 403
    assert _post(b, edit, _form("Prof's change", [f.oma])).status_code == 403
    assert _post(b, remove).status_code == 403
    assert _post(b, f"{f.plan}/agreements", {"text": "Prof says"}).status_code == 403
    assert _post(b, f"{f.plan}/evaluation", {"date": "2030-01-01"}).status_code == 403
    assert len(_proposals(f.circle)) == count


# --- 3. Ticks --------------------------------------------------------------------------


@pytest.fixture
def ticking(make_family, add_member):
    """An agreed plan: the family plus Kees (plan keeper), a one-off job with a checklist
    for Oma and another one for Piet."""
    f = make_family(agreed=False)
    kees = add_member(f.circle, name="Kees")
    kees.is_plan_keeper = True
    bike = _add(f.circle, f.coord, "Fix the bike", [f.oma], items=["Buy a tyre", "Fit the tyre"])
    cook = _add(f.circle, f.coord, "Cook", [f.piet], items=["Shop"])
    _agree(f.circle, f.coord, [f.sanne, f.oma, f.piet, kees])
    return f, kees, bike, cook


def _tick(f, client, c, occurrence, note=""):
    return _post(
        client, f"{f.plan}/commitments/{c.id}/tick", {"occurrence": occurrence, "note": note}
    )


def test_who_may_tick(ticking, browser):
    f, kees, bike, _cook = ticking
    turns = [(WED + timedelta(weeks=i)).isoformat() for i in range(5)]
    for m, turn in ((f.oma, turns[0]), (f.sanne, turns[1]), (kees, turns[2])):
        assert _tick(f, browser(m), f.football, turn).status_code == 302
        assert _completions(f.football)[-1].by_id == m.id
    assert _tick(f, browser(f.oma), bike, f"item:{bike.items[0].id}").status_code == 302
    # Another member, the professional, the coordinator: refused, nothing stored.
    for m in (f.piet, f.prof, f.coord):
        assert _tick(f, browser(m), f.football, turns[3]).status_code == 403
        assert _tick(f, browser(m), bike, f"item:{bike.items[1].id}").status_code == 403
    assert [c.occurrence for c in _completions(f.football)] == turns[:3]
    assert len(_completions(bike)) == 1
    # The plan page offers a tick button only to those who may tick.
    html = browser(f.piet).get(f.plan).get_data(as_text=True)
    assert f'action="{f.plan}/commitments/{f.football.id}/tick"' not in html


def test_forged_occurrences_are_refused_and_store_nothing(ticking, browser):
    f, _kees, bike, cook = ticking
    oma = browser(f.oma)
    forged = {
        f.football: [
            (WED + timedelta(days=1)).isoformat(),  # a Thursday: not a turn
            (WED - timedelta(weeks=1)).isoformat(),  # a Wednesday before it started
            "2026-W45-3",  # the first turn, in ISO week notation
            "20261104",  # the first turn, without dashes
            "once",
            f"item:{bike.items[0].id}",
            "2026-02-30",
            "'; DROP TABLE completions; --",
            "item:",
            "x" * 40,
        ],
        bike: ["once", f"item:{cook.items[0].id}", "item:abc", WED.isoformat(), "item:999999"],
    }
    for c, keys in forged.items():
        for key in keys:
            assert _tick(f, oma, c, key).status_code == 302
            html = oma.get(f.plan).get_data(as_text=True)
            assert "This is not something to tick here." in html, key
    assert _db.session.scalar(select(func.count()).select_from(Completion)) == 0
    # A commitment of another circle is not there at all.
    resp = _post(oma, f"/c/{f.circle.id}/plan/commitments/999999/tick", {"occurrence": "once"})
    assert resp.status_code == 404


def test_a_tick_can_be_undone_by_its_ticker_for_five_minutes(ticking, browser):
    f, _kees, _bike, _cook = ticking
    oma, sanne = browser(f.oma), browser(f.sanne)
    _tick(f, oma, f.football, WED.isoformat())
    done = _completions(f.football)[0]
    undo = f"{f.plan}/completions/{done.id}/undo"

    # Someone else cannot undo it.
    assert _post(sanne, undo).status_code == 302
    assert "Only the person who ticked it can undo it." in sanne.get(f.plan).get_data(as_text=True)
    assert _db.session.get(Completion, done.id).undone_at is None

    # The ticker can, right away: the row stays, marked undone.
    assert _post(oma, undo).status_code == 302
    assert _db.session.get(Completion, done.id).undone_at is not None

    # Ticked again, but longer than five minutes ago: too late.
    _tick(f, oma, f.football, WED.isoformat())
    again = _completions(f.football)[-1]
    assert again.id != done.id and again.undone_at is None
    again.at = utcnow() - timedelta(minutes=6)
    _db.session.commit()
    assert _post(oma, f"{f.plan}/completions/{again.id}/undo").status_code == 302
    assert "A tick can be undone for 5 minutes only." in oma.get(f.plan).get_data(as_text=True)
    assert _db.session.get(Completion, again.id).undone_at is None


def test_the_undo_button_shows_for_the_ticker_only_and_only_while_it_works(make_family, browser):
    f = make_family(agreed=False)
    soup = _add(f.circle, f.sanne, "Bring soup", [f.oma])
    oma, sanne = browser(f.oma), browser(f.sanne)
    _post(oma, f"{f.plan}/commitments/{soup.id}/tick", {"occurrence": "once"})
    done = _completions(soup)[0]
    undo = f'action="{f.plan}/completions/{done.id}/undo"'
    assert undo in oma.get(f.plan).get_data(as_text=True)
    assert undo in oma.get("/me/commitments").get_data(as_text=True)
    assert undo not in sanne.get(f.plan).get_data(as_text=True)
    done.at = utcnow() - timedelta(minutes=6)
    _db.session.commit()
    page = oma.get(f.plan).get_data(as_text=True)
    assert "Done by Oma." in page and undo not in page  # too late: no button that fails


def test_a_long_history_of_ticks_comes_in_pages_newest_first(ticking, browser):
    """Two years of weekly ticks must not make one endless page."""
    f, _kees, _bike, _cook = ticking
    start = utcnow() - timedelta(weeks=40)
    for i in range(30):
        turn = WED + timedelta(weeks=i)
        _db.session.add(
            Completion(
                commitment_id=f.football.id,
                occurrence=turn.isoformat(),
                by_id=f.oma.id,
                note=f"week {i}",
                at=start + timedelta(weeks=i),
            )
        )
    _db.session.commit()
    history = f"{f.plan}/commitments/{f.football.id}/history"
    page1 = browser(f.piet).get(history).get_data(as_text=True)
    notes1 = re.findall(r"week (\d+)", page1)
    assert notes1 == [str(i) for i in range(29, 4, -1)]  # 25 newest, newest first
    assert f'href="{history}?page=2"' in page1 and "Page 1 of 2" in page1
    page2 = browser(f.piet).get(f"{history}?page=2").get_data(as_text=True)
    assert re.findall(r"week (\d+)", page2) == ["4", "3", "2", "1", "0"]
    assert f'href="{history}?page=1"' in page2


def test_a_repeating_commitment_keeps_every_turn_in_its_history(ticking, browser):
    f, kees, _bike, _cook = ticking
    turns = [WED + timedelta(weeks=i) for i in range(3)]
    for m, turn in zip((f.oma, f.sanne, kees), turns, strict=True):
        _tick(f, browser(m), f.football, turn.isoformat(), note=f"note {turn.isoformat()}")
    history = f"{f.plan}/commitments/{f.football.id}/history"

    def entries():
        html = browser(f.piet).get(history).get_data(as_text=True)
        ol = re.search(r'<ol class="history">(.*?)</ol>', html, re.S).group(1)
        return re.findall(r"<li>(.*?)</li>", ol, re.S)

    rows = entries()
    assert len(rows) == 3
    for m, turn in zip((f.oma, f.sanne, kees), turns, strict=True):
        row = next(r for r in rows if f"note {turn.isoformat()}" in r)
        assert m.display_name in row and "undone" not in row

    # Oma undoes hers: it stays in the history, marked undone.
    first = _completions(f.football)[0]
    _post(browser(f.oma), f"{f.plan}/completions/{first.id}/undo")
    rows = entries()
    assert len(rows) == 3
    assert [("(undone)" in r) for r in rows].count(True) == 1
    assert "(undone)" in next(r for r in rows if f"note {turns[0].isoformat()}" in r)


# --- 4. Help ---------------------------------------------------------------------------


def test_asking_for_help_reaches_the_central_person_and_plan_keeper_only(
    family, browser, add_member, socket_client
):
    f = family
    kees = add_member(f.circle, name="Kees")
    kees.is_plan_keeper = True
    _db.session.commit()
    sockets = {m.id: socket_client(m.user) for m in (f.sanne, kees, f.piet)}
    for s in sockets.values():
        assert s.is_connected()
        s.get_received()

    # Piet is not one of the people who do it: he cannot raise it.
    help_url = f"{f.plan}/commitments/{f.football.id}/help"
    _post(browser(f.piet), help_url)
    assert _db.session.get(Commitment, f.football.id).help_requested_at is None
    # Oma does it, and asks.
    assert _post(browser(f.oma), help_url).status_code == 302
    assert _db.session.get(Commitment, f.football.id).help_requested_by_id == f.oma.id

    for m in (f.sanne, kees):
        html = browser(m).get(f"/c/{f.circle.id}").get_data(as_text=True)
        top = html.index("Someone would like help")
        assert top < html.index("People in this circle") < html.index("What happened")
        section = html[top : html.index("</section>", top)]
        assert "Take Sam to football" in section and "If Oma is ill, Sanne drives." in section
        notices = [e["args"][0] for e in sockets[m.id].get_received() if e["name"] == "notice"]
        assert len(notices) == 1
        assert set(notices[0]) == {"type", "op", "circle_id"}
        assert notices[0]["circle_id"] == f.circle.id
        raw = json.dumps(notices[0])
        assert "football" not in raw and "Oma" not in raw and "Sam" not in raw

    html = browser(f.piet).get(f"/c/{f.circle.id}").get_data(as_text=True)
    assert "Someone would like help" not in html
    assert [e for e in sockets[f.piet.id].get_received() if e["name"] == "notice"] == []


# --- 5. Health -------------------------------------------------------------------------


def test_the_plan_shows_how_each_commitment_is_doing(make_family, browser, monkeypatch):
    monkeypatch.setattr("portal.services.plan_view.today_in", lambda tz: TODAY)
    f = make_family(agreed=False)
    plan_data.remove_commitment(f.circle, f.coord, f.football)
    day = timedelta(days=1)
    expected = {}

    def add(what, health, **kw):
        c = plan_data.add_commitment(f.circle, f.coord, _data(what, [f.oma], **kw))
        expected[c.id] = health
        return c

    add("Far ahead", "on_track", start=TODAY + 10 * day)
    add("In two days", "due_soon", start=TODAY + 2 * day)
    add("Today", "due_soon", start=TODAY)
    add("Yesterday", "overdue", start=TODAY - day)
    add(
        "A period that ended", "overdue", kind="period", start=TODAY - 10 * day, end=TODAY - 2 * day
    )
    # Yesterday was a Sunday: one routine's turn was missed, the other's was done.
    add("Sundays, missed", "overdue", kind="weekly", start=TODAY - 14 * day, weekdays=[6])
    sundays = add("Sundays, done", "on_track", kind="weekly", start=TODAY - 14 * day, weekdays=[6])
    done = add("Done already", "done", start=TODAY - 3 * day)
    helped = add("Help wanted", "needs_help", start=TODAY + 20 * day)
    _db.session.commit()
    svc.tick(f.circle, f.oma, sundays, (TODAY - day).isoformat())
    svc.tick(f.circle, f.oma, done, "once")
    svc.request_help(f.circle, f.oma, helped)
    _db.session.commit()

    html = browser(f.sanne).get(f.plan).get_data(as_text=True)
    shown = {
        int(cid): h
        for h, cid in re.findall(r'class="card commitment health-border-(\w+)" id="c(\d+)"', html)
    }
    assert shown == expected
    labels = {
        "on_track": "On track",
        "due_soon": "Due soon",
        "overdue": "Overdue",
        "needs_help": "Needs help",
        "done": "Done",
    }
    for cid, h in expected.items():
        article = html[html.index(f'id="c{cid}"') :]
        assert re.search(rf'<p class="health health-{h}">{labels[h]}</p>', article[:400])
    summary = dict(re.findall(r'<li class="health health-(\w+)">[^:<]+: (\d+)</li>', html))
    assert summary == {
        "on_track": "2",
        "due_soon": "2",
        "overdue": "3",
        "needs_help": "1",
        "done": "1",
    }


# --- 6. Versions never change ----------------------------------------------------------


def test_no_route_writes_to_a_version(app, family, browser):
    f = family
    rules = [r for r in app.url_map.iter_rules() if "/versions" in r.rule]
    assert rules, "the versions pages exist"
    for rule in rules:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, (rule.rule, rule.methods)
    before = _version(f.circle, 1).snapshot
    s = browser(f.sanne)
    token = csrf_from(s.get("/account"))
    for url in (f"{f.plan}/versions", f"{f.plan}/versions/1"):
        for method in ("post", "put", "patch", "delete"):
            resp = getattr(s, method)(url, data={"csrf_token": token, "snapshot": "{}"})
            assert resp.status_code == 405, (method, url)
    assert _version(f.circle, 1).snapshot == before


def _raw_snapshot(circle, number) -> str:
    return _db.session.execute(
        text(
            "SELECT CAST(snapshot AS TEXT) FROM plan_versions WHERE circle_id = :c AND number = :n"
        ),
        {"c": circle.id, "n": number},
    ).scalar_one()


def test_version_one_stays_exactly_as_agreed(family, browser, add_member):
    f = family
    raw = _raw_snapshot(f.circle, 1)
    v1_export = json.loads(browser(f.piet).get(f"{f.plan}/export.json").data)["versions"][0]
    kees = add_member(f.circle, name="Kees")
    oma, sanne, piet, prof = (browser(m) for m in (f.oma, f.sanne, f.piet, f.prof))

    _tick(f, oma, f.football, WED.isoformat(), note="went well")
    # A change to the football commitment: proposed, consented, version 2.
    edit = f"{f.plan}/commitments/{f.football.id}/edit"
    _post(
        piet,
        edit,
        _form(
            "Take Sam to football and swimming",
            [f.oma, f.piet],
            kind="weekly",
            start=WED.isoformat(),
            weekdays=["2", "4"],
        ),
    )
    change = _proposals(f.circle)[-1]
    for m in (f.sanne, f.oma, kees):
        _answer(f, browser, m, change)
    assert _versions(f.circle) == [1, 2]
    # An objection, conditions, another change, an acceptance, an undo, a removal.
    _post(sanne, f"{f.plan}/agreements/{svc.agreements(f.circle)[0].id}/remove")
    _answer(f, browser, f.oma, _proposals(f.circle)[-1], "object", "We still need this")
    _post(prof, f"{f.plan}/conditions", {"text": "No contact with the neighbour"})
    condition = _db.session.scalar(select(Condition))
    _post(prof, f"{f.plan}/conditions/{condition.id}/remove")
    _post(oma, f"{f.plan}/commitments/new", _form("Fix the bike", [f.oma], items="Tyre\nChain"))
    for m in (f.sanne, f.piet, kees):
        _answer(f, browser, m, _proposals(f.circle)[-1])
    _post(prof, f"{f.plan}/accept", {"version": "5"})
    _post(oma, f"{f.plan}/completions/{_completions(f.football)[0].id}/undo")
    _post(sanne, f"/c/{f.circle.id}/members/{kees.id}/remove")
    _post(oma, f"{f.plan}/evaluation", {"date": "2027-06-01"})
    for m in (f.sanne, f.piet):
        _answer(f, browser, m, _proposals(f.circle)[-1])
    assert _versions(f.circle) == [1, 2, 3, 4, 5, 6]

    assert _raw_snapshot(f.circle, 1) == raw
    assert json.loads(piet.get(f"{f.plan}/export.json").data)["versions"][0] == v1_export
    page = piet.get(f"{f.plan}/versions/1").get_data(as_text=True)
    assert "Take Sam to football" in page and "swimming" not in page
    assert "If Oma is ill, Sanne drives." in page

    diff = piet.get(f"{f.plan}/diff?a=1&b=2").get_data(as_text=True)
    assert "Take Sam to football and swimming" in diff and "Changed" in diff
    assert "Change agreed by: Kees, Oma, Piet, Sanne" in diff
    assert "Agreed by: Oma, Piet, Sanne" in diff


# --- 7. Professionals ------------------------------------------------------------------


def test_professionals_set_conditions_and_accept_the_plan(family, browser):
    f = family
    prof = browser(f.prof)
    assert "Take Sam to football" in prof.get(f.plan).get_data(as_text=True)

    resp = _post(prof, f"{f.plan}/conditions", {"text": "Sam sleeps at home on school nights"})
    assert resp.status_code == 302
    assert _versions(f.circle) == [1, 2]
    v2 = _version(f.circle, 2)
    assert v2.reason == "condition" and v2.agreed_by == ["Dr Vos"]
    assert v2.snapshot["conditions"][0]["text"] == "Sam sleeps at home on school nights"
    html = browser(f.oma).get(f.plan).get_data(as_text=True)
    assert "Sam sleeps at home on school nights" in html and "Dr Vos" in html

    condition = _db.session.scalar(select(Condition))
    remove = f"{f.plan}/conditions/{condition.id}/remove"
    # Nobody but a professional touches conditions or acceptance.
    for m in (f.oma, f.sanne, f.piet, f.coord):
        b = browser(m)
        assert _post(b, f"{f.plan}/conditions", {"text": "Mine"}).status_code == 403
        assert _post(b, remove).status_code == 403
        assert _post(b, f"{f.plan}/accept", {"version": "2"}).status_code == 403
    assert _db.session.scalar(select(func.count()).select_from(Condition)) == 1
    assert _db.session.get(Condition, condition.id).active
    assert _db.session.scalar(select(func.count()).select_from(Acceptance)) == 0
    assert _versions(f.circle) == [1, 2]

    assert _post(prof, remove).status_code == 302
    assert _versions(f.circle) == [1, 2, 3] and _version(f.circle, 3).reason == "condition"
    assert "Sam sleeps at home on school nights" not in prof.get(f.plan).get_data(as_text=True)
    # Pressing "Remove" twice is not a second change.
    _post(prof, remove)
    assert _versions(f.circle) == [1, 2, 3]

    assert _post(prof, f"{f.plan}/accept", {"version": "99"}).status_code == 404
    assert _post(prof, f"{f.plan}/accept", {"version": "3"}).status_code == 302
    accepted = _db.session.scalar(select(Acceptance))
    assert (accepted.version, accepted.by_id) == (3, f.prof.id)
    html = browser(f.oma).get(f.plan).get_data(as_text=True)
    assert re.search(r"Dr Vos accepted version 3 on \d{1,2} [A-Z][a-z]+ \d{4}\.", html)
    printed = browser(f.oma).get(f"{f.plan}/print").get_data(as_text=True)
    assert "Dr Vos accepted version 3 on" in printed
    assert "Conditions changed by Dr Vos" in printed  # how version 3 came about


def test_a_condition_set_on_the_draft_is_part_of_version_one(make_family, browser):
    f = make_family(agreed=False)
    _post(browser(f.prof), f"{f.plan}/conditions", {"text": "Weekly contact with the school"})
    assert _versions(f.circle) == []
    _agree(f.circle, f.coord, [f.sanne, f.oma, f.piet])
    assert [k["text"] for k in _version(f.circle, 1).snapshot["conditions"]] == [
        "Weekly contact with the school"
    ]


# --- 8. Pages cost the same however big the plan is ------------------------------------


def test_plan_pages_cost_the_same_with_3_or_60_commitments(
    app, make_circle, make_user, add_member, browser, monkeypatch
):
    monkeypatch.setattr("portal.services.plan_view.today_in", lambda tz: TODAY)
    people = {n: make_user(n) for n in ("Sanne", "Oma", "Piet", "Kees", "Dr Vos")}

    def build(title: str, n: int, extra: int) -> tuple[Circle, dict]:
        circle, coord = make_circle(title)
        ms = {
            "sanne": add_member(circle, role="central", name="Sanne", user=people["Sanne"]),
            "oma": add_member(circle, name="Oma", user=people["Oma"]),
            "piet": add_member(circle, role="supporter", name="Piet", user=people["Piet"]),
            "kees": add_member(circle, name="Kees", user=people["Kees"]),
            "prof": add_member(circle, role="professional", name="Dr Vos", user=people["Dr Vos"]),
        }
        sanne, oma, piet, kees, prof = ms.values()
        kees.is_plan_keeper = True
        made = []
        for i in range(n):
            if i % 3 == 0:
                d = _data(
                    f"Bike {i}",
                    [oma, piet],
                    start=TODAY + timedelta(days=5),
                    items=["Buy a tyre", "Fit the tyre"],
                    checker=sanne,
                )
            elif i % 3 == 1:
                d = _data(
                    f"Football {i}",
                    [piet, kees],
                    kind="weekly",
                    start=TODAY - timedelta(7),
                    weekdays=[0],
                    checker=kees,
                )
            else:
                d = _data(
                    f"Garden {i}",
                    [oma, kees, sanne],
                    kind="period",
                    start=TODAY,
                    end=TODAY + timedelta(10),
                    other="Mr Jansen",
                    checker_name="Teacher",
                )
            made.append(plan_data.add_commitment(circle, coord, d))
        plan_data.add_agreement(circle, coord, "If it rains, we stay in.")
        _db.session.commit()
        _agree(circle, coord, [sanne, oma, piet, kees])
        for c in made:
            if c.items:
                svc.tick(circle, oma, c, f"item:{c.items[0].id}", note="bought")
            elif c.schedule_kind == "weekly":
                svc.tick(circle, piet, c, TODAY.isoformat(), note="went")
            else:
                svc.tick(circle, kees, c, "once")
        svc.request_help(circle, oma, made[0])
        for j in range(extra):
            p = svc.propose(circle, oma, "add_agreement", payload={"text": f"Rule {j}"})
            for m in (sanne, piet, kees):
                svc.answer(circle, m, p, True)
            p = svc.propose(circle, piet, "add_agreement", payload={"text": f"Open {j}"})
            svc.answer(circle, sanne, p, False, "Not yet")
            svc.answer(circle, oma, p, True)
            svc.add_condition(circle, prof, f"Condition {j}")
            svc.accept(circle, prof, svc.get_plan(circle).version)
        _db.session.commit()
        return circle, ms

    small, ms = build("Small", 3, 1)
    sanne, oma = browser(ms["sanne"]), browser(ms["oma"])

    def cost(client, url):
        def go():
            resp = client.get(url)
            assert resp.status_code == 200, url

        go()  # the first view may create rows; count a plain view
        return _count_queries(go)

    mine_small = cost(oma, "/me/commitments")
    large, _ = build("Large", 60, 4)
    assert len(_whats(large)) == 60
    mine_large = cost(oma, "/me/commitments")
    assert "Bike 57" in oma.get("/me/commitments").get_data(as_text=True)
    assert mine_small == mine_large, (mine_small, mine_large)
    prof = browser(ms["prof"])
    for path in ("plan", "plan/print", "plan/export.json"):
        a = cost(sanne, f"/c/{small.id}/{path}")
        b = cost(sanne, f"/c/{large.id}/{path}")
        assert a == b, (path, a, b)
        # A professional's look is written to the access log (issue 13): still a fixed
        # number of statements, whatever the plan's size.
        a = cost(prof, f"/c/{small.id}/{path}")
        b = cost(prof, f"/c/{large.id}/{path}")
        assert a == b, (path, a, b)


# --- 9. My commitments -----------------------------------------------------------------


def test_my_commitments_lists_mine_across_circles_and_nothing_else(
    make_circle, make_user, add_member, browser
):
    grandma = make_user("Grandma")
    sam, sam_coord = make_circle("Circle around Sam")
    lisa, lisa_coord = make_circle("Circle around Lisa")
    other, other_coord = make_circle("Circle around Noor")
    g_sam = add_member(sam, name="Grandma", user=grandma)
    g_lisa = add_member(lisa, role="central", name="Oma", user=grandma)
    uncle = add_member(sam, name="Uncle")
    stranger = add_member(other, name="Stranger")
    _add(sam, sam_coord, "Bake for Sam", [g_sam])
    _add(sam, sam_coord, "Bake together", [g_sam, uncle], kind="weekly", start=WED, weekdays=[2])
    _add(sam, sam_coord, "Uncle drives Sam", [uncle])
    gone = _add(sam, sam_coord, "Old task of Grandma", [g_sam])
    plan_data.remove_commitment(sam, sam_coord, gone)
    _add(lisa, lisa_coord, "Read to Lisa", [g_lisa])
    _add(other, other_coord, "Noor's secret task", [stranger])
    _db.session.commit()

    html = browser(g_sam).get("/me/commitments").get_data(as_text=True)
    for text_ in (
        "Circle around Sam",
        "Circle around Lisa",
        "Bake for Sam",
        "Bake together",
        "Read to Lisa",
    ):
        assert text_ in html
    for text_ in (
        "Uncle drives Sam",
        "Old task of Grandma",
        "Noor's secret task",
        "Circle around Noor",
    ):
        assert text_ not in html
    assert "Uncle drives Sam" not in browser(stranger).get("/me/commitments").get_data(as_text=True)


def test_my_commitments_say_where_each_stands_and_can_be_ticked_there(
    make_circle, make_user, add_member, browser, monkeypatch
):
    """A grandmother opens "My commitments", sees what is overdue, ticks it off there,
    and lands back on the same page; undo and "I need help" come back there too."""
    monkeypatch.setattr("portal.services.plan_view.today_in", lambda tz: TODAY)
    grandma = make_user("Grandma")
    sam, sam_coord = make_circle("Circle around Sam")
    lisa, lisa_coord = make_circle("Circle around Lisa")
    g_sam = add_member(sam, name="Grandma", user=grandma)
    g_lisa = add_member(lisa, name="Oma", user=grandma)
    soup = _add(sam, sam_coord, "Bring soup", [g_sam], start=TODAY - timedelta(days=3))
    walk = _add(
        lisa, lisa_coord, "Walk to school", [g_lisa], kind="weekly", start=WED, weekdays=[0]
    )
    bag = _add(lisa, lisa_coord, "Pack the bag", [g_lisa], items=["Gym shoes", "Lunch"])
    me = browser(g_sam)
    mine = "/me/commitments"

    html = me.get(mine).get_data(as_text=True)
    soup_card = html[html.index(f'id="c{soup.id}"') :]
    assert "Overdue" in soup_card[: soup_card.index("</article>")]
    assert "Done for 9 November 2026" in html  # this week's walk
    assert html.count('name="back" value="mine"') >= 4  # soup, walk, two bag items...

    resp = _post(
        me, f"/c/{sam.id}/plan/commitments/{soup.id}/tick", {"occurrence": "once", "back": "mine"}
    )
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"{mine}#c{soup.id}")
    done = _db.session.scalar(select(Completion).where(Completion.commitment_id == soup.id))
    assert done.by_id == g_sam.id
    html = me.get(mine).get_data(as_text=True)
    soup_card = html[html.index(f'id="c{soup.id}"') :]
    soup_card = soup_card[: soup_card.index("</article>")]
    assert "Done by Grandma." in soup_card and "Undo" in soup_card

    item = bag.items[0]
    resp = _post(
        me,
        f"/c/{lisa.id}/plan/commitments/{bag.id}/tick",
        {"occurrence": f"item:{item.id}", "back": "mine"},
    )
    assert resp.headers["Location"].endswith(f"{mine}#c{bag.id}")
    assert "done by Oma" in me.get(mine).get_data(as_text=True)

    resp = _post(me, f"/c/{sam.id}/plan/completions/{done.id}/undo", {"back": "mine"})
    assert resp.headers["Location"].endswith(f"{mine}#c{soup.id}")
    assert _db.session.get(Completion, done.id).undone_at is not None

    resp = _post(me, f"/c/{lisa.id}/plan/commitments/{walk.id}/help", {"back": "mine"})
    assert resp.headers["Location"].endswith(f"{mine}#c{walk.id}")
    html = me.get(mine).get_data(as_text=True)
    walk_card = html[html.index(f'id="c{walk.id}"') :]
    assert "Needs help" in walk_card[: walk_card.index("</article>")]


def test_the_way_back_after_a_tick_is_a_name_never_a_url(make_circle, add_member, browser):
    """``back`` only ever means "My commitments"; anything else returns to the plan, so
    a crafted form cannot send someone to another site."""
    circle, coord = make_circle()
    oma = add_member(circle, name="Oma")
    c = _add(circle, coord, "Bring soup", [oma])
    for back in ("https://evil.example/", "//evil.example", "/me/commitments"):
        _db.session.execute(Completion.__table__.delete().where(Completion.commitment_id == c.id))
        _db.session.commit()
        resp = _post(
            browser(oma),
            f"/c/{circle.id}/plan/commitments/{c.id}/tick",
            {"occurrence": "once", "back": back},
        )
        assert resp.status_code == 302
        assert resp.headers["Location"].endswith(f"/c/{circle.id}/plan#c{c.id}"), back


def test_my_commitments_cost_the_same_queries_in_one_circle_as_in_three(
    make_circle, make_user, add_member, browser
):
    grandma = make_user("Grandma")
    pages = []
    counts = []
    for n in range(3):
        circle, coord = make_circle(f"Circle {n}")
        me = add_member(circle, name="Grandma", user=grandma)
        _add(circle, coord, f"Soup {n}", [me])
        _add(circle, coord, f"List {n}", [me], items=["One", "Two"])
        pages.append(browser(me))  # the same signed-in browser each time
        if n in (0, 2):
            pages[0].get("/me/commitments")
            counts.append(_count_queries(lambda: pages[0].get("/me/commitments")))
    assert "Soup 2" in pages[0].get("/me/commitments").get_data(as_text=True)
    assert counts[0] == counts[1], counts


# --- 10. Export ------------------------------------------------------------------------


def test_the_export_holds_the_whole_plan_history_and_no_chat(family, browser):
    f = family
    chat_svc.send_message(ChatSeat.of(f.oma), "export-test-01", "The door code is 4711-KR, shh")
    _db.session.commit()
    oma = browser(f.oma)
    _tick(f, oma, f.football, WED.isoformat(), note="went well")
    _tick(f, oma, f.football, (WED + timedelta(weeks=1)).isoformat(), note="rainy")
    _post(oma, f"{f.plan}/completions/{_completions(f.football)[-1].id}/undo")
    _post(
        oma,
        f"{f.plan}/commitments/new",
        _form("Call the school", [f.oma], reason="Sam asked", items="Find the number\nCall"),
    )
    applied = _proposals(f.circle)[-1]
    _answer(f, browser, f.sanne, applied)
    _answer(f, browser, f.piet, applied)
    school = _db.session.scalar(select(Commitment).where(Commitment.what == "Call the school"))
    _tick(f, oma, school, f"item:{school.items[0].id}", note="number found")
    _post(oma, f"{f.plan}/agreements", {"text": "If Sam is ill, he stays home.", "reason": "flu"})
    open_ = _proposals(f.circle)[-1]
    _answer(f, browser, f.piet, open_, "object", "Too strict")
    _post(browser(f.prof), f"{f.plan}/accept", {"version": "2"})

    resp = browser(f.piet).get(f"{f.plan}/export.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    body = resp.get_data(as_text=True)
    data = json.loads(body)
    assert data["format"] == "kring-plan/1"
    assert data["version"] == 2
    assert data["circle"]["title"] == f.circle.title
    assert [v["number"] for v in data["versions"]] == [1, 2]
    for v in data["versions"]:
        assert v["plan"] == _version(f.circle, v["number"]).snapshot
    assert data["versions"][1]["reason"] == "consent"
    assert data["versions"][1]["agreed_by"] == ["Oma", "Piet", "Sanne"]
    assert data["current"] == data["versions"][1]["plan"]

    done = {
        (c["commitment_id"], c["occurrence"], c["step"], c["note"], c["by"], c["undone_at"] is None)
        for c in data["completions"]
    }
    assert done == {
        (f.football.id, WED.isoformat(), None, "went well", "Oma", True),
        (f.football.id, (WED + timedelta(weeks=1)).isoformat(), None, "rainy", "Oma", False),
        (school.id, f"item:{school.items[0].id}", "Find the number", "number found", "Oma", True),
    }
    assert school.id in [c["id"] for c in data["current"]["commitments"]]

    by_kind = {p["kind"]: p for p in data["proposals"]}
    school = by_kind["add_commitment"]
    assert school["status"] == "applied" and school["applied_version"] == 2
    assert school["change"]["what"] == "Call the school" and school["reason"] == "Sam asked"
    assert {a["by"]: a["answer"] for a in school["answers"]} == {
        "Oma": "consent",
        "Sanne": "consent",
        "Piet": "consent",
    }
    rule = by_kind["add_agreement"]
    assert rule["status"] == "open" and rule["proposed_by"] == "Oma" and rule["reason"] == "flu"
    answers = {a["by"]: (a["answer"], a["reason"]) for a in rule["answers"]}
    assert answers == {
        "Oma": ("consent", ""),
        "Sanne": (None, ""),
        "Piet": ("object", "Too strict"),
    }
    assert data["acceptances"][0]["version"] == 2 and data["acceptances"][0]["by"] == "Dr Vos"

    # Nothing from the chat, and no accounts.
    assert "4711-KR" not in body and "door code" not in body
    for m in (f.oma, f.sanne, f.piet, f.prof):
        assert f'"{m.user.username}"' not in body


def test_a_removed_commitment_cannot_be_ticked(app, make_circle, add_member):
    """Once a commitment left the plan, ticking it (a stale page, a forged form) stores nothing."""
    from portal.services import ServiceError
    from portal.services import plan as plan_svc
    from portal.services.schedule import Schedule

    circle, coord = make_circle()
    anna = add_member(circle, name="Anna")
    c = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Walk the dog",
            assignee_ids=[anna.id],
            schedule=Schedule(kind="once", start=date(2030, 1, 1)),
        ),
    )
    plan_data.remove_commitment(circle, coord, c)
    _db.session.commit()
    with pytest.raises(ServiceError):
        plan_svc.tick(circle, anna, c, "once")
    _db.session.rollback()
    assert _db.session.scalar(select(func.count()).select_from(Completion)) == 0
