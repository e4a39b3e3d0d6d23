"""Invitations: the only way into a circle.

Managing them (people page, invite, re-issue, revoke, re-entry links) is for central
persons and the coordinator before handover. Redeeming is for whoever holds a link.
"""

from __future__ import annotations

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
from sqlalchemy import select

from portal.access import (
    access_invitation,
    access_member,
    can_add_offline_member,
    can_invite_to_take_place,
    can_issue_reentry,
    can_manage,
    can_name_proxies,
    can_print_sheet_for,
    can_reissue_invitation,
    can_see_still_to_join,
    load_circle,
    require,
)
from portal.auth.login import sign_in
from portal.extensions import db, limiter
from portal.forms import ConfirmForm
from portal.invitations.forms import AcceptForm, InviteForm, JoinForm
from portal.limits import token_limit
from portal.models import Invitation, Role
from portal.qr import qr_svg
from portal.services import ServiceError, accounts
from portal.services import circles as svc
from portal.services import offline as offline_svc
from portal.tokens import hash_token
from portal.views import field_error, looked, run

bp = Blueprint("invitations", __name__)

PEOPLE = ("people",)  # the news this page is about: someone joined or left

INVITE_SESSION_KEY = "invite_token"  # also listed in auth.login.KEPT_ACROSS_SIGN_IN


def _to_people(circle):
    return redirect(url_for("invitations.people", circle_id=circle.id))


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
    # Who may answer for each offline member (issue 14): the choices, and who is named.
    proxy_choices = {
        m.id: offline_svc.proxy_choices(m)
        for m in svc.members_in_order(circle)
        if m.offline and can_name_proxies(me, m)
    }
    return (
        render_template(
            "invitations/people.html",
            circle=circle,
            me=me,
            members=svc.members_in_order(circle),
            invitations=invitations,
            still_to_join=still_to_join,
            can_reissue=lambda inv: can_reissue_invitation(me, inv),
            can_print_sheet=lambda m: can_print_sheet_for(me, m),
            form=form,
            confirm=ConfirmForm(),
            Role=Role,
            can_add_offline=can_add_offline_member(me),
            proxy_choices=proxy_choices,
            can_take_place=lambda m: can_invite_to_take_place(me, m),
        ),
        status,
    )


@bp.get("/c/<int:circle_id>/people")
@login_required
def people(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    page = lambda: _people_page(circle, me, InviteForm())  # noqa: E731
    return looked(me, "people", page, circle_id=circle.id, kinds=PEOPLE)


# Where each kind of card's link leads: an invitation, or a way back in (a new password).
_CARD_LINKS = {"invitation": "invitations.open_link", "reentry": "auth.open_reset_link"}


def _card(circle, me, kind: str, token: str, *, title: str, name: str):
    """The printable card with a link and QR code. The token exists only in this
    response: it is not stored, so the card cannot be shown again later."""
    link = current_app.config["BASE_URL"] + url_for(_CARD_LINKS[kind], token=token)
    return render_template(
        "invitations/card.html",
        circle=circle,
        me=me,
        title=title,
        name=name,
        link=link,
        qr=qr_svg(link),
        kind=kind,
    )


@bp.post("/c/<int:circle_id>/invitations")
@login_required
def create(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    form = InviteForm()
    if form.validate_on_submit():
        done = run(lambda: svc.invite(circle, me, **form.invitation()), form=form, fallback="name")
        if done:
            inv, token = done.value
            title = _("Invitation for %(name)s", name=inv.name)
            return _card(circle, me, "invitation", token, title=title, name=inv.name)
    return _people_page(circle, me, form, 400)


@bp.post("/c/<int:circle_id>/invitations/<int:invitation_id>/reissue")
@login_required
def reissue(circle_id: int, invitation_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    inv = access_invitation(circle, invitation_id)
    require(can_reissue_invitation(me, inv))
    done = ConfirmForm().validate_on_submit() and run(lambda: svc.reissue_invitation(inv, me))
    if not done:
        return _to_people(circle)
    title = _("New invitation for %(name)s", name=inv.name)
    return _card(circle, me, "invitation", done.value, title=title, name=inv.name)


@bp.post("/c/<int:circle_id>/invitations/<int:invitation_id>/revoke")
@login_required
def revoke(circle_id: int, invitation_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    inv = access_invitation(circle, invitation_id)
    if ConfirmForm().validate_on_submit():
        run(
            lambda: svc.revoke_invitation(inv, me),
            success=_("The invitation for %(name)s no longer works.", name=inv.name),
        )
    return _to_people(circle)


@bp.post("/c/<int:circle_id>/members/<int:member_id>/take-place")
@login_required
def take_place(circle_id: int, member_id: int):
    """An invitation for someone without internet who now comes in themselves: whoever
    accepts it gets their place in the circle, with everything done so far."""
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    member = access_member(circle, member_id)
    require(can_invite_to_take_place(me, member))
    done = ConfirmForm().validate_on_submit() and run(
        lambda: offline_svc.invite_to_take_place(circle, me, member)
    )
    if not done:
        return _to_people(circle)
    inv, token = done.value
    title = _("Invitation for %(name)s", name=inv.name)
    return _card(circle, me, "invitation", token, title=title, name=inv.name)


def _only_they_can(circle, member):
    """Their password also opens other circles: only they may change it."""
    flash(
        _(
            "%(name)s also uses Kring in another circle, so only they can change their "
            "password (with “Send me a link” on the sign-in page).",
            name=member.display_name,
        ),
        "error",
    )
    return _to_people(circle)


@bp.post("/c/<int:circle_id>/members/<int:member_id>/reentry")
@login_required
def reentry(circle_id: int, member_id: int):
    """A way back in for someone who lost their password and has no email."""
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    member = access_member(circle, member_id)
    if not member.is_active or not ConfirmForm().validate_on_submit():
        return _to_people(circle)
    if not can_issue_reentry(me, member):
        return _only_they_can(circle, member)
    token = accounts.issue_reset_token(member.user, circle_id=circle.id, issued_by_id=me.id)
    svc.record(circle, "reentry_issued", actor=me, subject=member)
    db.session.commit()
    title = _("A way back in for %(name)s", name=member.display_name)
    return _card(circle, me, "reentry", token, title=title, name=member.display_name)


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
        return _accept(token, inv, inviter)
    return _sign_up(token, inv, inviter)


def _accept(token: str, inv, inviter: str | None):
    """Someone with an account comes in: they only choose the name the circle sees."""
    form = AcceptForm(display_name=inv.name)
    if not form.validate_on_submit():
        return render_template("invitations/accept.html", inv=inv, inviter=inviter, form=form)
    user = current_user._get_current_object()
    done = run(lambda: svc.redeem_invitation(token, user, form.display_name.data))
    if not done:
        return redirect(url_for("circles.list_circles"))
    return _welcome(done.value)


def _sign_up(token: str, inv, inviter: str | None):
    """Someone new makes an account and comes in, in one transaction: if the link
    fails, no account is left behind."""
    form = JoinForm(display_name=inv.name)
    if not form.validate_on_submit():
        return render_template("invitations/join.html", inv=inv, inviter=inviter, form=form)
    try:  # not run(): nothing is committed before the link is spent
        user = accounts.create_user(**form.account())
    except ServiceError as e:
        db.session.rollback()
        if e.field == "name":  # the account's name is the one they typed for the circle
            e.field = "display_name"
        field_error(form, e, "username")
        return render_template("invitations/join.html", inv=inv, inviter=inviter, form=form)
    # An address counts only once the link sent to it is opened, and the answer is the
    # same when it already has an account (that address gets a note instead): nobody
    # can attach, or find out about, someone's address.
    email = form.email_address()
    if email:
        accounts.request_email_change(user, email, notify_old=False)
    # A link that fails now says only that it no longer works (the form is not shown).
    done = run(
        lambda: svc.redeem_invitation(token, user, form.display_name.data, new_account=True),
        form=form,
    )
    if not done:
        return _invalid()
    return _welcome(done.value, new_user=user, email=email)


def _welcome(membership, *, new_user=None, email: str | None = None):
    session.pop(INVITE_SESSION_KEY, None)
    if new_user is not None:
        sign_in(new_user)
    flash(_("Welcome to the circle."), "success")
    if email:
        flash(
            _(
                "We sent a link to %(email)s. Open it to confirm your email address.",
                email=email,
            ),
            "info",
        )
    return redirect(url_for("circles.home", circle_id=membership.circle_id))
