"""Invitations: the only way into a circle.

Managing them (people page, invite, re-issue, revoke, re-entry links) is for central
persons and the coordinator before handover. Redeeming is for whoever holds a link.
"""

from __future__ import annotations

import segno
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from portal.access import (
    access_invitation,
    access_member,
    can_issue_reentry,
    can_manage,
    can_reissue_invitation,
    can_see_still_to_join,
    load_circle,
    require,
)
from portal.auth.login import sign_in
from portal.extensions import db, limiter
from portal.forms import ConfirmForm
from portal.i18n import joining_locale
from portal.invitations.forms import AcceptForm, InviteForm, JoinForm
from portal.limits import token_limit
from portal.models import Invitation, Role
from portal.services import ServiceError, accounts
from portal.services import circles as svc
from portal.tokens import hash_token

bp = Blueprint("invitations", __name__)

INVITE_SESSION_KEY = "invite_token"  # also listed in auth.login.KEPT_ACROSS_SIGN_IN


def _link(endpoint: str, token: str) -> str:
    return current_app.config["BASE_URL"] + url_for(endpoint, token=token)


def _qr(url: str) -> Markup:
    # An inline SVG drawn on the server: no script, nothing fetched from elsewhere.
    return Markup(segno.make(url, error="m").svg_inline(scale=5, dark="#1b1b1b", omitsize=True))


def _people_page(circle, me, form, status=200):
    """The people page. Invitations whose link the circle stopped (the handover, or a
    central person who went) are listed apart, as "Still to join", and only to the
    central persons, who decide whether those people get a new link."""
    invitations = db.session.scalars(
        select(Invitation)
        .where(
            Invitation.circle_id == circle.id,
            Invitation.redeemed_at.is_(None),
            Invitation.link_stopped_at.is_(None),
        )
        .order_by(Invitation.created_at.desc())
    ).all()
    still_to_join = svc.still_to_join(circle) if can_see_still_to_join(me) else []
    return (
        render_template(
            "invitations/people.html",
            circle=circle,
            me=me,
            members=svc.members_in_order(circle),
            invitations=invitations,
            still_to_join=still_to_join,
            can_reissue=lambda inv: can_reissue_invitation(me, inv),
            form=form,
            confirm=ConfirmForm(),
            Role=Role,
        ),
        status,
    )


@bp.get("/c/<int:circle_id>/people")
@login_required
def people(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    return _people_page(circle, me, InviteForm())


def _card(circle, me, *, title, name, link, kind, status=200):
    """The printable card with a link and QR code. The token exists only in this
    response: it is not stored, so the card cannot be shown again later."""
    return (
        render_template(
            "invitations/card.html",
            circle=circle,
            me=me,
            title=title,
            name=name,
            link=link,
            qr=_qr(link),
            kind=kind,
        ),
        status,
    )


@bp.post("/c/<int:circle_id>/invitations")
@login_required
def create(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    form = InviteForm()
    if form.validate_on_submit():
        try:
            inv, token = svc.invite(
                circle,
                me,
                name=form.name.data,
                role=form.role.data,
                supporter_of=form.supporter_of.data,
                email=form.email.data,
            )
        except ServiceError as e:
            getattr(form, e.field or "name").errors.append(str(e.message))
        else:
            db.session.commit()
            return _card(
                circle,
                me,
                title=_("Invitation for %(name)s", name=inv.name),
                name=inv.name,
                link=_link("invitations.open_link", token),
                kind="invitation",
            )
    return _people_page(circle, me, form, 400)


@bp.post("/c/<int:circle_id>/invitations/<int:invitation_id>/reissue")
@login_required
def reissue(circle_id: int, invitation_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    inv = access_invitation(circle, invitation_id)
    require(can_reissue_invitation(me, inv))
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("invitations.people", circle_id=circle.id))
    try:
        token = svc.reissue_invitation(inv, me)
    except ServiceError as e:
        flash(str(e.message), "error")
        return redirect(url_for("invitations.people", circle_id=circle.id))
    db.session.commit()
    return _card(
        circle,
        me,
        title=_("New invitation for %(name)s", name=inv.name),
        name=inv.name,
        link=_link("invitations.open_link", token),
        kind="invitation",
    )


@bp.post("/c/<int:circle_id>/invitations/<int:invitation_id>/revoke")
@login_required
def revoke(circle_id: int, invitation_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    inv = access_invitation(circle, invitation_id)
    if ConfirmForm().validate_on_submit():
        try:
            svc.revoke_invitation(inv, me)
        except ServiceError as e:
            flash(str(e.message), "error")
        else:
            db.session.commit()
            flash(_("The invitation for %(name)s no longer works.", name=inv.name), "success")
    return redirect(url_for("invitations.people", circle_id=circle.id))


@bp.post("/c/<int:circle_id>/members/<int:member_id>/reentry")
@login_required
def reentry(circle_id: int, member_id: int):
    """A way back in for someone who lost their password and has no email."""
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    member = access_member(circle, member_id)
    if not member.is_active or not ConfirmForm().validate_on_submit():
        return redirect(url_for("invitations.people", circle_id=circle.id))
    if not can_issue_reentry(me, member):
        # Their password also opens other circles: only they may change it.
        flash(
            _(
                "%(name)s also uses Kring in another circle, so only they can change their "
                "password (with “Send me a link” on the sign-in page).",
                name=member.display_name,
            ),
            "error",
        )
        return redirect(url_for("invitations.people", circle_id=circle.id))
    token = accounts.issue_reset_token(member.user, circle_id=circle.id, issued_by_id=me.id)
    svc.record(circle, "reentry_issued", actor=me, subject=member)
    db.session.commit()
    return _card(
        circle,
        me,
        title=_("A way back in for %(name)s", name=member.display_name),
        name=member.display_name,
        link=_link("auth.open_reset_link", token),
        kind="reentry",
    )


# --- Redeeming ---------------------------------------------------------------------


@bp.get("/i/<token>")
@limiter.limit(token_limit)
def open_link(token: str):
    """Keep the token in the session and leave the token URL at once."""
    session[INVITE_SESSION_KEY] = token
    return redirect(url_for("invitations.join"))


def _invalid():
    session.pop(INVITE_SESSION_KEY, None)
    return render_template("invitations/invalid.html"), 404


def _join_limit() -> str:
    return current_app.config["JOIN_RATE_LIMIT"]


def _invitation_key() -> str:
    """Count tries per invitation (from any address), not per address."""
    token = session.get(INVITE_SESSION_KEY)
    return "join:" + (hash_token(token) if token else get_remote_address())


@bp.route("/join", methods=["GET", "POST"])
@limiter.limit(token_limit, methods=["POST"])
@limiter.limit(_join_limit, methods=["POST"], key_func=_invitation_key)
def join():
    token = session.get(INVITE_SESSION_KEY)
    inv = svc.find_invitation(token) if token else None
    if inv is None:
        return _invalid()
    # A browser that states no language we speak sees the circle's language here.
    g.circle_language = inv.circle.language
    svc.mark_opened(inv)
    db.session.commit()
    inviter = inv.invited_by.display_name if inv.invited_by else None

    if current_user.is_authenticated:
        form = AcceptForm(display_name=inv.name)
        if form.validate_on_submit():
            return _redeem(token, current_user._get_current_object(), form.display_name.data)
        return render_template("invitations/accept.html", inv=inv, inviter=inviter, form=form)

    form = JoinForm(display_name=inv.name)
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                name=form.display_name.data,
                username=form.username.data,
                password=form.password.data,
                # The language they read this page in, not the circle's: theirs to keep.
                locale=joining_locale(),
            )
        except ServiceError as e:
            db.session.rollback()
            field = "display_name" if e.field == "name" else e.field or "username"
            getattr(form, field).errors.append(str(e.message))
        else:
            # An address counts only once the link sent to it is opened, and the
            # answer is the same when it already has an account (that address gets a
            # note instead): nobody can attach, or find out about, someone's address.
            email = (form.email.data or "").strip().lower() or None
            if email:
                accounts.request_email_change(user, email, notify_old=False)
            return _redeem(token, user, form.display_name.data, new_account=True, email=email)
    return render_template("invitations/join.html", inv=inv, inviter=inviter, form=form)


def _redeem(
    token: str, user, display_name: str, new_account: bool = False, email: str | None = None
):
    try:
        membership = svc.redeem_invitation(token, user, display_name)
    except ServiceError as e:
        db.session.rollback()
        if new_account:
            return _invalid()
        flash(str(e.message), "error")
        return redirect(url_for("circles.list_circles"))
    circle_id = membership.circle_id
    db.session.commit()
    session.pop(INVITE_SESSION_KEY, None)
    if new_account:
        sign_in(user)
    flash(_("Welcome to the circle."), "success")
    if email:
        flash(
            _(
                "We sent a link to %(email)s. Open it to confirm your email address.",
                email=email,
            ),
            "info",
        )
    return redirect(url_for("circles.home", circle_id=circle_id))
