"""People without internet and who may act for whom (issue 14): a central person adds
an offline member and names who answers for them; every member names, on their own
page, who may act for them. The invitation that takes an offline member's place is
made on the people page too, by ``invitations.take_place``."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from portal.access import (
    access_member,
    acting_for_choices,
    can_add_offline_member,
    can_name_proxies,
    load_circle,
    require,
)
from portal.offline.forms import OfflineMemberForm, ProxiesForm
from portal.services import membership as membership_svc
from portal.services import offline as svc
from portal.views import run

bp = Blueprint("offline", __name__)


def _to_people(circle, anchor: str = ""):
    return redirect(url_for("invitations.people", circle_id=circle.id) + anchor)


def _first_error(form) -> None:
    for errors in form.errors.values():
        for e in errors:
            flash(str(e), "error")
            return


@bp.post("/c/<int:circle_id>/people/offline")
@login_required
def add(circle_id: int):
    """A central person adds someone without internet: a name and a role."""
    circle, me = load_circle(circle_id)
    require(can_add_offline_member(me))
    form = OfflineMemberForm()
    if not form.validate_on_submit():
        _first_error(form)
        return _to_people(circle, "#offline")
    done = run(lambda: svc.add_offline_member(circle, me, **form.member()))
    if done:
        flash(
            _(
                "%(name)s is in the circle now. Commitments can name them. Choose below "
                "who may answer for them.",
                name=done.value.display_name,
            ),
            "success",
        )
        return _to_people(circle, f"#m{done.value.id}")
    return _to_people(circle, "#offline")


@bp.post("/c/<int:circle_id>/members/<int:member_id>/proxies")
@login_required
def proxies(circle_id: int, member_id: int):
    """A central person says who may answer for an offline member."""
    circle, me = load_circle(circle_id)
    member = access_member(circle, member_id)
    require(member.offline and can_name_proxies(me, member))
    form = ProxiesForm.offering(svc.proxy_choices(member), member)
    if form.validate_on_submit():
        run(
            lambda: membership_svc.set_proxies(circle, me, member, form.ids()),
            success=_("Saved."),
        )
    return _to_people(circle, f"#m{member.id}")


@bp.route("/c/<int:circle_id>/answer-for-me", methods=["GET", "POST"])
@login_required
def mine(circle_id: int):
    """My own setting: who may tick, answer a poll or give consent for me."""
    circle, me = load_circle(circle_id)
    require(can_name_proxies(me, me))
    form = ProxiesForm.offering(svc.proxy_choices(me), me)
    if form.validate_on_submit() and run(
        lambda: membership_svc.set_proxies(circle, me, me, form.ids()), success=_("Saved.")
    ):
        return redirect(url_for("offline.mine", circle_id=circle.id))
    return render_template(
        "offline/mine.html",
        circle=circle,
        me=me,
        form=form,
        acting_for=acting_for_choices(me),
    )
