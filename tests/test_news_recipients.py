"""Who hears of what: the news lines the plan, the meetings and the circle's people make.

Every act goes through the page the app uses (HTTP with a valid CSRF token), or the
service a page calls, and each test says who gets a line and who must not: the person
who caused it, people who left or were removed, the coordinator after the handover,
professionals for what is not theirs, and anyone in another circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from portal.extensions import db as _db
from portal.models import (
    Circle,
    Commitment,
    Meeting,
    Membership,
    Notification,
    Proposal,
    ProposalStatus,
)
from portal.services import meetings as meeting_svc
from portal.services import notifications as news
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import csrf_from

WED = date(2026, 11, 4)


@pytest.fixture
def browser(app, new_client, login):
    """``browser(membership)``: that person's own signed-in browser. Many sign in here
    from one address: the login limit is not under test."""
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    signed_in: dict[int, object] = {}

    def get(m: Membership):
        return signed_in.get(m.user_id) or signed_in.setdefault(
            m.user_id, login(new_client(), m.user)
        )

    return get


def _post(client, url, data=None):
    token = csrf_from(client.get("/account"))
    return client.post(url, data={**(data or {}), "csrf_token": token})


@dataclass
class Circle_:
    circle: Circle
    coord: Membership
    sanne: Membership  # central person
    oma: Membership  # member, does the football
    piet: Membership  # supporter
    kees: Membership  # member, plan keeper
    prof: Membership  # professional
    rik: Membership  # a member who was removed
    outsider: Membership  # a central person of another circle
    football: Commitment

    @property
    def base(self) -> str:
        return f"/c/{self.circle.id}"

    def everyone(self) -> list[Membership]:
        return [self.coord, self.sanne, self.oma, self.piet, self.kees, self.prof, self.rik]


def _task(what: str, who: Membership, kind: str = "weekly") -> plan_svc.CommitmentData:
    """Every Wednesday (or once, on the first Wednesday), done by ``who``."""
    days = frozenset({2}) if kind == "weekly" else frozenset()
    schedule = Schedule(kind=kind, start=WED, weekdays=days)
    return plan_svc.CommitmentData(what=what, assignee_ids=[who.id], schedule=schedule)


@pytest.fixture
def fam(make_circle, add_member, browser) -> Circle_:
    """An agreed plan (version 1); Rik removed; no news yet (joining made some)."""
    circle, coord = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    oma = add_member(circle, name="Oma")
    piet = add_member(circle, role="supporter", name="Piet")
    kees = add_member(circle, name="Kees")
    prof = add_member(circle, role="professional", name="Dr Vos")
    rik = add_member(circle, name="Rik")
    kees.is_plan_keeper = True
    other, _ = make_circle("Another family")
    outsider = add_member(other, role="central", name="Xena")
    football = plan_data.add_commitment(circle, coord, _task("Take Sam to football", oma))
    plan_svc.record_agreement(circle, coord, [sanne.id, oma.id, piet.id, kees.id, rik.id])
    _db.session.commit()
    f = Circle_(circle, coord, sanne, oma, piet, kees, prof, rik, outsider, football)
    assert _post(browser(sanne), f"{f.base}/members/{rik.id}/remove").status_code == 302
    _no_news()
    return f


def _no_news() -> None:
    _db.session.execute(delete(Notification))
    _db.session.commit()


def _lines(kind: str, ref_id: int | None = None) -> list[Notification]:
    q = select(Notification).where(Notification.kind == kind).order_by(Notification.id)
    if ref_id is not None:
        q = q.where(Notification.ref_id == ref_id)
    return list(_db.session.scalars(q))


def _who(kind: str, ref_id: int | None = None, *, unread: bool = False) -> set[int]:
    return {n.user_id for n in _lines(kind, ref_id) if not unread or n.read_at is None}


def _users(*members: Membership) -> set[int]:
    return {m.user_id for m in members}


def _nothing_for(*members: Membership) -> None:
    got = _db.session.scalars(
        select(Notification).where(Notification.user_id.in_(_users(*members)))
    ).all()
    assert got == [], [(n.user_id, n.kind) for n in got]


def _hand_over(f: Circle_, browser) -> None:
    assert _post(browser(f.coord), f"{f.base}/handover").status_code == 302
    _db.session.refresh(f.coord)
    assert f.coord.status == "handed_over"


# --- Help ------------------------------------------------------------------------------


def test_help_reaches_the_plan_keeper_and_central_persons_not_the_one_asking(fam, browser):
    f = fam
    url = f"{f.base}/plan/commitments/{f.football.id}/help"
    assert _post(browser(f.oma), url).status_code == 302
    assert _who("help", f.football.id) == _users(f.sanne, f.kees)
    line = _lines("help")[0]
    assert (line.circle_id, line.actor_id, line.data) == (f.circle.id, f.oma.id, {})
    # Asking again while the flag is up tells nobody twice.
    _post(browser(f.oma), url)
    assert len(_lines("help")) == 2
    # Taken care of: the lines no longer wait.
    _post(browser(f.oma), url, {"clear": "1"})
    assert _who("help", unread=True) == set()
    _nothing_for(f.oma, f.piet, f.prof, f.coord, f.rik, f.outsider)


def test_a_plan_keeper_asking_for_help_hears_nothing_of_their_own_call(fam, browser):
    f = fam
    kees_task = plan_svc.propose(
        f.circle,
        f.sanne,
        "add_commitment",
        payload=_task("Mow the lawn", f.kees, kind="once").to_payload(),
    )
    for m in (f.oma, f.piet, f.kees):
        plan_svc.answer(f.circle, m, kees_task, True)
    _db.session.commit()
    lawn = _db.session.scalar(select(Commitment).where(Commitment.what == "Mow the lawn"))
    _no_news()
    _post(browser(f.kees), f"{f.base}/plan/commitments/{lawn.id}/help")
    assert _who("help", lawn.id) == _users(f.sanne)


# --- Consent and decided ---------------------------------------------------------------


def _propose(f: Circle_, browser, by: Membership, what: str = "Call the school") -> Proposal:
    resp = _post(
        browser(by),
        f"{f.base}/plan/commitments/new",
        {
            "what": what,
            "assignees": [str(by.id)],
            "kind": "once",
            "start": "2026-12-10",
            "checker": "0",
            "interval": "1",
            "reason": "Sam asked",
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return _db.session.scalars(select(Proposal).order_by(Proposal.id.desc())).first()


def _answer(f: Circle_, browser, m: Membership, p: Proposal, answer="consent", reason=""):
    url = f"{f.base}/plan/proposals/{p.id}/answer"
    return _post(browser(m), url, {"answer": answer, "reason": reason})


def test_a_proposal_asks_the_voters_who_have_not_answered(fam, browser):
    f = fam
    p = _propose(f, browser, f.oma)
    # Voters: central, members, supporters. Not the proposer (proposing is consenting),
    # not the professional or the coordinator (no vote), not Rik (removed).
    assert _who("consent", p.id) == _users(f.sanne, f.piet, f.kees)
    assert {n.actor_id for n in _lines("consent")} == {f.oma.id}
    _nothing_for(f.oma, f.prof, f.coord, f.rik, f.outsider)


def test_agreed_tells_voters_and_proposer_but_not_the_last_consent(fam, browser):
    f = fam
    p = _propose(f, browser, f.oma)
    _answer(f, browser, f.sanne, p)
    assert _who("consent", p.id, unread=True) == _users(f.piet, f.kees)  # Sanne answered
    _answer(f, browser, f.piet, p, "object", "Not on Wednesdays")
    assert _lines("decided") == []  # an objection decides nothing
    _answer(f, browser, f.piet, p)
    assert _lines("decided") == []
    _answer(f, browser, f.kees, p)
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.APPLIED
    assert _who("decided", p.id) == _users(f.oma, f.sanne, f.piet)
    assert {(n.data["op"], n.actor_id) for n in _lines("decided")} == {("agreed", f.kees.id)}
    # Nobody's consent is awaited any more: every "consent" line for it is read.
    assert _who("consent", p.id) == _users(f.sanne, f.piet, f.kees)
    assert _who("consent", p.id, unread=True) == set()
    _nothing_for(f.prof, f.coord, f.rik, f.outsider)


def test_withdrawn_tells_the_voters_not_the_proposer(fam, browser):
    f = fam
    p = _propose(f, browser, f.piet)
    _answer(f, browser, f.sanne, p)
    assert _post(browser(f.piet), f"{f.base}/plan/proposals/{p.id}/withdraw").status_code == 302
    assert _who("decided", p.id) == _users(f.sanne, f.oma, f.kees)
    assert {n.data["op"] for n in _lines("decided")} == {"withdrawn"}
    assert _who("consent", unread=True) == set()
    _nothing_for(f.piet, f.prof, f.coord, f.rik, f.outsider)


def test_a_proposal_decided_because_someone_left_tells_everyone_who_had_a_say(fam, browser):
    f = fam
    p = _propose(f, browser, f.oma)
    for m in (f.sanne, f.piet):
        _answer(f, browser, m, p)
    # Kees's missing answer was the last one: he leaves, and the change goes in.
    assert _post(browser(f.kees), f"{f.base}/leave").status_code == 302
    assert _db.session.get(Proposal, p.id).status == ProposalStatus.APPLIED
    assert _who("decided", p.id) == _users(f.oma, f.sanne, f.piet)
    assert {(n.data["op"], n.actor_id) for n in _lines("decided")} == {("agreed", None)}
    assert news.unread_count(f.kees.user_id) == 0  # his earlier line went with him
    _nothing_for(f.prof, f.rik, f.outsider)


def test_at_a_meeting_decided_and_declined_proposals_tell_who_had_a_say(fam, browser):
    f = fam
    keep = _propose(f, browser, f.oma, "Call the school")
    drop = _propose(f, browser, f.piet, "Paint the fence")
    start = datetime.now(UTC) - timedelta(hours=2)
    meeting = Meeting(circle_id=f.circle.id, uid="m-review", title="Check", organiser_id=f.sanne.id)
    meeting.status, meeting.starts_at = "fixed", start
    _db.session.add(meeting)
    _db.session.commit()
    _no_news()
    meeting_svc.record_review(
        f.circle,
        meeting,
        f.sanne,
        present_ids=[f.sanne.id, f.oma.id, f.piet.id, f.kees.id],
        verdicts={},
        decisions={keep.id: True, drop.id: False},
        next_evaluation=None,
    )
    _db.session.commit()
    assert _who("decided", keep.id) == _users(f.oma, f.piet, f.kees)  # not Sanne: she wrote it
    assert _who("decided", drop.id) == _users(f.oma, f.piet, f.kees)
    ops = {(n.ref_id, n.data["op"]) for n in _lines("decided")}
    assert ops == {(keep.id, "agreed"), (drop.id, "declined")}
    assert _who("consent", unread=True) == set()


# --- Meetings --------------------------------------------------------------------------


def _propose_meeting(f: Circle_, browser, by: Membership, invite: list[Membership]) -> Meeting:
    soon = (datetime.now(UTC) + timedelta(days=10)).strftime("%Y-%m-%d")
    later = (datetime.now(UTC) + timedelta(days=11)).strftime("%Y-%m-%d")
    resp = _post(
        browser(by),
        f"{f.base}/meetings/new",
        {
            "title": "Is the plan working?",
            "duration": "90",
            "option_0": f"{soon}T10:00",
            "option_1": f"{later}T19:30",
            "invitees": [str(m.id) for m in invite],
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return _db.session.scalars(select(Meeting).order_by(Meeting.id.desc())).first()


def test_a_poll_asks_the_invited_and_answering_settles_only_ones_own_line(fam, browser):
    f = fam
    m = _propose_meeting(f, browser, f.sanne, [f.oma, f.prof, f.rik, f.coord])
    # Sanne (organiser) and Kees (plan keeper) are invited anyway; the professional was
    # invited; Rik is gone and the coordinator is never invited to follow-up meetings.
    assert _who("poll", m.id) == _users(f.oma, f.prof, f.kees)
    options = sorted(o.id for o in m.options)
    url = f"{f.base}/meetings/{m.id}"
    _post(browser(f.oma), f"{url}/answers", {f"answer-{options[0]}": "yes"})
    assert _who("poll", m.id, unread=True) == _users(f.prof, f.kees)
    _nothing_for(f.sanne, f.piet, f.coord, f.rik, f.outsider)


def test_fixed_moved_cancelled_tell_the_invited_but_not_who_did_it(fam, browser):
    f = fam
    m = _propose_meeting(f, browser, f.kees, [f.oma, f.prof])
    url = f"{f.base}/meetings/{m.id}"
    first = min(o.id for o in m.options)
    # A central person fixes the plan keeper's meeting: the organiser hears of it.
    assert _post(browser(f.sanne), f"{url}/fix", {"option": first}).status_code == 302
    assert _who("meeting", m.id) == _users(f.kees, f.oma, f.prof)
    assert _who("poll", m.id, unread=True) == set()  # the poll no longer waits
    new_time = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%dT18:00")
    _post(browser(f.kees), f"{url}/reschedule", {"starts_at": new_time})
    _post(browser(f.kees), f"{url}/cancel")
    got = {(n.user_id, n.data["op"]) for n in _lines("meeting")}
    assert got == {
        *((u, "fixed") for u in _users(f.kees, f.oma, f.prof)),
        *((u, "moved") for u in _users(f.sanne, f.oma, f.prof)),
        *((u, "cancelled") for u in _users(f.sanne, f.oma, f.prof)),
    }
    _nothing_for(f.piet, f.coord, f.rik, f.outsider)


# --- People ----------------------------------------------------------------------------


def test_joined_left_removed_tell_the_family_not_the_person_nor_professionals(
    fam, browser, add_member
):
    f = fam
    nina = add_member(f.circle, name="Nina")
    joined = _lines("people", nina.id)
    assert {n.user_id for n in joined} == _users(f.coord, f.sanne, f.oma, f.piet, f.kees)
    assert {(n.data["op"], n.actor_id) for n in joined} == {("joined", nina.id)}
    _post(browser(f.sanne), f"{f.base}/members/{nina.id}/remove")
    removed = _lines("people", nina.id)[len(joined) :]
    assert {n.user_id for n in removed} == _users(f.coord, f.oma, f.piet, f.kees)
    assert {(n.data["op"], n.actor_id) for n in removed} == {("removed", nina.id)}
    _post(browser(f.piet), f"{f.base}/leave")
    left = _lines("people", f.piet.id)
    assert {n.user_id for n in left} == _users(f.coord, f.sanne, f.oma, f.kees)
    assert {n.data["op"] for n in left} == {"left"}
    _nothing_for(f.prof, f.rik, f.outsider)
    assert not any(n.user_id == nina.user_id for n in _lines("people"))


# --- Gone people and other circles hear nothing ------------------------------------------


def test_removed_member_handed_over_coordinator_and_other_circle_get_nothing(
    fam, browser, add_member
):
    f = fam
    _hand_over(f, browser)
    nina = add_member(f.circle, name="Nina")
    _post(browser(f.oma), f"{f.base}/plan/commitments/{f.football.id}/help")
    p = _propose(f, browser, f.oma)
    for m in (f.sanne, f.piet, f.kees, nina):
        _answer(f, browser, m, p)
    meeting = _propose_meeting(f, browser, f.sanne, [f.oma, f.rik, f.coord])
    _post(browser(f.sanne), f"{f.base}/meetings/{meeting.id}/cancel")
    _post(browser(f.kees), f"{f.base}/leave")
    kinds = {n.kind for n in _db.session.scalars(select(Notification))}
    assert kinds == {"people", "help", "consent", "decided", "poll", "meeting"}
    _nothing_for(f.coord, f.rik, f.outsider)
    assert {n.circle_id for n in _db.session.scalars(select(Notification))} == {f.circle.id}


# --- Only what commits -----------------------------------------------------------------


def _news_events(sock) -> list[dict]:
    return [e["args"][0] for e in sock.get_received() if e["name"] == "news"]


def test_a_proposal_rolled_back_leaves_no_line_and_tells_no_socket(fam, socket_client):
    f = fam
    sanne = socket_client(f.sanne.user)
    assert sanne.is_connected()
    sanne.get_received()
    plan_svc.propose(
        f.circle,
        f.oma,
        "add_agreement",
        payload={"text": "If Oma is ill, Kees drives."},
    )
    assert _who("consent") == _users(f.sanne, f.piet, f.kees)  # written in the transaction
    _db.session.rollback()
    assert _lines("consent") == []
    assert _news_events(sanne) == []


def test_a_decision_whose_request_fails_leaves_no_line(fam, browser):
    """The last consent to a change of a commitment that another proposal removed
    meanwhile: the change cannot apply, the request rolls back, and with it the news."""
    f = fam
    change = plan_svc.propose(
        f.circle,
        f.oma,
        "change_commitment",
        target_id=f.football.id,
        payload=_task("Take Sam to football and back", f.oma).to_payload(),
    )
    removal = plan_svc.propose(f.circle, f.sanne, "remove_commitment", target_id=f.football.id)
    for m in (f.sanne, f.piet):
        plan_svc.answer(f.circle, m, change, True)
    for m in (f.oma, f.piet, f.kees):
        plan_svc.answer(f.circle, m, removal, True)
    _db.session.commit()
    assert _db.session.get(Proposal, removal.id).status == ProposalStatus.APPLIED
    decided_before = len(_lines("decided"))
    resp = _answer(f, browser, f.kees, change)
    assert resp.status_code == 302
    assert _db.session.get(Proposal, change.id).status == ProposalStatus.OPEN
    assert len(_lines("decided")) == decided_before
    assert not any(n.ref_id == change.id for n in _lines("decided"))
    assert _who("consent", change.id, unread=True) == _users(f.kees)


def test_the_news_event_reaches_the_recipients_socket_after_commit(fam, browser, socket_client):
    f = fam
    socks = {m.id: socket_client(m.user) for m in (f.oma, f.sanne, f.prof)}
    for s in socks.values():
        assert s.is_connected()
        s.get_received()
    _propose(f, browser, f.oma)
    assert _news_events(socks[f.sanne.id]) == [{"op": "changed"}]
    assert _news_events(socks[f.oma.id]) == []  # the proposer caused it
    assert _news_events(socks[f.prof.id]) == []  # no vote, no news
