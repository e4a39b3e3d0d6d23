"""The chat pages. They work without JavaScript; static/js/chat.js adds live updates,
the outbox and retries on top, through the socket events in portal/realtime/chat.py."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from portal.access import ChatSeat, can_read_chat, load_circle, require
from portal.chat.forms import EditForm, MessageForm
from portal.extensions import db
from portal.forms import ConfirmForm
from portal.ids import query_int
from portal.services import chat as svc
from portal.services import notifications
from portal.services.allowance import take_slot
from portal.views import looked, own_allowance, run, run_into

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
    # The circle's chat news is read now: before the header's badge is counted.
    notifications.mark_seen(me.user_id, circle_id=circle.id, kinds=notifications.CHAT_KINDS)
    people = svc.mentionable(circle)
    html = render_template(
        "chat/chat.html",
        circle=circle,
        me=me,
        view=view,
        form=form,
        confirm=ConfirmForm(),
        edit_window=svc.EDIT_WINDOW,
        max_length=svc.MAX_LENGTH,
        people=people,
        usernames={username for _name, username in people},
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
    return looked(me, "chat", lambda: _render(circle, me, MessageForm()))


@bp.post("/c/<int:circle_id>/chat")
@own_allowance
@login_required
def send(circle_id: int):
    circle, me = _load_chat(circle_id)
    form = MessageForm()
    # On any failure what the person typed stays in the box, and the same client id
    # keeps a retry single. The send limit is per person, shared with their sockets.
    if not form.validate_on_submit():
        return _render(circle, me, form, 400)
    if not run_into(form.body, lambda: take_slot("chat-send", me.user_id)):
        return _render(circle, me, form, 429)
    seat, client_id, body = ChatSeat.of(me), form.client_id.data, form.body.data
    if not run_into(form.body, lambda: svc.send_message(seat, client_id, body)):
        return _render(circle, me, form, 400)
    return redirect(url_for("chat.show", circle_id=circle.id) + "#latest")


def _to_message(circle, message):
    return redirect(url_for("chat.show", circle_id=circle.id) + f"#m{message.seq}")


@bp.route("/c/<int:circle_id>/chat/messages/<int:message_id>/edit", methods=["GET", "POST"])
@own_allowance
@login_required
def edit(circle_id: int, message_id: int):
    circle, me = _load_chat(circle_id)
    message = _message_or_404(circle, message_id)
    form = EditForm(body=message.body)
    if form.validate_on_submit():
        # Each edit is a version sent to everyone: the same allowance as removing.
        if not run_into(form.body, lambda: take_slot("chat-change", me.user_id)):
            return _edit_page(circle, me, message, form), 429
        if run_into(form.body, lambda: svc.edit_message(circle, me, message, form.body.data)):
            return _to_message(circle, message)
    return _edit_page(circle, me, message, form)


def _edit_page(circle, me, message, form):
    return render_template("chat/edit.html", circle=circle, me=me, message=message, form=form)


@bp.post("/c/<int:circle_id>/chat/messages/<int:message_id>/delete")
@own_allowance
@login_required
def delete(circle_id: int, message_id: int):
    circle, me = _load_chat(circle_id)
    message = _message_or_404(circle, message_id)
    if ConfirmForm().validate_on_submit():
        if run(lambda: take_slot("chat-change", me.user_id)):
            run(
                lambda: svc.delete_message(circle, me, message),
                success=_("The message is removed."),
            )
    return _to_message(circle, message)


@bp.get("/c/<int:circle_id>/chat/messages/<int:message_id>/versions")
@login_required
def versions(circle_id: int, message_id: int):
    circle, me = _load_chat(circle_id)
    message = _message_or_404(circle, message_id)
    return render_template("chat/versions.html", circle=circle, me=me, message=message)
