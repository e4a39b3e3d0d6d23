"""Take everything with you (issue 13, docs/export.md): ``/account/export`` (my own
data) and ``/c/<id>/export`` (the whole circle, central persons only). Both are ZIPs
written while they are sent; the pages that explain them are /account and the
circle's settings.

There is no person in the first URL: it is always the signed-in person's own data.
The second answers like any circle route: 404 outside the circle, 403 for members
who may not (``access.can_export_circle``)."""

from __future__ import annotations

from flask import Blueprint, Response, stream_with_context
from flask_login import current_user, login_required

from portal.access import can_export_circle, load_circle, require
from portal.extensions import db, limiter
from portal.limits import export_limit, person_key
from portal.services import access_log, export

bp = Blueprint("export", __name__)

# Only a download counts (a few per hour per person): a refused request deducts
# nothing, so a circle that is not yours answers with the same headers as one that
# does not exist.
_limited = limiter.shared_limit(
    export_limit,
    scope="export",
    key_func=person_key,
    deduct_when=lambda response: response.status_code == 200,
)


def _download(stream) -> Response:
    return Response(
        stream_with_context(iter(stream)),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename()}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/account/export")
@login_required
@_limited
def account():
    # The download holds the plan of every circle the person is in: where they are a
    # professional, that is a look at the plan the family sees in the access log.
    user = current_user._get_current_object()
    if access_log.looked_each(user.memberships, "plan_export"):
        db.session.commit()
    return _download(export.account_zip(user.id))


@bp.get("/c/<int:circle_id>/export")
@login_required
@_limited
def circle(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_export_circle(me))
    return _download(export.circle_zip(circle.id))
