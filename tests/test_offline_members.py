"""People without internet in the circle (issue 14): a central person adds an offline
member by name and role; the stand-in account can never sign in nor be reached; they
are named in commitments and count in the plan; they vote only through someone they
named; and an invitation later hands their place, history and all, to a real account."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import (
    Completion,
    Membership,
    Notification,
    OutboxMail,
    ProposalStatus,
    ProposalVote,
    Role,
    User,
)
from portal.services import Forbidden, ServiceError, accounts
from portal.services import circles as circle_svc
from portal.services import membership as membership_svc
from portal.services import offline as svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import PASSWORD, csrf_from


@pytest.fixture
def fam(db, make_circle, add_member):
    circle, coord = make_circle("Circle around Sam")
    sanne = add_member(circle, Role.CENTRAL, name="Sanne")
    tom = add_member(circle, Role.MEMBER, name="Tom")
    return circle, coord, sanne, tom


def _soup(circle, coord, who):
    return plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Soup",
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=3)),
            assignee_ids=[who.id],
        ),
    )


def _people(client, circle):
    return client.get(f"/c/{circle.id}/people")


def test_a_central_person_adds_someone_without_internet(fam, client, login):
    circle, _coord, sanne, _tom = fam
    login(client, sanne.user)
    token = csrf_from(_people(client, circle))
    r = client.post(
        f"/c/{circle.id}/people/offline",
        data={"csrf_token": token, "name": "Oma", "role": "member"},
    )
    assert r.status_code == 302
    oma = _db.session.scalar(select(Membership).where(Membership.stored_name == "Oma"))
    assert oma.offline and oma.is_active and oma.role == Role.MEMBER
    assert oma.user.offline and oma.user.email is None
    # Plain words on the people page and the circle's home.
    page = _people(client, circle).get_data(as_text=True)
    assert "Oma</strong> (no internet)" in page
    home = client.get(f"/c/{circle.id}").get_data(as_text=True)
    assert "Oma (no internet)" in home
    # No "way back in" for a stand-in account: an invitation to come in instead.
    assert f"/c/{circle.id}/members/{oma.id}/reentry" not in page
    assert f"/c/{circle.id}/members/{oma.id}/take-place" in page
    # And it is in the circle's history.
    assert "Sanne added Oma, who has no internet." in client.get(
        f"/c/{circle.id}/history"
    ).get_data(as_text=True)


def test_only_a_central_person_adds_one_and_only_family_roles(fam, client, login):
    circle, coord, sanne, tom = fam
    login(client, tom.user)
    token = csrf_from(client.get("/account"))
    r = client.post(
        f"/c/{circle.id}/people/offline", data={"csrf_token": token, "name": "X", "role": "member"}
    )
    assert r.status_code == 403
    with pytest.raises(Forbidden):
        svc.add_offline_member(circle, coord, name="Y", role="member")  # the coordinator
    _db.session.rollback()
    with pytest.raises(ServiceError):
        svc.add_offline_member(circle, sanne, name="Z", role="professional")
    _db.session.rollback()
    assert not _db.session.scalar(select(func.count()).where(Membership.offline.is_(True)))


def test_the_stand_in_account_can_never_sign_in(fam, client):
    circle, _coord, sanne, _tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    _db.session.commit()
    user = oma.user
    assert user.username.startswith("~offline-") and len(user.username) > 30
    # Not with any password, not even the stored "hash" itself or an empty one.
    for guess in ("", "!offline", user.password_hash, PASSWORD, user.username):
        assert accounts.find_user_for_login(user.username, guess) is None
        assert not accounts.check_password(user, guess)
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"login": user.username, "password": "!offline", "csrf_token": csrf_from(page)},
    )
    assert r.status_code == 200
    assert "do not match" in r.get_data(as_text=True)
    # Even a login session row made behind the app's back is not honoured.
    key = accounts.start_login_session(user)
    _db.session.commit()
    assert accounts.load_login_session(key) is None


def test_no_way_back_in_link_for_a_stand_in(fam, client, login):
    circle, _coord, sanne, _tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    _db.session.commit()
    login(client, sanne.user)
    token = csrf_from(_people(client, circle))
    r = client.post(f"/c/{circle.id}/members/{oma.id}/reentry", data={"csrf_token": token})
    assert r.status_code == 302
    from portal.models import ReentryToken

    assert not _db.session.scalar(
        select(func.count()).select_from(ReentryToken).where(ReentryToken.user_id == oma.user_id)
    )


def test_a_stand_in_gets_no_news_email_or_push(fam, client, login):
    circle, _coord, sanne, tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    _db.session.commit()
    # Chat messages, mentions, people coming, a call for help, a poll...
    login(client, tom.user)
    token = csrf_from(client.get(f"/c/{circle.id}/chat"))
    client.post(
        f"/c/{circle.id}/chat/send",
        data={"csrf_token": token, "body": f"Hi @{oma.user.username}", "client_id": "c-000001"},
    )
    circle_svc.tell_people(circle, tom, "joined")
    c = plan_data.add_commitment(
        circle,
        sanne,
        plan_svc.CommitmentData(
            what="Soup on Sundays",
            schedule=Schedule(kind="once", start=date.today()),
            assignee_ids=[oma.id],
        ),
    )
    _db.session.commit()
    from portal import notifier

    notifier.run()  # the clock's news (due today), emails and reminders
    _db.session.commit()
    assert not _db.session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == oma.user_id)
    )
    assert not _db.session.scalar(select(func.count()).select_from(OutboxMail))
    assert c.assignees == [oma]


def test_commitments_name_them_and_they_count(fam, client, login):
    circle, _coord, sanne, _tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    _db.session.commit()
    login(client, sanne.user)
    form = client.get(f"/c/{circle.id}/plan/commitments/new").get_data(as_text=True)
    assert f'value="{oma.id}"' in form and "Oma" in form


def test_they_vote_only_through_someone_they_named(fam):
    circle, coord, sanne, tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    c = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Soup",
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=3)),
            assignee_ids=[oma.id],
        ),
    )
    plan_svc.record_agreement(circle, coord, [sanne.id, tom.id])
    _db.session.commit()
    assert not oma.votes
    p1 = plan_svc.propose(circle, tom, "add_agreement", payload={"text": "Call Oma on Fridays"})
    _db.session.commit()
    voters = {v.membership_id for v in p1.votes}
    assert oma.id not in voters  # nobody can answer for her: counted, not asked
    # Once someone answers for her, a new proposal asks her too.
    membership_svc.set_proxies(circle, sanne, oma, [sanne.id])
    _db.session.commit()
    assert oma.votes
    p2 = plan_svc.propose(circle, tom, "add_agreement", payload={"text": "Soup on Mondays"})
    _db.session.commit()
    assert oma.id in {v.membership_id for v in p2.votes}
    # The first proposal keeps the voters it had: Sanne cannot answer for Oma there.
    with pytest.raises(ServiceError, match="not asked"):
        plan_svc.answer(circle, sanne, p1, True, for_member=oma)
    _db.session.rollback()
    # Sanne consents for herself; p2 still waits for Oma.
    plan_svc.answer(circle, sanne, p2, True)
    _db.session.commit()
    assert p2.status == ProposalStatus.OPEN
    # Taking away her only named person: nobody can answer for her, so she no longer
    # blocks the change (the voters stay fixed; her missing answer stops counting).
    membership_svc.set_proxies(circle, sanne, oma, [])
    _db.session.commit()
    _db.session.refresh(p2)
    assert p2.status == ProposalStatus.APPLIED
    assert c.assignees == [oma]


def test_an_objection_given_for_them_stays_when_the_proxy_is_taken_off(fam):
    circle, coord, sanne, tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    membership_svc.set_proxies(circle, sanne, oma, [sanne.id])
    _soup(circle, coord, oma)
    plan_svc.record_agreement(circle, coord, [sanne.id, tom.id])
    _db.session.commit()
    p = plan_svc.propose(circle, tom, "add_agreement", payload={"text": "Second"})
    plan_svc.answer(circle, sanne, p, False, "Oma says no", for_member=oma)
    plan_svc.answer(circle, sanne, p, True)
    membership_svc.set_proxies(circle, sanne, oma, [])
    _db.session.commit()
    _db.session.refresh(p)
    assert p.status == ProposalStatus.OPEN  # her objection still stands


def test_a_central_person_names_who_answers_for_an_offline_member(fam, client, login):
    circle, _coord, sanne, tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    _db.session.commit()
    login(client, sanne.user)
    token = csrf_from(_people(client, circle))
    r = client.post(
        f"/c/{circle.id}/members/{oma.id}/proxies", data={"csrf_token": token, "proxies": sanne.id}
    )
    assert r.status_code == 302
    _db.session.refresh(oma)
    assert [p.id for p in oma.proxies] == [sanne.id]
    # Tom is neither central nor plan keeper: he cannot be named.
    client.post(
        f"/c/{circle.id}/members/{oma.id}/proxies", data={"csrf_token": token, "proxies": tom.id}
    )
    _db.session.refresh(oma)
    assert [p.id for p in oma.proxies] == [sanne.id]
    # Not for someone with an account: that is their own setting.
    r = client.post(
        f"/c/{circle.id}/members/{tom.id}/proxies", data={"csrf_token": token, "proxies": sanne.id}
    )
    assert r.status_code == 403
    assert not tom.proxies


def test_a_member_names_their_own_proxies(fam, client, login):
    circle, _coord, sanne, tom = fam
    login(client, tom.user)
    page = client.get(f"/c/{circle.id}/answer-for-me")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Who may answer for me" in html and "Sanne" in html
    r = client.post(
        f"/c/{circle.id}/answer-for-me",
        data={"csrf_token": csrf_from(page), "proxies": str(sanne.id)},
    )
    assert r.status_code == 302
    _db.session.refresh(tom)
    assert [p.id for p in tom.proxies] == [sanne.id]
    # Naming someone who may not be named (himself, an id of nobody) changes nothing.
    for bad in (str(tom.id), "999999", "x"):
        r = client.post(
            f"/c/{circle.id}/answer-for-me",
            data={"csrf_token": csrf_from(page), "proxies": bad},
        )
        assert r.status_code == 200
        _db.session.refresh(tom)
        assert [p.id for p in tom.proxies] == [sanne.id]


# --- Taking their place ------------------------------------------------------------------


def _take_place_link(client, circle, oma) -> str:
    token = csrf_from(_people(client, circle))
    r = client.post(f"/c/{circle.id}/members/{oma.id}/take-place", data={"csrf_token": token})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    import re

    return re.search(r"/i/([A-Za-z0-9_\-]+)", html).group(1)


def test_an_invitation_hands_over_their_place_with_all_history(
    fam, client, login, new_client, make_user
):
    circle, coord, sanne, tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="central")
    membership_svc.set_proxies(circle, sanne, oma, [sanne.id])
    c = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Soup",
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=3)),
            assignee_ids=[oma.id],
        ),
    )
    plan_svc.record_agreement(circle, coord, [sanne.id, tom.id])
    plan_svc.tick(circle, sanne, c, "once", for_member=oma)
    _db.session.commit()
    standin_id, oma_id = oma.user_id, oma.id
    login(client, sanne.user)
    token = _take_place_link(client, circle, oma)
    # Oma's grandson sets up an account for her.
    other = new_client()
    other.get(f"/i/{token}")
    page = other.get("/join")
    assert page.status_code == 200
    r = other.post(
        "/join",
        data={
            "csrf_token": csrf_from(page),
            "display_name": "Oma Jansen",
            "username": "oma.jansen",
            "password": "a long password",
            "confirm": "a long password",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    _db.session.expire_all()
    m = _db.session.get(Membership, oma_id)
    assert m.user.username == "oma.jansen" and not m.offline and m.is_active
    assert m.role == Role.CENTRAL and m.display_name == "Oma Jansen"
    assert _db.session.get(User, standin_id) is None
    # Her history is hers: the tick made for her, and the commitment.
    done = _db.session.scalar(select(Completion).where(Completion.commitment_id == c.id))
    assert done.by_id == oma_id and done.acted_by_id == sanne.id
    assert [a.id for a in c.assignees] == [oma_id]
    # She is asked herself now, and sees the commitment as hers.
    assert m.votes
    assert "Soup" in other.get("/me/commitments").get_data(as_text=True)


def test_someone_already_in_the_circle_cannot_take_the_place(fam, client, login, new_client):
    circle, _coord, sanne, tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    _db.session.commit()
    login(client, sanne.user)
    token = _take_place_link(client, circle, oma)
    toms = new_client()
    login(toms, tom.user)
    toms.get(f"/i/{token}")
    page = toms.get("/join")
    r = toms.post("/join", data={"csrf_token": csrf_from(page), "display_name": "Tom"})
    assert r.status_code == 302
    follow = toms.get(r.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "You are already in this circle." in follow
    _db.session.expire_all()
    assert _db.session.get(Membership, oma.id).offline
    assert _db.session.get(Membership, tom.id).user_id == tom.user_id


def test_only_a_central_person_invites_to_take_a_place(fam, new_client, login):
    circle, coord, sanne, tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    _db.session.commit()
    for who, status in ((coord, 403), (tom, 403), (sanne, 403)):
        client = new_client()
        login(client, who.user)
        token = csrf_from(client.get("/account"))
        r = client.post(f"/c/{circle.id}/members/{oma.id}/take-place", data={"csrf_token": token})
        if who is sanne:  # not for a member who has an account
            r = client.post(
                f"/c/{circle.id}/members/{tom.id}/take-place", data={"csrf_token": token}
            )
        assert r.status_code == status
    r = client.post(f"/c/{circle.id}/members/{tom.id}/take-place", data={"csrf_token": token})
    assert r.status_code == 403
    assert not _db.session.scalar(
        select(func.count()).select_from(ProposalVote).where(ProposalVote.membership_id == oma.id)
    )


def test_when_their_only_proxy_goes_they_no_longer_block_a_change(fam):
    circle, coord, sanne, tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    membership_svc.set_proxies(circle, sanne, oma, [sanne.id])
    _soup(circle, coord, oma)
    plan_svc.record_agreement(circle, coord, [sanne.id, tom.id])
    _db.session.commit()
    p = plan_svc.propose(circle, tom, "add_agreement", payload={"text": "Call Oma"})
    _db.session.commit()
    assert oma.id in {v.membership_id for v in p.votes}
    # Sanne, who answered for her, leaves.
    membership_svc.leave_circle(circle, sanne)
    _db.session.commit()
    _db.session.refresh(p)
    _db.session.expire(oma)
    assert oma.proxies == []
    # Sanne's unanswered vote and Oma's (nobody can answer for her) no longer count.
    assert p.status == ProposalStatus.APPLIED


def test_someone_without_internet_cannot_be_the_one_who_looks_after_the_circle(
    db, make_circle, add_member
):
    """The coordinator hands over only to a central person who comes in to Kring."""
    circle, coord = make_circle("Circle around Sam")
    helper = add_member(circle, Role.CENTRAL, name="Helper")
    svc.add_offline_member(circle, helper, name="Oma", role="central")
    membership_svc.leave_circle(circle, helper)
    _db.session.commit()
    with pytest.raises(ServiceError, match="central person first"):
        circle_svc.hand_over(circle, coord)


def test_someone_who_was_in_the_circle_before_cannot_take_the_place(fam, client, login, new_client):
    circle, _coord, sanne, tom = fam
    oma = svc.add_offline_member(circle, sanne, name="Oma", role="member")
    membership_svc.leave_circle(circle, tom)
    _db.session.commit()
    login(client, sanne.user)
    token = _take_place_link(client, circle, oma)
    toms = new_client()
    login(toms, tom.user)
    toms.get(f"/i/{token}")
    page = toms.get("/join")
    r = toms.post("/join", data={"csrf_token": csrf_from(page), "display_name": "Tom"})
    follow = toms.get(r.headers["Location"], follow_redirects=True).get_data(as_text=True)
    assert "Your account was in this circle before, so it cannot take Oma" in follow
    _db.session.expire_all()
    assert _db.session.get(Membership, oma.id).offline
