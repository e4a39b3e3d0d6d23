"""Acting on someone's behalf (issue 14): a central person or plan keeper ticks, answers
a poll or consents for a member who named them. It shows everywhere as "Sanne for Oma",
the member hears of it and may change it for 7 days, and nobody else may do it: not
someone the member did not name, not in another circle, not after being removed, not
for someone who left, not in a closed circle."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import UTC, date, datetime, timedelta
from io import BytesIO

import pytest
from sqlalchemy import func, select

from portal.extensions import db as _db
from portal.models import (
    CircleEvent,
    Completion,
    MeetingAnswer,
    Notification,
    ProposalVote,
    Role,
)
from portal.models.types import utcnow
from portal.services import closing, erasure
from portal.services import meetings as meetings_svc
from portal.services import membership as membership_svc
from portal.services import offline as offline_svc
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data
from tests.conftest import csrf_from


@pytest.fixture
def fam(db, make_circle, add_member):
    """Sanne (central) may act for Oma (offline) and for Tom, who named her. Kees is a
    central person nobody named. A commitment for Oma and Tom; the plan is agreed."""
    circle, coord = make_circle("Circle around Sam")
    sanne = add_member(circle, Role.CENTRAL, name="Sanne")
    kees = add_member(circle, Role.CENTRAL, name="Kees")
    tom = add_member(circle, Role.MEMBER, name="Tom")
    oma = offline_svc.add_offline_member(circle, sanne, name="Oma", role="member")
    membership_svc.set_proxies(circle, sanne, oma, [sanne.id])
    membership_svc.set_proxies(circle, tom, tom, [sanne.id])
    c = plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Soup on Sundays",
            schedule=Schedule(kind="once", start=date.today() + timedelta(days=5)),
            assignee_ids=[oma.id, tom.id],
        ),
    )
    plan_svc.record_agreement(circle, coord, [sanne.id, kees.id, tom.id])
    db.session.commit()
    return circle, coord, sanne, kees, tom, oma, c


def _signed_in(new_client, login, m):
    client = new_client()
    login(client, m.user)
    return client, csrf_from(client.get("/account"))


def _tick(client, token, circle, c, for_member=None):
    data = {"csrf_token": token, "occurrence": "once", "note": "on the phone"}
    if for_member is not None:
        data["for_member"] = str(for_member)
    return client.post(f"/c/{circle.id}/plan/commitments/{c.id}/tick", data=data)


def _ticks():
    return _db.session.scalar(select(func.count()).select_from(Completion))


def _later(monkeypatch, days: int):
    """Move the clock the 7-day rule reads."""
    now = utcnow() + timedelta(days=days)
    monkeypatch.setattr("portal.access.acting.utcnow", lambda: now)


# --- Ticking ----------------------------------------------------------------------------


def test_a_proxy_ticks_for_an_offline_member_and_it_shows_everywhere(fam, new_client, login):
    circle, _coord, sanne, _kees, _tom, oma, c = fam
    client, token = _signed_in(new_client, login, sanne)
    plan = client.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    # The "for whom" choice, with Oma and Tom (who named her), only on this commitment.
    assert 'name="for_member"' in plan
    assert f'<option value="{oma.id}">Oma</option>' in plan
    assert _tick(client, token, circle, c, oma.id).status_code == 302
    done = _db.session.scalar(select(Completion))
    assert (done.by_id, done.acted_by_id) == (oma.id, sanne.id)
    plan = client.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    assert "Done by Sanne for Oma." in plan
    history = client.get(f"/c/{circle.id}/plan/commitments/{c.id}/history")
    assert "Sanne for Oma ticked" in history.get_data(as_text=True)
    home = client.get(f"/c/{circle.id}/history").get_data(as_text=True)
    assert "Sanne ticked a commitment for Oma." in home
    # The circle's export carries who acted, by name, beside whose tick it is.
    z = zipfile.ZipFile(BytesIO(client.get(f"/c/{circle.id}/export").data))
    data = json.loads(z.read(next(n for n in z.namelist() if n.endswith(".json"))))
    text = json.dumps(data)
    assert '"by": "Oma", "acted_by": "Sanne"' in text


def test_a_member_who_named_someone_hears_of_it_and_may_undo_for_a_week(
    fam, new_client, login, monkeypatch
):
    circle, _coord, sanne, _kees, tom, _oma, c = fam
    client, token = _signed_in(new_client, login, sanne)
    _tick(client, token, circle, c, tom.id)
    done = _db.session.scalar(select(Completion))
    line = _db.session.scalar(
        select(Notification).where(
            Notification.user_id == tom.user_id, Notification.kind == "acted_for"
        )
    )
    assert line.data == {"what": "tick"} and line.actor_id == sanne.id
    toms, ttoken = _signed_in(new_client, login, tom)
    news = toms.get("/notifications").get_data(as_text=True)
    assert "Sanne ticked a commitment for you in Circle around Sam." in news
    # Six days on he still may: the plan says until when.
    _later(monkeypatch, 6)
    plan = toms.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    assert "Sanne ticked this for you. If it is not right, you can undo it until" in plan
    # Eight days on it stands, and the page says so.
    _later(monkeypatch, 8)
    plan = toms.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    assert "Sanne ticked this for you more than 7 days ago, so it stands." in plan
    toms.post(f"/c/{circle.id}/plan/completions/{done.id}/undo", data={"csrf_token": ttoken})
    _db.session.refresh(done)
    assert done.undone_at is None
    _later(monkeypatch, 6)
    toms.post(f"/c/{circle.id}/plan/completions/{done.id}/undo", data={"csrf_token": ttoken})
    _db.session.refresh(done)
    assert done.undone_at is not None


def test_refused_for_someone_who_did_not_name_you(fam, new_client, login):
    circle, _coord, sanne, kees, tom, oma, c = fam
    client, token = _signed_in(new_client, login, kees)
    assert 'name="for_member"' not in client.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    for who in (oma, tom, sanne):
        assert _tick(client, token, circle, c, who.id).status_code == 403
    # Tom, named by nobody and no proxy, cannot tick for Oma either (nor in the form).
    client, token = _signed_in(new_client, login, tom)
    assert _tick(client, token, circle, c, oma.id).status_code == 403
    # Not a number, or nobody's: the one 404.
    client, token = _signed_in(new_client, login, sanne)
    for bad in ("abc", "0", "99999999", str(2**64)):
        assert _tick(client, token, circle, c, bad).status_code == 404
    assert _ticks() == 0
    assert not _db.session.scalar(
        select(func.count()).select_from(CircleEvent).where(CircleEvent.kind == "acted_for")
    )


def test_refused_in_another_circle(fam, new_client, login, make_circle, add_member):
    circle, _coord, sanne, _kees, _tom, oma, c = fam
    other, _oc = make_circle("Other circle")
    outsider = add_member(other, Role.CENTRAL, name="Outsider")
    client, token = _signed_in(new_client, login, outsider)
    # Their own circle's URL with Oma's id: she is not of that circle.
    assert _tick(client, token, other, c, oma.id).status_code == 404
    # Circle A's URL: not their circle.
    assert _tick(client, token, circle, c, oma.id).status_code == 404
    # Sanne in circle B would not reach Oma either (a membership of another circle).
    add_member(other, Role.CENTRAL, name="Sanne B", user=sanne.user)
    client, token = _signed_in(new_client, login, sanne)
    assert _tick(client, token, other, c, oma.id).status_code == 404
    assert _ticks() == 0


def test_refused_after_being_removed_or_losing_the_task(fam, new_client, login, add_member):
    circle, _coord, sanne, kees, tom, oma, c = fam
    keeper = add_member(circle, Role.MEMBER, name="Keeper")
    from portal.services import circles as circle_svc

    circle_svc.set_flags(circle, sanne, keeper, plan_keeper=True, followup=False)
    membership_svc.set_proxies(circle, sanne, oma, [sanne.id, keeper.id])
    _db.session.commit()
    kclient, ktoken = _signed_in(new_client, login, keeper)
    # No longer plan keeper: named, but may no longer act.
    circle_svc.set_flags(circle, sanne, keeper, plan_keeper=False, followup=False)
    _db.session.commit()
    assert _tick(kclient, ktoken, circle, c, oma.id).status_code == 403
    # Sanne removed: the circle is gone for her.
    sclient, stoken = _signed_in(new_client, login, sanne)
    membership_svc.remove_member(circle, kees, sanne)
    _db.session.commit()
    assert _tick(sclient, stoken, circle, c, oma.id).status_code == 404
    assert _ticks() == 0


def test_refused_for_someone_who_left_and_in_a_closed_circle(fam, new_client, login):
    circle, _coord, sanne, kees, tom, oma, c = fam
    client, token = _signed_in(new_client, login, sanne)
    membership_svc.leave_circle(circle, tom)
    _db.session.commit()
    assert _tick(client, token, circle, c, tom.id).status_code == 403
    closing.close_circle(circle, kees)
    _db.session.commit()
    r = _tick(client, token, circle, c, oma.id)
    assert r.status_code == 403 and "closed" in r.get_data(as_text=True).lower()
    assert _ticks() == 0


def test_the_service_refuses_too(fam):
    circle, _coord, sanne, kees, tom, oma, c = fam
    from portal.services import Forbidden

    with pytest.raises(Forbidden):
        plan_svc.tick(circle, kees, c, "once", for_member=oma)
    _db.session.rollback()
    with pytest.raises(Forbidden):  # Tom is no proxy: naming is not enough
        plan_svc.tick(circle, tom, c, "once", for_member=oma)
    _db.session.rollback()
    assert _ticks() == 0


# --- Polls -----------------------------------------------------------------------------


def _poll(circle, sanne, invite):
    m = meetings_svc.propose_meeting(
        circle,
        sanne,
        meetings_svc.MeetingData(
            title="Check-in",
            purpose="",
            place="At Oma's",
            video_link="",
            duration_minutes=60,
            options=[
                datetime(2031, 6, 1, 17, 0, tzinfo=UTC),
                datetime(2031, 6, 2, 17, 0, tzinfo=UTC),
            ],
            invitee_ids=[x.id for x in invite],
        ),
    )
    _db.session.commit()
    return m


def test_a_proxy_answers_a_poll_and_the_member_may_change_it_for_a_week(
    fam, new_client, login, monkeypatch
):
    circle, _coord, sanne, kees, tom, oma, _c = fam
    meeting = _poll(circle, sanne, [oma, tom])
    first, second = meeting.options
    client, token = _signed_in(new_client, login, sanne)
    page = client.get(f"/c/{circle.id}/meetings/{meeting.id}").get_data(as_text=True)
    assert "Answer for Oma" in page and "Answer for Tom" in page
    url = f"/c/{circle.id}/meetings/{meeting.id}/answers"
    for who in (oma, tom):
        r = client.post(
            url, data={"csrf_token": token, "for_member": who.id, f"answer-{first.id}": "yes"}
        )
        assert r.status_code == 302
    rows = _db.session.scalars(select(MeetingAnswer).order_by(MeetingAnswer.id)).all()
    assert [(a.membership_id, a.acted_by_id) for a in rows] == [
        (oma.id, sanne.id),
        (tom.id, sanne.id),
    ]
    page = client.get(f"/c/{circle.id}/meetings/{meeting.id}").get_data(as_text=True)
    assert "Sanne for Oma" in page and "Sanne for Tom" in page
    # Kees was not named: refused, nothing changes.
    kclient, ktoken = _signed_in(new_client, login, kees)
    r = kclient.post(
        url, data={"csrf_token": ktoken, "for_member": oma.id, f"answer-{first.id}": "no"}
    )
    assert r.status_code == 403
    # Tom changes his within the week; his answer is his own again.
    toms, ttoken = _signed_in(new_client, login, tom)
    _later(monkeypatch, 6)
    assert "Sanne answered this for you." in toms.get(
        f"/c/{circle.id}/meetings/{meeting.id}"
    ).get_data(as_text=True)
    toms.post(url, data={"csrf_token": ttoken, f"answer-{first.id}": "no"})
    mine = _db.session.scalar(
        select(MeetingAnswer).where(
            MeetingAnswer.membership_id == tom.id, MeetingAnswer.option_id == first.id
        )
    )
    _db.session.refresh(mine)
    assert (mine.answer, mine.acted_by_id) == ("no", None)
    # For Oma, Sanne answers again; eight days later the answer Sanne gave for Tom
    # (once more) stands.
    client.post(url, data={"csrf_token": token, "for_member": tom.id, f"answer-{second.id}": "yes"})
    _later(monkeypatch, 8)
    page = toms.get(f"/c/{circle.id}/meetings/{meeting.id}").get_data(as_text=True)
    assert "more than 7 days ago, so it stands." in page
    toms.post(url, data={"csrf_token": ttoken, f"answer-{second.id}": "no"})
    again = _db.session.scalar(
        select(MeetingAnswer).where(
            MeetingAnswer.membership_id == tom.id, MeetingAnswer.option_id == second.id
        )
    )
    _db.session.refresh(again)
    assert again.answer == "yes"


def test_no_poll_answer_for_someone_not_invited(fam, new_client, login):
    circle, _coord, sanne, _kees, tom, oma, _c = fam
    meeting = _poll(circle, sanne, [oma])  # Tom is not invited
    client, token = _signed_in(new_client, login, sanne)
    r = client.post(
        f"/c/{circle.id}/meetings/{meeting.id}/answers",
        data={"csrf_token": token, "for_member": tom.id, f"answer-{meeting.options[0].id}": "yes"},
    )
    assert r.status_code == 403
    assert not _db.session.scalar(
        select(func.count()).select_from(MeetingAnswer).where(MeetingAnswer.membership_id == tom.id)
    )


# --- Consent ---------------------------------------------------------------------------


def test_a_proxy_consents_for_members_and_it_shows_and_can_be_changed(
    fam, new_client, login, monkeypatch
):
    circle, _coord, sanne, kees, tom, oma, _c = fam
    p = plan_svc.propose(circle, kees, "add_agreement", payload={"text": "Call Oma on Fridays"})
    _db.session.commit()
    assert {v.membership_id for v in p.votes} == {sanne.id, kees.id, tom.id, oma.id}
    client, token = _signed_in(new_client, login, sanne)
    plan = client.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    assert "Answer for Oma:" in plan and "Answer for Tom:" in plan
    url = f"/c/{circle.id}/plan/proposals/{p.id}/answer"
    client.post(url, data={"csrf_token": token, "answer": "consent", "for_member": oma.id})
    client.post(url, data={"csrf_token": token, "answer": "consent", "for_member": tom.id})
    votes = {v.membership_id: v for v in _db.session.scalars(select(ProposalVote))}
    assert votes[oma.id].answer == "consent" and votes[oma.id].acted_by_id == sanne.id
    assert votes[tom.id].acted_by_id == sanne.id
    plan = client.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    assert "Sanne for Oma" in plan
    line = _db.session.scalar(
        select(Notification).where(
            Notification.user_id == tom.user_id, Notification.kind == "acted_for"
        )
    )
    assert line.data == {"what": "consent"}
    # Kees (not named) cannot; nor answer for someone outside the vote.
    kclient, ktoken = _signed_in(new_client, login, kees)
    r = kclient.post(
        url, data={"csrf_token": ktoken, "answer": "object", "reason": "x", "for_member": oma.id}
    )
    assert r.status_code == 403
    # Tom objects after all, within the week.
    toms, ttoken = _signed_in(new_client, login, tom)
    _later(monkeypatch, 3)
    assert "Sanne answered this for you." in toms.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    toms.post(url, data={"csrf_token": ttoken, "answer": "object", "reason": "Not Fridays"})
    _db.session.expire_all()
    vote = _db.session.get(ProposalVote, votes[tom.id].id)
    assert (vote.answer, vote.acted_by_id) == ("object", None)


def test_consent_given_for_you_stands_after_a_week(fam, new_client, login, monkeypatch):
    circle, _coord, sanne, kees, tom, oma, _c = fam
    p = plan_svc.propose(circle, kees, "add_agreement", payload={"text": "Call Oma on Fridays"})
    plan_svc.answer(circle, sanne, p, False, "Tom says no", for_member=tom)
    _db.session.commit()
    toms, ttoken = _signed_in(new_client, login, tom)
    _later(monkeypatch, 8)
    assert "more than 7 days ago, so it stands." in toms.get(f"/c/{circle.id}/plan").get_data(
        as_text=True
    )
    toms.post(
        f"/c/{circle.id}/plan/proposals/{p.id}/answer",
        data={"csrf_token": ttoken, "answer": "consent"},
    )
    _db.session.expire_all()
    vote = _db.session.scalar(select(ProposalVote).where(ProposalVote.membership_id == tom.id))
    assert vote.answer == "object" and vote.acted_by_id == sanne.id


# --- Erasure ---------------------------------------------------------------------------


def test_an_erased_proxy_shows_as_a_former_member(fam, new_client, login):
    circle, _coord, sanne, kees, _tom, oma, c = fam
    plan_svc.tick(circle, sanne, c, "once", for_member=oma)
    _db.session.commit()
    erasure.erase_account(sanne.user)
    _db.session.commit()
    client, _token = _signed_in(new_client, login, kees)
    plan = client.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    assert "Done by a former member for Oma." in plan
    history = client.get(f"/c/{circle.id}/plan/commitments/{c.id}/history").get_data(as_text=True)
    assert "a former member for Oma ticked" in history and "Sanne" not in history
    assert "Sanne" not in client.get(f"/c/{circle.id}/history").get_data(as_text=True)
    # The export has ids and today's names: no "Sanne" left.
    z = zipfile.ZipFile(BytesIO(client.get(f"/c/{circle.id}/export").data))
    text = " ".join(z.read(n).decode() for n in z.namelist() if n.endswith((".json", ".html")))
    assert not re.search(r"\bSanne\b", text)


def test_the_account_export_says_who_answered_for_you(fam, new_client, login):
    circle, _coord, sanne, kees, tom, oma, c = fam
    p = plan_svc.propose(circle, kees, "add_agreement", payload={"text": "Call Oma on Fridays"})
    meeting = _poll(circle, sanne, [tom])
    plan_svc.tick(circle, sanne, c, "once", for_member=tom)
    plan_svc.answer(circle, sanne, p, True, for_member=tom)
    meetings_svc.set_answers(meeting, sanne, {meeting.options[0].id: "yes"}, for_member=tom)
    _db.session.commit()

    def export():
        toms, _t = _signed_in(new_client, login, tom)
        z = zipfile.ZipFile(BytesIO(toms.get("/account/export").data))
        return json.loads(z.read(next(n for n in z.namelist() if n.endswith(".json"))))

    data = export()
    assert [t["acted_by"] for t in data["ticks"]] == ["Sanne"]
    assert [a["acted_by"] for a in data["poll_answers"]] == ["Sanne"]
    assert [a["acted_by"] for a in data["plan_answers"]] == ["Sanne"]
    # Once Sanne erased her account, her name is gone; the ids still say it was someone.
    erasure.erase_account(sanne.user)
    _db.session.commit()
    data = export()
    assert [t["acted_by"] for t in data["ticks"]] == ["a former member"]
    assert "Sanne" not in json.dumps(data)
