"""The printed "what is happening" sheet a central person makes for a member without
internet: that member's own commitments with when they are due, and the next meeting.
Only central persons open it; another circle's member is not found.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from portal.extensions import db as _db
from portal.models import Meeting, MeetingInvitee
from portal.services import plan as plan_svc
from portal.services.schedule import Schedule
from tests import plan_data

TODAY = date(2026, 11, 9)  # a Monday


@pytest.fixture
def circle_with_oma(make_circle, add_member, monkeypatch):
    monkeypatch.setattr("portal.services.sheet.today_in", lambda tz: TODAY)
    monkeypatch.setattr("portal.services.plan_view.today_in", lambda tz: TODAY)
    circle, coord = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    oma = add_member(circle, name="Oma Riet")
    piet = add_member(circle, role="supporter", name="Piet")
    prof = add_member(circle, role="professional", name="Dr Vos")

    def task(what, who, **schedule):
        data = plan_svc.CommitmentData(
            what=what, assignee_ids=[who.id], schedule=Schedule(**schedule)
        )
        return plan_data.add_commitment(circle, coord, data)

    task("Take Sam to football", oma, kind="weekly", start=date(2026, 11, 4), weekdays={2})
    task("Bake a cake for the party", oma, kind="once", start=date(2026, 12, 1))
    task("Fix Piet's secret bike", piet, kind="once", start=date(2026, 12, 2))
    now = datetime.now(UTC)

    def meeting(title, status, starts_at, invited):
        m = Meeting(circle_id=circle.id, uid=title, title=title, organiser_id=sanne.id)
        m.status, m.starts_at, m.place = status, starts_at, "Oma's kitchen"
        m.invitees = [MeetingInvitee(membership_id=x.id) for x in invited]
        _db.session.add(m)

    meeting("The one that was", "fixed", now - timedelta(days=3), [sanne, oma])
    meeting("Is the plan working?", "fixed", now + timedelta(days=9), [sanne, oma])
    meeting("Much later", "fixed", now + timedelta(days=40), [sanne, oma])
    meeting("Without Oma", "fixed", now + timedelta(days=2), [sanne, piet])
    meeting("Summer outing", "poll", None, [sanne, oma])
    _db.session.commit()
    return circle, coord, sanne, oma, piet, prof


def test_the_sheet_shows_the_members_own_commitments_and_next_meeting(
    circle_with_oma, client, login
):
    circle, _coord, sanne, oma, _piet, _prof = circle_with_oma
    login(client, sanne.user)
    people = client.get(f"/c/{circle.id}/people").get_data(as_text=True)
    url = f"/c/{circle.id}/people/{oma.id}/sheet"
    assert f'href="{url}"' in people  # linked next to her name
    resp = client.get(url)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "What is happening for Oma Riet" in html
    assert "Take Sam to football" in html and "Every week on Wednesday" in html
    # The coming Wednesdays, from the day it is printed.
    assert "11 November 2026" in html and "18 November 2026" in html
    assert "Bake a cake for the party" in html and "By 1 December 2026" in html
    assert "Fix Piet" not in html  # not hers
    assert "Is the plan working?" in html and "Oma&#39;s kitchen" in html
    for other in ("The one that was", "Much later", "Without Oma"):
        assert other not in html
    assert "A date is still being chosen for:" in html and "Summer outing" in html
    assert "data-print" in html and "js/print.js" in html


@pytest.mark.parametrize("who", ["oma", "piet", "prof", "coord"])
def test_only_central_persons_may_open_a_sheet(circle_with_oma, client, login, who):
    circle, coord, _sanne, oma, piet, prof = circle_with_oma
    person = {"oma": oma, "piet": piet, "prof": prof, "coord": coord}[who]
    login(client, person.user)
    resp = client.get(f"/c/{circle.id}/people/{oma.id}/sheet")
    assert resp.status_code == 403
    assert "Take Sam to football" not in resp.get_data(as_text=True)


def test_another_circles_member_is_not_found(
    circle_with_oma, client, login, make_circle, add_member
):
    circle, _coord, sanne, _oma, _piet, _prof = circle_with_oma
    other, _ = make_circle("Another family")
    stranger = add_member(other, name="Stranger")
    login(client, sanne.user)
    there = client.get(f"/c/{circle.id}/people/{stranger.id}/sheet")
    nowhere = client.get(f"/c/{circle.id}/people/99999999/sheet")
    assert there.status_code == nowhere.status_code == 404
    assert there.get_data() == nowhere.get_data()
    # Nor through the other circle's own address: Sanne is not in it.
    assert client.get(f"/c/{other.id}/people/{stranger.id}/sheet").status_code == 404


def test_no_sheet_for_a_professional_or_the_coordinator(circle_with_oma, client, login):
    circle, coord, sanne, _oma, _piet, prof = circle_with_oma
    login(client, sanne.user)
    for m in (prof, coord):
        assert client.get(f"/c/{circle.id}/people/{m.id}/sheet").status_code == 403
    people = client.get(f"/c/{circle.id}/people").get_data(as_text=True)
    assert f"/people/{prof.id}/sheet" not in people and f"/people/{coord.id}/sheet" not in people


def test_no_sheet_for_someone_who_left(circle_with_oma, client, login, new_client, csrf):
    circle, _coord, sanne, oma, _piet, _prof = circle_with_oma
    o = login(new_client(), oma.user)
    o.post(f"/c/{circle.id}/leave", data={"csrf_token": csrf(o.get(f"/c/{circle.id}/leave"))})
    login(client, sanne.user)
    resp = client.get(f"/c/{circle.id}/people/{oma.id}/sheet")
    assert resp.status_code == 403
    assert "Take Sam to football" not in resp.get_data(as_text=True)
