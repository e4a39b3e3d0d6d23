"""Closing the circle, opening it again, and "keep it" when Kring asks about an idle
circle (``services.closing``). Views on the circles blueprint
(``portal.circles.routes.bp``)."""

from __future__ import annotations

from flask import current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from portal.access import (
    can_close_circle,
    can_keep_circle,
    can_reopen_circle,
    load_circle,
    require,
)
from portal.circles.routes import bp
from portal.forms import ConfirmForm
from portal.services import closing as svc
from portal.views import act, open_when_closed, run


def _home(circle):
    return url_for("circles.home", circle_id=circle.id)


@bp.route("/c/<int:circle_id>/close", methods=["GET", "POST"])
@login_required
def close(circle_id: int):
    """What closing means, and the button that does it (central persons)."""
    circle, me = load_circle(circle_id)
    require(can_close_circle(me))
    form = ConfirmForm()
    if form.validate_on_submit() and run(
        lambda: svc.close_circle(circle, me),
        success=_("The circle is closed. Everyone in it has been told."),
    ):
        return redirect(_home(circle))
    return render_template(
        "circles/close.html",
        circle=circle,
        me=me,
        form=form,
        days=current_app.config["CLOSED_CIRCLE_RETENTION_DAYS"],
    )


@bp.post("/c/<int:circle_id>/reopen")
@open_when_closed
@login_required
def reopen(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_reopen_circle(me))
    if not ConfirmForm().validate_on_submit():
        return redirect(_home(circle))
    return act(
        lambda: svc.reopen_circle(circle, me),
        _home(circle),
        success=_("The circle is open again. Everyone in it has been told."),
    )


@bp.post("/c/<int:circle_id>/keep")
@login_required
def keep(circle_id: int):
    """The answer "keep it" to "Is this circle still needed?"."""
    circle, me = load_circle(circle_id)
    require(can_keep_circle(me))
    if not ConfirmForm().validate_on_submit():
        return redirect(_home(circle))
    return act(
        lambda: svc.keep_circle(circle, me),
        _home(circle),
        success=_("Thank you. The circle stays."),
    )
