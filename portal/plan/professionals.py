"""The plan pages of the professionals: conditions they set, who takes them over, and
accepting the plan. Views on the plan blueprint (``portal.plan.routes.bp``)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_login import login_required

from portal.access import (
    access_member,
    access_plan_item,
    can_accept_plan,
    can_pass_conditions_on,
    can_remove_condition,
    can_set_conditions,
    load_circle,
    require,
)
from portal.extensions import db
from portal.forms import ConfirmForm
from portal.models import Condition
from portal.plan.forms import AcceptForm, ConditionForm, PassOnForm
from portal.plan.routes import _missing_is_404, _to_plan, bp
from portal.services import circles as circle_svc
from portal.services import plan as svc
from portal.views import run

# --- Professionals ---------------------------------------------------------------------


@bp.post("/c/<int:circle_id>/plan/conditions")
@login_required
def add_condition(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_set_conditions(me))
    form = ConditionForm()
    if form.validate_on_submit():
        run(
            lambda: svc.add_condition(circle, me, form.text.data),
            success=_("The condition is added to the plan."),
        )
    return _to_plan(circle, "conditions")


@bp.post("/c/<int:circle_id>/plan/conditions/<int:condition_id>/remove")
@login_required
def remove_condition(circle_id: int, condition_id: int):
    circle, me = load_circle(circle_id)
    k = access_plan_item(circle, Condition, condition_id)
    require(can_remove_condition(me, k))
    if ConfirmForm().validate_on_submit():
        svc.remove_condition(circle, me, k)
        db.session.commit()
    return _to_plan(circle, "conditions")


@bp.post("/c/<int:circle_id>/plan/conditions/pass-on")
@login_required
def pass_conditions_on(circle_id: int):
    """A professional names who takes over from them: only they, never the family."""
    circle, me = load_circle(circle_id)
    require(can_pass_conditions_on(me))
    form = PassOnForm()
    if form.validate_on_submit():
        to = access_member(circle, form.to.data)
        require(can_pass_conditions_on(me, to))
        run(
            lambda: circle_svc.pass_conditions_on(circle, me, to),
            success=_("%(name)s may now remove the conditions you set.", name=to.display_name),
        )
    return _to_plan(circle, "conditions")


@bp.post("/c/<int:circle_id>/plan/accept")
@login_required
def accept(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_accept_plan(me))
    form = AcceptForm()
    if form.validate_on_submit():
        n = form.version.data
        with _missing_is_404():
            run(
                lambda: svc.accept(circle, me, n),
                success=_("You accepted version %(n)d of the plan.", n=n),
            )
    return _to_plan(circle)
