"""The private line between a supporter and the member they support (issue 14).

The page works without JavaScript (a plain form post); static/js/line.js adds live
messages, the outbox and retries through the socket events in portal/realtime/lines.py.
Only the line's two people get anything here: everyone else, whatever their role, gets
the one 404 (``access.access_line``)."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.access import access_line
from portal.extensions import db
from portal.ids import query_int
from portal.lines.forms import LineMessageForm
from portal.services import lines as svc
from portal.services.allowance import take_slot
from portal.views import own_allowance, run_into

bp = Blueprint("lines", __name__)


def _load(circle_id: int, line_id: int):
    circle, me, line = access_line(current_user, circle_id, line_id)
    g.circle, g.membership = circle, me
    return circle, me, line


def _render(circle, me, line, form, status=200):
    before = request.args.get("before", type=query_int)
    messages = svc.messages_before(line, before)
    unread_from = svc.read_seq(line, me)
    html = render_template(
        "lines/line.html",
        circle=circle,
        me=me,
        line=line,
        other=svc.other_of(line, me),
        i_support=me.id == line.supporter_id,
        messages=messages,
        first_unread_seq=next(
            (m.seq for m in messages if m.seq > unread_from and m.author_id != me.id), None
        ),
        has_older=bool(messages) and messages[0].seq > 1,
        live=before is None,
        form=form,
        max_length=svc.MAX_LENGTH,
    )
    # Read now: after rendering (committing first would expire what the page shows).
    svc.mark_read(line, me, messages[-1].seq if messages else 0)
    db.session.commit()
    return html, status


@bp.get("/c/<int:circle_id>/line/<int:line_id>")
@login_required
def show(circle_id: int, line_id: int):
    circle, me, line = _load(circle_id, line_id)
    return _render(circle, me, line, LineMessageForm())


@bp.post("/c/<int:circle_id>/line/<int:line_id>")
@own_allowance
@login_required
def send(circle_id: int, line_id: int):
    circle, me, line = _load(circle_id, line_id)
    form = LineMessageForm()
    if not form.validate_on_submit():
        return _render(circle, me, line, form, 400)
    if not run_into(form.body, lambda: take_slot("chat-send", me.user_id)):
        return _render(circle, me, line, form, 429)
    client_id, body = form.client_id.data, form.body.data
    if not run_into(form.body, lambda: svc.send_message(line, me, client_id, body)):
        return _render(circle, me, line, form, 400)
    return redirect(url_for("lines.show", circle_id=circle.id, line_id=line.id) + "#latest")
