"""Every member can suggest, and no page is silent about why not (issue 14).

Before, a member or supporter could not touch the plan while it was a draft, and the
page just showed no button. Now every voter may suggest a new commitment or a change at
any time; it goes through the consent flow like any proposal: into the draft once every
voter agreed (version 1 takes it in), or a new version once the plan is agreed.
Professionals and the coordinator still may not (they do not vote). Where someone may
not do something, the plan, meetings and home pages say who can, by name.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from portal.access import can_change_plan, can_suggest_change
from portal.extensions import db as _db
from portal.models import Commitment, Membership, PlanVersion, Proposal, ProposalStatus
from portal.services import circles as circle_svc
from portal.services import membership as membership_svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import csrf_from


@pytest.fixture(autouse=True)
def _many_logins(app):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"


@pytest.fixture
def browser(new_client, login):
    open_ = {}

    def get(m: Membership):
        if m.user_id not in open_:
            open_[m.user_id] = login(new_client(), m.user)
        return open_[m.user_id]

    return get


def _post(client, url, data=None):
    token = csrf_from(client.get("/account"))
    return client.post(url, data={**(data or {}), "csrf_token": token})


def _form(what, who, start="2031-05-01") -> dict:
    return {
        "what": what,
        "assignees": [str(m.id) for m in who],
        "kind": "once",
        "start": start,
        "checker": "0",
        "interval": "1",
        "reason": "Sam asked",
    }


@dataclass
class Family:
    circle: object
    coord: Membership
    sanne: Membership  # central person
    tom: Membership  # central person
    oma: Membership  # member
    piet: Membership  # supporter
    vos: Membership  # professional
    plan: str


@pytest.fixture
def family(make_circle, add_member) -> Family:
    circle, coord = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    tom = add_member(circle, role="central", name="Tom")
    oma = add_member(circle, name="Oma")
    piet = add_member(circle, role="supporter", name="Piet")
    vos = add_member(circle, role="professional", name="Dr Vos")
    data = plan_svc.CommitmentData(
        what="Take Sam to football",
        assignee_ids=[oma.id],
        other_assignees="",
        checker_id=None,
        checker_name="",
        items=[],
        schedule=Schedule(kind="weekly", start=date(2026, 11, 4), weekdays=frozenset({2})),
    )
    plan_data.add_commitment(circle, coord, data)
    _db.session.commit()
    return Family(circle, coord, sanne, tom, oma, piet, vos, f"/c/{circle.id}/plan")


def _whats(circle) -> list[str]:
    return _db.session.scalars(
        select(Commitment.what)
        .where(Commitment.circle_id == circle.id, Commitment.active.is_(True))
        .order_by(Commitment.id)
    ).all()


def _proposals(circle) -> list[Proposal]:
    return _db.session.scalars(
        select(Proposal).where(Proposal.circle_id == circle.id).order_by(Proposal.id)
    ).all()


def _agree(f: Family) -> None:
    plan_svc.record_agreement(f.circle, f.coord, [f.sanne.id, f.tom.id, f.oma.id, f.piet.id])
    _db.session.commit()


# --- The rule ----------------------------------------------------------------------------


def test_the_rule_every_voter_suggests_professionals_and_the_coordinator_do_not(family):
    f = family
    for m in (f.sanne, f.tom, f.oma, f.piet):
        assert can_suggest_change(m)
        assert can_change_plan(m, agreed=False) and can_change_plan(m, agreed=True)
    for m in (f.vos, f.coord):
        assert not can_suggest_change(m)
        assert not can_change_plan(m, agreed=True)
    assert not can_change_plan(f.vos, agreed=False)
    assert can_change_plan(f.coord, agreed=False)  # the coordinator types in the draft


def test_a_members_suggestion_to_the_draft_goes_through_consent(family, browser):
    f = family
    page = browser(f.oma).get(f.plan).get_data(as_text=True)
    assert "Propose a new commitment" in page  # not a silent absence any more
    form = browser(f.oma).get(f"{f.plan}/commitments/new").get_data(as_text=True)
    assert "The plan is still being written. Your suggestion goes to everyone" in form
    resp = _post(browser(f.oma), f"{f.plan}/commitments/new", _form("Call the school", [f.oma]))
    assert resp.status_code == 302
    assert _whats(f.circle) == ["Take Sam to football"]  # the draft waits for consent
    (proposal,) = _proposals(f.circle)
    assert proposal.kind == "add_commitment" and proposal.proposer_id == f.oma.id
    assert {v.membership_id for v in proposal.votes} == {f.sanne.id, f.tom.id, f.oma.id, f.piet.id}

    for m in (f.sanne, f.tom, f.piet):
        resp = _post(browser(m), f"{f.plan}/proposals/{proposal.id}/answer", {"answer": "consent"})
        assert resp.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Proposal, proposal.id).status == ProposalStatus.APPLIED
    # In the draft, not a version of its own: version 1 is made when the plan is agreed.
    assert _whats(f.circle) == ["Take Sam to football", "Call the school"]
    assert plan_svc.get_plan(f.circle).version == 0
    assert not _db.session.scalars(select(PlanVersion)).all()
    _agree(f)
    version = _db.session.scalars(select(PlanVersion)).one()
    assert [c["what"] for c in version.snapshot["commitments"]] == [
        "Take Sam to football",
        "Call the school",
    ]


def test_a_suggestion_still_open_at_the_agreement_becomes_a_version_later(family, browser):
    f = family
    _post(browser(f.piet), f"{f.plan}/commitments/new", _form("Cook on Fridays", [f.piet]))
    (proposal,) = _proposals(f.circle)
    _agree(f)  # the plan as it was; the suggestion is still open
    for m in (f.sanne, f.tom, f.oma):
        _post(browser(m), f"{f.plan}/proposals/{proposal.id}/answer", {"answer": "consent"})
    numbers = _db.session.scalars(select(PlanVersion.number).order_by(PlanVersion.number)).all()
    assert numbers == [1, 2]
    assert "Cook on Fridays" in _whats(f.circle)


def test_the_central_persons_still_enter_the_draft_directly(family, browser):
    f = family
    resp = _post(browser(f.sanne), f"{f.plan}/commitments/new", _form("Cook", [f.oma]))
    assert resp.status_code == 302
    assert "Cook" in _whats(f.circle) and _proposals(f.circle) == []


@pytest.mark.parametrize("agreed", [False, True])
def test_a_professional_may_not_suggest_and_is_told_whom_to_ask(family, browser, agreed):
    f = family
    if agreed:
        _agree(f)
    vos = browser(f.vos)
    assert vos.get(f"{f.plan}/commitments/new").status_code == 403
    resp = _post(vos, f"{f.plan}/commitments/new", _form("Mine", [f.vos]))
    assert resp.status_code == 403
    assert _proposals(f.circle) == [] and "Mine" not in _whats(f.circle)
    page = vos.get(f.plan).get_data(as_text=True)
    assert "Propose a new commitment" not in page and "Add a commitment" not in page
    assert "Only the family changes the plan. Ask Sanne or Tom, the central persons." in page


def test_the_coordinator_may_not_suggest_once_the_plan_is_agreed(family, browser):
    f = family
    _agree(f)
    coord = browser(f.coord)
    assert coord.get(f"{f.plan}/commitments/new").status_code == 403
    assert _post(coord, f"{f.plan}/commitments/new", _form("Mine", [f.oma])).status_code == 403
    assert _proposals(f.circle) == []
    page = coord.get(f.plan).get_data(as_text=True)
    assert "Ask Sanne or Tom, the central persons." in page


# --- Never a silent absence ---------------------------------------------------------------


def test_the_plan_names_who_ticks_someone_elses_commitment(family, browser):
    f = family
    _agree(f)
    circle_svc.set_flags(f.circle, f.sanne, f.piet, plan_keeper=True, followup=False)
    _db.session.commit()
    # Piet keeps the plan; Sanne and Tom are central persons: they may tick it.
    page = html.unescape(browser(f.vos).get(f.plan).get_data(as_text=True))
    assert "To tick someone else's, ask Piet, Sanne, or Tom, who keep the plan." in page
    # One person: the sentence says so.
    circle_svc.set_flags(f.circle, f.sanne, f.piet, plan_keeper=False, followup=False)
    membership_svc.remove_member(f.circle, f.sanne, f.tom)
    _db.session.commit()
    page = html.unescape(browser(f.vos).get(f.plan).get_data(as_text=True))
    assert "To tick someone else's, ask Sanne, who keeps the plan." in page
    assert "Only the family changes the plan. Ask Sanne, the central person." in page
    # Oma ticks her own football; there is nothing of someone else's on the plan.
    assert "who keep the plan" not in browser(f.oma).get(f.plan).get_data(as_text=True)


def test_the_meetings_pages_name_who_plans_and_who_chooses_the_date(family, browser):
    f = family
    page = browser(f.oma).get(f"/c/{f.circle.id}/meetings").get_data(as_text=True)
    assert "Propose a meeting" not in page
    assert "To plan a meeting, ask Sanne or Tom." in page
    assert "To plan a meeting" not in browser(f.sanne).get(f"/c/{f.circle.id}/meetings").get_data(
        as_text=True
    )


def test_the_home_page_names_who_invites(family, browser):
    f = family
    page = browser(f.oma).get(f"/c/{f.circle.id}").get_data(as_text=True)
    # Before the handover the coordinator may invite too.
    assert "To invite someone, ask Coordinator, Sanne, or Tom." in page
    assert "To invite someone" not in browser(f.sanne).get(f"/c/{f.circle.id}").get_data(
        as_text=True
    )
