"""The coordinator's withdrawal is real: after handover nothing they kept lets them in."""

from __future__ import annotations

import pytest

from portal.extensions import db
from portal.models import Membership, MembershipStatus
from portal.services import ServiceError, accounts
from portal.services import circles as svc


def test_reentry_links_made_by_the_coordinator_stop_at_handover(
    app, make_circle, add_member, client
):
    circle, coord = make_circle()
    add_member(circle, role="central", name="Sanne")
    anna = add_member(circle, name="Anna")
    token = accounts.issue_reset_token(anna.user, circle_id=circle.id, issued_by_id=coord.id)
    db.session.commit()
    svc.hand_over(circle, coord)
    db.session.commit()
    # The kept link now answers like any dead link, and Anna's password is unchanged.
    client.get(f"/r/{token}")
    page = client.get("/password/new")
    assert page.status_code == 404
    assert accounts.find_user_for_login(anna.user.username, "correct horse battery") is not None


def test_coordinator_cannot_rejoin_with_a_kept_invitation(app, make_circle, add_member):
    circle, coord = make_circle()
    sanne = add_member(circle, role="central", name="Sanne")
    _inv, token = svc.invite(circle, coord, name="Uncle Bob", role="member")
    db.session.commit()
    svc.hand_over(circle, coord)
    db.session.commit()
    with pytest.raises(ServiceError):
        svc.redeem_invitation(token, coord.user)
    db.session.rollback()
    m = db.session.get(Membership, coord.id)
    assert m.status == MembershipStatus.HANDED_OVER
    # Nor can anyone else with that link (the coordinator could make a new account):
    # the family is waiting for Uncle Bob, and a central person gives him a new link.
    bob = accounts.create_user(name="Bob", username="unclebob", password="a long password")
    db.session.commit()
    with pytest.raises(ServiceError):
        svc.redeem_invitation(token, bob)
    db.session.rollback()
    assert [i.name for i in svc.still_to_join(circle)] == ["Uncle Bob"]
    new_token = svc.reissue_invitation(_inv, sanne)
    db.session.commit()
    assert svc.redeem_invitation(new_token, bob).is_active
