# ruff: noqa: F811  (the plan tests' fixtures are imported, then used as arguments)
"""Issue 10, hole 12: a professional's condition is theirs to remove.

Only the professional who set it may remove it, or the professional they named to take
over from them ("Pass my conditions on to", on the plan page). Other professionals and
the family may not, neither through the page nor by posting the form themselves; and
the family cannot name the one who takes over (review A5: not on the invitation either).
"""

from __future__ import annotations

import re

from portal.extensions import db as _db
from portal.models import Condition, Membership
from portal.services import circles as circle_svc
from portal.services import membership as membership_svc
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


def _invite_professional(f, browser, make_user, **extra) -> Membership:
    """Sanne (central) invites a professional through the form; a new account joins."""
    page = browser(f.sanne).get(f"/c/{f.circle.id}/people").get_data(as_text=True)
    assert "Takes over from" not in page  # the family names no replacement
    data = {"name": "Mr Smit", "role": "professional", "email": "", **extra}
    resp = _post(browser(f.sanne), f"/c/{f.circle.id}/invitations", data)
    assert resp.status_code == 200, resp.get_data(as_text=True)[-1500:]
    token = re.search(r"/i/([A-Za-z0-9_\-]{20,})", resp.get_data(as_text=True)).group(1)
    m = circle_svc.redeem_invitation(token, make_user("Smit"))
    _db.session.commit()
    return m


def _pass_on_url(f) -> str:
    return f"{f.plan}/conditions/pass-on"


def _replaces(m: Membership) -> int | None:
    _db.session.expire_all()
    return _db.session.get(Membership, m.id).replaces_membership_id


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


def test_the_one_a_professional_names_may_remove_their_conditions(
    family, browser, add_member, make_user
):
    f = family
    k = _condition(f, f.prof, "Weekly contact with the school")
    bakker = add_member(f.circle, role="professional", name="Ms Bakker")
    hers = _condition(f, bakker, "Sam sees the doctor monthly")
    smit = _invite_professional(f, browser, make_user)
    assert smit.replaces_membership_id is None
    assert _post(browser(smit), _remove_url(f, k)).status_code == 403  # not yet

    # Dr Vos sees the choice on the plan page, and names Mr Smit.
    html = browser(f.prof).get(f.plan).get_data(as_text=True)
    assert "Pass my conditions on to" in html and f'action="{_pass_on_url(f)}"' in html
    assert "Mr Smit" in html and "Ms Bakker" in html
    resp = _post(browser(f.prof), _pass_on_url(f), {"to": str(smit.id)})
    assert resp.status_code == 302
    assert _replaces(smit) == f.prof.id
    history = browser(f.sanne).get(f"/c/{f.circle.id}/history").get_data(as_text=True)
    assert "Dr Vos passed their conditions on to Mr Smit" in history

    b = browser(smit)
    html = b.get(f.plan).get_data(as_text=True)
    assert _has_remove_button(html, f, k) and not _has_remove_button(html, f, hers)
    assert _post(b, _remove_url(f, hers)).status_code == 403  # not whom he replaces
    assert _db.session.get(Condition, hers.id).active
    assert _post(b, _remove_url(f, k)).status_code == 302
    assert not _db.session.get(Condition, k.id).active


def test_naming_someone_else_takes_it_back_from_the_first(family, browser, add_member, make_user):
    f = family
    k = _condition(f, f.prof, "Weekly contact with the school")
    bakker = add_member(f.circle, role="professional", name="Ms Bakker")
    smit = _invite_professional(f, browser, make_user)
    assert _post(browser(f.prof), _pass_on_url(f), {"to": str(smit.id)}).status_code == 302
    assert _post(browser(f.prof), _pass_on_url(f), {"to": str(bakker.id)}).status_code == 302
    assert _replaces(smit) is None and _replaces(bakker) == f.prof.id
    assert _post(browser(smit), _remove_url(f, k)).status_code == 403
    assert _db.session.get(Condition, k.id).active


def test_the_family_cannot_name_a_replacement(family, browser, make_user):
    """Neither on the invitation (a forged "replaces" field is ignored), nor by posting
    the professional's form: a central person, a member and a supporter get 403."""
    f = family
    k = _condition(f, f.prof, "Weekly contact with the school")
    smit = _invite_professional(f, browser, make_user, replaces=str(f.prof.id))
    assert smit.replaces_membership_id is None
    for m in (f.sanne, f.oma, f.piet):
        html = browser(m).get(f.plan).get_data(as_text=True)
        assert "Pass my conditions on to" not in html
        assert _post(browser(m), _pass_on_url(f), {"to": str(smit.id)}).status_code == 403
    assert _replaces(smit) is None
    assert _post(browser(smit), _remove_url(f, k)).status_code == 403
    assert _db.session.get(Condition, k.id).active


def test_a_professional_names_only_another_active_professional_of_this_circle(
    family, browser, make_circle, add_member, make_user
):
    f = family
    elsewhere, _ = make_circle()
    outsider = add_member(elsewhere, role="professional", name="Dr Elders")
    bakker = add_member(f.circle, role="professional", name="Ms Bakker")
    smit = _invite_professional(f, browser, make_user)
    gone = add_member(f.circle, role="professional", name="Mr Gone")
    membership_svc.remove_member(f.circle, f.sanne, gone)
    _db.session.commit()
    # Mr Smit already takes over from Ms Bakker: Dr Vos may not take him away from her.
    assert _post(browser(bakker), _pass_on_url(f), {"to": str(smit.id)}).status_code == 302
    vos = browser(f.prof)
    for to, status in (
        (outsider.id, 404),  # another circle's: as if it did not exist
        (f.oma.id, 403),  # not a professional
        (f.prof.id, 403),  # himself
        (gone.id, 403),  # no longer in the circle
        (smit.id, 403),  # already takes over from someone else
        (2**63, 404),  # not an id at all
    ):
        assert _post(vos, _pass_on_url(f), {"to": str(to)}).status_code == status, to
    assert _replaces(smit) == bakker.id
    for m in (outsider, f.oma, f.prof, gone, bakker):
        assert _replaces(m) is None
    html = vos.get(f.plan).get_data(as_text=True)
    assert "Ms Bakker" in html and "Mr Smit" not in html.split("Pass my conditions on to")[1]
