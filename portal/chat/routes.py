"""The chat pages. They work without JavaScript; static/js/chat.js adds live updates,
the outbox and retries on top, through the socket events in portal/realtime/chat.py."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from portal.access import ChatSeat, can_read_chat, load_circle, require
from portal.chat.forms import EditForm, MessageForm
from portal.extensions import db
from portal.forms import ConfirmForm
from portal.ids import query_int
from portal.services import RateLimited, ServiceError
from portal.services import chat as svc
from portal.services.allowance import take_slot

bp = Blueprint("chat", __name__)


def _load_chat(circle_id: int):
    """The circle (as load_circle) plus the chat rule for professionals."""
    circle, me = load_circle(circle_id)
    require(can_read_chat(me))
    return circle, me


def _message_or_404(circle, message_id: int):
    try:
        return svc.access_message(circle, message_id)
    except LookupError:
        abort(404)


def _render(circle, me, form, status=200):
    before = request.args.get("before", type=query_int)
    after = request.args.get("after", type=query_int)
    view = svc.open_chat(circle, me, before=before, after=after)
    html = render_template(
        "chat/chat.html",
        circle=circle,
        me=me,
        view=view,
        form=form,
        confirm=ConfirmForm(),
        edit_window=svc.EDIT_WINDOW,
        max_length=svc.MAX_LENGTH,
    )
    # Mark read after rendering: committing first would expire what the page shows.
    if view.messages:
        svc.mark_read(me, view.messages[-1].seq)
        db.session.commit()
    return html, status


@bp.get("/c/<int:circle_id>/chat")
@login_required
def show(circle_id: int):
    circle, me = _load_chat(circle_id)
    return _render(circle, me, MessageForm())


@bp.post("/c/<int:circle_id>/chat")
@login_required
def send(circle_id: int):
    circle, me = _load_chat(circle_id)
    form = MessageForm()
    status = 400
    if form.validate_on_submit():
        try:
            take_slot("chat-send", me.user_id)  # per person, shared with their sockets
            svc.send_message(ChatSeat.of(me), form.client_id.data, form.body.data)
        except ServiceError as e:
            db.session.rollback()
            form.body.errors.append(str(e.message))
            if isinstance(e, RateLimited):
                status = 429
        else:
            db.session.commit()
            return redirect(url_for("chat.show", circle_id=circle.id) + "#latest")
    # What the person typed stays in the box; the same client id keeps a retry single.
    return _render(circle, me, form, status)


@bp.route("/c/<int:circle_id>/chat/messages/<int:message_id>/edit", methods=["GET", "POST"])
@login_required
def edit(circle_id: int, message_id: int):
    circle, me = _load_chat(circle_id)
    message = _message_or_404(circle, message_id)
    form = EditForm(body=message.body)
    status = 200
    if form.validate_on_submit():
        try:
            take_slot("chat-change", me.user_id)  # each edit is a version sent to everyone
            svc.edit_message(circle, me, message, form.body.data)
        except ServiceError as e:
            db.session.rollback()
            form.body.errors.append(str(e.message))
            if isinstance(e, RateLimited):
                status = 429
        else:
            db.session.commit()
            return redirect(url_for("chat.show", circle_id=circle.id) + f"#m{message.seq}")
    return (
        render_template("chat/edit.html", circle=circle, me=me, message=message, form=form),
        status,
    )


@bp.post("/c/<int:circle_id>/chat/messages/<int:message_id>/delete")
@login_required
def delete(circle_id: int, message_id: int):
    circle, me = _load_chat(circle_id)
    message = _message_or_404(circle, message_id)
    if ConfirmForm().validate_on_submit():
        try:
            take_slot("chat-change", me.user_id)
            svc.delete_message(circle, me, message)
        except ServiceError as e:
            db.session.rollback()
            flash(str(e.message), "error")
        else:
            db.session.commit()
            flash(_("The message is removed."), "success")
    return redirect(url_for("chat.show", circle_id=circle.id) + f"#m{message.seq}")


@bp.get("/c/<int:circle_id>/chat/messages/<int:message_id>/versions")
@login_required
def versions(circle_id: int, message_id: int):
    circle, me = _load_chat(circle_id)
    message = _message_or_404(circle, message_id)
    return render_template("chat/versions.html", circle=circle, me=me, message=message)
