# ruff: noqa: F811  (the plan tests' fixtures are imported, then used as arguments)
"""Issue 10, hole 12: a professional's condition is theirs to remove.

Only the professional who set it may remove it, or the professional their organisation
sent in their place (named on the invitation). Other professionals and the family may
not, neither through the page nor by posting the form themselves.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from portal.extensions import db as _db
from portal.models import Condition, Membership
from portal.services import circles as circle_svc
from portal.services import plan as svc
from tests.test_plan_rules import _many_logins, _post, browser, family, make_family  # noqa: F401


def _condition(f, by: Membership, text: str) -> Condition:
    k = svc.add_condition(f.circle, by, text)
    _db.session.commit()
    return k


def _remove_url(f, k: Condition) -> str:
    return f"{f.plan}/conditions/{k.id}/remove"


def _has_remove_button(html: str, f, k: Condition) -> bool:
    return f'action="{_remove_url(f, k)}"' in html


def _invite_replacement(f, browser, make_user, replaces: Membership | None) -> Membership:
    """Sanne (central) invites a professional through the form; a new account joins."""
    page = browser(f.sanne).get(f"/c/{f.circle.id}/people").get_data(as_text=True)
    assert "Takes over from" in page and "Dr Vos" in page
    data = {"name": "Mr Smit", "role": "professional", "email": ""}
    if replaces is not None:
        data["replaces"] = str(replaces.id)
    resp = _post(browser(f.sanne), f"/c/{f.circle.id}/invitations", data)
    assert resp.status_code == 200, resp.get_data(as_text=True)[-1500:]
    token = re.search(r"/i/([A-Za-z0-9_\-]{20,})", resp.get_data(as_text=True)).group(1)
    m = circle_svc.redeem_invitation(token, make_user("Smit"))
    _db.session.commit()
    return m


def test_another_professional_cannot_remove_a_condition(family, browser, add_member):
    f = family
    k = _condition(f, f.prof, "Sam sleeps at home on school nights")
    other = add_member(f.circle, role="professional", name="Ms Bakker")
    b = browser(other)

    html = b.get(f.plan).get_data(as_text=True)
    assert "Sam sleeps at home on school nights" in html and "Dr Vos" in html  # who set it
    assert not _has_remove_button(html, f, k)
    assert _has_remove_button(browser(f.prof).get(f.plan).get_data(as_text=True), f, k)

    # Posting the form anyway (a valid CSRF token of her own session): refused.
    assert _post(b, _remove_url(f, k)).status_code == 403
    assert _db.session.get(Condition, k.id).active
    # Nor can a central person: the conditions are the professionals' to set.
    assert _post(browser(f.sanne), _remove_url(f, k)).status_code == 403
    assert _db.session.get(Condition, k.id).active
    # The one who set it can.
    assert _post(browser(f.prof), _remove_url(f, k)).status_code == 302
    assert not _db.session.get(Condition, k.id).active


def test_the_named_replacement_may_remove_the_conditions_of_the_one_they_replace(
    family, browser, add_member, make_user
):
    f = family
    k = _condition(f, f.prof, "Weekly contact with the school")
    bakker = add_member(f.circle, role="professional", name="Ms Bakker")
    hers = _condition(f, bakker, "Sam sees the doctor monthly")

    smit = _invite_replacement(f, browser, make_user, replaces=f.prof)
    assert smit.replaces_membership_id == f.prof.id
    b = browser(smit)
    html = b.get(f.plan).get_data(as_text=True)
    assert _has_remove_button(html, f, k) and not _has_remove_button(html, f, hers)
    assert _post(b, _remove_url(f, hers)).status_code == 403  # not whom he replaces
    assert _db.session.get(Condition, hers.id).active
    assert _post(b, _remove_url(f, k)).status_code == 302
    assert not _db.session.get(Condition, k.id).active


def test_a_professional_invited_without_replacing_anyone_may_not(family, browser, make_user):
    f = family
    k = _condition(f, f.prof, "Weekly contact with the school")
    smit = _invite_replacement(f, browser, make_user, replaces=None)
    assert smit.replaces_membership_id is None
    assert _post(browser(smit), _remove_url(f, k)).status_code == 403
    assert _db.session.get(Condition, k.id).active


def test_only_a_professional_of_this_circle_can_be_replaced(family, make_circle, add_member):
    f = family
    elsewhere, _ = make_circle()
    outsider = add_member(elsewhere, role="professional", name="Dr Elders")
    for role, replaces in (
        ("professional", f.oma.id),  # not a professional
        ("professional", outsider.id),  # another circle's
        ("member", f.prof.id),  # only a professional replaces one
    ):
        try:
            circle_svc.invite(f.circle, f.sanne, name="X", role=role, replaces=replaces)
        except circle_svc.ServiceError as e:
            assert e.field == "replaces"
        else:
            raise AssertionError(f"{role} replacing {replaces} was accepted")
    _db.session.rollback()
    assert _db.session.scalars(select(Membership).where(Membership.display_name == "X")).all() == []
