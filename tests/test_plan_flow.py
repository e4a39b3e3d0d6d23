"""The plan end to end over HTTP: enter, agree, tick, propose, consent, diff, export."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Completion, PlanVersion
from tests import plan_data
from tests.conftest import csrf_from


def _post(client, url, page_url, data):
    page = client.get(page_url)
    return client.post(url, data={**data, "csrf_token": csrf_from(page)})


def test_enter_agree_tick_propose_consent(client, new_client, make_circle, add_member, login):
    circle, coord = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    oma = add_member(circle, name="Oma")
    plan = f"/c/{circle.id}/plan"
    login(client, coord.user)
    assert client.get(plan).status_code == 200
    resp = _post(
        client,
        f"{plan}/commitments/new",
        f"{plan}/commitments/new",
        {
            "what": "Take Sam to football",
            "assignees": [str(oma.id)],
            "kind": "weekly",
            "start": "2026-11-02",
            "weekdays": ["2"],
            "interval": "1",
            "checker": str(sanne.id),
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    resp = _post(
        client,
        f"{plan}/commitments/new",
        f"{plan}/commitments/new",
        {
            "what": "Fix the bike",
            "assignees": [str(sanne.id)],
            "kind": "once",
            "start": "2026-12-01",
            "checker": "0",
            "items": "Buy a tyre\nFit the tyre",
        },
    )
    assert resp.status_code == 302
    _post(client, f"{plan}/agreements", plan, {"text": "If Oma is ill, Sanne drives."})
    _post(client, f"{plan}/evaluation", plan, {"date": "2027-01-15"})
    resp = _post(
        client, f"{plan}/agree", f"{plan}/agree", {"present": [str(sanne.id), str(oma.id)]}
    )
    assert resp.status_code == 302
    v1 = db.session.scalar(select(PlanVersion).where(PlanVersion.number == 1))
    assert v1.agreed_by == ["Oma", "Sanne"] and len(v1.snapshot["commitments"]) == 2

    # Oma ticks this week's football.
    o = login(new_client(), oma.user)
    html = o.get(plan).get_data(as_text=True)
    assert "Take Sam to football" in html and "Done for" in html
    cid = re.search(r'id="c(\d+)"', html).group(1)
    turn = re.search(r'name="occurrence" value="(\d{4}-\d\d-\d\d)"', html).group(1)
    _post(o, f"{plan}/commitments/{cid}/tick", plan, {"occurrence": turn, "note": "went well"})
    _post(o, f"{plan}/commitments/{cid}/tick", plan, {"occurrence": turn})
    assert db.session.scalar(select(func.count()).select_from(Completion)) == 1

    # Oma proposes a new commitment; Sanne consents; version 2 appears.
    resp = _post(
        o,
        f"{plan}/commitments/new",
        f"{plan}/commitments/new",
        {
            "what": "Call the school",
            "assignees": [str(oma.id)],
            "kind": "once",
            "start": "2026-12-10",
            "checker": "0",
            "reason": "Sam asked",
        },
    )
    assert resp.status_code == 302
    s = login(new_client(), sanne.user)
    html = s.get(plan).get_data(as_text=True)
    assert "Call the school" in html and "I agree" in html
    pid = re.search(r"/plan/proposals/(\d+)/answer", html).group(1)
    _post(s, f"{plan}/proposals/{pid}/answer", plan, {"answer": "consent"})
    numbers = db.session.scalars(select(PlanVersion.number).order_by(PlanVersion.number)).all()
    assert numbers == [1, 2]
    diff = s.get(f"{plan}/diff?a=1&b=2").get_data(as_text=True)
    assert "Call the school" in diff and "Added" in diff
    export = json.loads(s.get(f"{plan}/export.json").get_data(as_text=True))
    assert export["format"] == "kring-plan/1" and [v["number"] for v in export["versions"]] == [
        1,
        2,
    ]
    assert export["completions"][0]["note"] == "went well"
    printed = s.get(f"{plan}/print").get_data(as_text=True)
    assert "Version 2 of the plan." in printed
    assert re.search(r"Change agreed by: [A-Z]", printed), "the print says who agreed"
    assert "Call the school" not in s.get("/me/commitments").get_data(as_text=True)  # Oma's
    assert "Call the school" in o.get("/me/commitments").get_data(as_text=True)
    assert "Take Sam to football" in o.get("/me/commitments").get_data(as_text=True)


def test_an_agreement_is_changed_by_consent(client, new_client, make_circle, add_member, login):
    """'If things go differently' agreements change the way the plan was made."""
    from datetime import date

    from portal.models import Agreement
    from portal.services import plan as plan_svc
    from portal.services.schedule import Schedule

    circle, coord = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    oma = add_member(circle, name="Oma")
    plan_data.add_commitment(
        circle,
        coord,
        plan_svc.CommitmentData(
            what="Cook on Sundays",
            assignee_ids=[oma.id],
            schedule=Schedule(kind="weekly", start=date(2026, 11, 1), weekdays=frozenset({6})),
        ),
    )
    a = plan_data.add_agreement(circle, coord, "If Oma is ill, Sanne cooks.")
    plan_svc.record_agreement(circle, coord, [sanne.id, oma.id])
    db.session.commit()
    url = f"/c/{circle.id}/plan/agreements/{a.id}/edit"
    o = login(new_client(), oma.user)
    form = o.get(url)
    assert "If Oma is ill, Sanne cooks." in form.get_data(as_text=True)
    resp = o.post(
        url,
        data={
            "text": "If Oma is ill, Sanne or Ben cooks.",
            "reason": "Ben offered",
            "csrf_token": csrf_from(form),
        },
    )
    assert resp.status_code == 302
    assert db.session.get(Agreement, a.id).text == "If Oma is ill, Sanne cooks."  # not yet
    s = login(new_client(), sanne.user)
    html = s.get(f"/c/{circle.id}/plan").get_data(as_text=True)
    pid = re.search(r"/plan/proposals/(\d+)/answer", html).group(1)
    _post(
        s,
        f"/c/{circle.id}/plan/proposals/{pid}/answer",
        f"/c/{circle.id}/plan",
        {"answer": "consent"},
    )
    assert db.session.get(Agreement, a.id).text == "If Oma is ill, Sanne or Ben cooks."
    diff = s.get(f"/c/{circle.id}/plan/diff?a=1&b=2").get_data(as_text=True)
    assert "Changed" in diff and "Sanne or Ben cooks" in diff
