"""A service's "you may not" is one error, answered in one place per door: the 403
page over HTTP and ``forbidden`` over the socket (never a server error)."""

from __future__ import annotations

from datetime import date

import pytest

from portal.models import Role
from portal.services import Forbidden
from portal.services import plan as plan_svc
from portal.services.plan import CommitmentData
from portal.services.schedule import Schedule


def test_a_professional_ticking_a_commitment_is_forbidden_by_the_service(
    db, make_circle, add_member
):
    circle, coord = make_circle()
    anna = add_member(circle, name="Anna")
    pro = add_member(circle, Role.PROFESSIONAL, name="Els")
    data = CommitmentData(
        what="Walk the dog",
        assignee_ids=[anna.id],
        other_assignees="",
        checker_id=None,
        checker_name="",
        items=[],
        schedule=Schedule(kind="once", start=date.today(), end=None),
    )
    plan_svc.change(circle, coord, "add_commitment", payload=data.to_payload())
    db.session.commit()
    c = plan_svc.commitments(circle)[0]
    with pytest.raises(Forbidden):
        plan_svc.tick(circle, pro, c, date.today().isoformat())


def test_forbidden_from_a_service_is_the_403_page_over_http(app):
    with app.test_request_context("/"):
        resp = app.make_response(app.handle_user_exception(Forbidden()))
    assert resp.status_code == 403
    assert "<title>" in resp.get_data(as_text=True)


def test_forbidden_is_answered_forbidden_over_the_socket():
    from portal.realtime import protocol

    assert protocol.answer_for(Forbidden()) == {"ok": False, "error": "forbidden"}
