"""Who from outside the family looked, and who can see what (issue 13). Read-only
pages on the circles blueprint (``portal.circles.routes.bp``): no forms."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_login import login_required

from portal.access import can_read_whole_access_log, load_circle
from portal.circles.routes import bp
from portal.ids import query_page
from portal.services import access_log
from portal.services.who_can_see import who_can_see


@bp.get("/c/<int:circle_id>/access-log")
@login_required
def access_log_page(circle_id: int):
    """Everyone but professionals sees every look; a professional sees their own."""
    circle, me = load_circle(circle_id)
    page = access_log.entries(
        circle,
        me,
        page=request.args.get("page", 1, type=query_page),
        per_page=current_app.config["ITEMS_PER_PAGE"],
    )
    return render_template(
        "circles/access_log.html",
        circle=circle,
        me=me,
        page=page,
        pages=access_log.PAGES,
        whole=can_read_whole_access_log(me),
    )


@bp.get("/c/<int:circle_id>/who-can-see")
@login_required
def who_can_see_page(circle_id: int):
    circle, me = load_circle(circle_id)
    return render_template(
        "circles/who_can_see.html", circle=circle, me=me, rights=who_can_see(circle)
    )
