"""A circle's pages: the list of my circles, the home page, settings, members,
professional access, leaving, and the coordinator's handover."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import (
    access_member,
    access_sheet_of,
    can_close_circle,
    can_decide_professional_access,
    can_edit_circle,
    can_export_circle,
    can_hand_over,
    can_leave,
    can_manage,
    load_circle,
    require,
    takes_over_circle,
    watches_plan,
)
from portal.circles.forms import (
    CircleForm,
    FlagsForm,
    PresenceForm,
    ProfessionalsForm,
    SupportsForm,
)
from portal.extensions import db
from portal.forms import ConfirmForm
from portal.ids import query_page
from portal.models import Circle, CircleEvent, Membership, MembershipStatus
from portal.services import chat as chat_svc
from portal.services import circles as svc
from portal.services import lines as lines_svc
from portal.services import meetings as meeting_svc
from portal.services import membership as membership_svc
from portal.services import who_can
from portal.services.closing import keep_deadline
from portal.services.needs import needs_of
from portal.services.plan_view import plan_summary
from portal.services.sheet import member_sheet
from portal.views import open_when_closed, run, shown

bp = Blueprint("circles", __name__)

_HANDED_OVER = _l(
    "You have handed over the circle. Thank you. The invitation links you "
    "still had no longer work; the family will send new ones."
)


@bp.get("/circles")
@login_required
def list_circles():
    rows = db.session.execute(
        select(Circle, Membership)
        .join(Membership, Membership.circle_id == Circle.id)
        .where(Membership.user_id == current_user.id, Membership.status == MembershipStatus.ACTIVE)
        .order_by(Circle.title)
    ).all()
    ended = _ended_memberships(current_user.id)
    if len(rows) == 1 and not ended and not current_user.can_create_circles:
        return redirect(url_for("circles.home", circle_id=rows[0][0].id))
    unread = chat_svc.unread_counts(current_user.id)
    needs = needs_of(current_user.id, unread=unread) if rows else []
    return render_template("circles/list.html", rows=rows, unread=unread, ended=ended, needs=needs)


@dataclass(frozen=True)
class EndedMembership:
    """A circle someone is no longer in, as they may still see it: the title they knew
    (None if the circle's settings changed since, so a new title does not leak) and
    the day it ended. Nothing else of the circle; every circle URL stays a 404."""

    title: str | None
    ended_at: datetime | None
    handed_over: bool


def _ended_memberships(user_id: int) -> list[EndedMembership]:
    changed_since = (
        select(CircleEvent.id)
        .where(
            CircleEvent.circle_id == Membership.circle_id,
            CircleEvent.kind == "settings_changed",
            CircleEvent.created_at > Membership.ended_at,
        )
        .exists()
    )
    rows = db.session.execute(
        select(Circle.title, Membership.ended_at, Membership.status, changed_since)
        .join(Membership, Membership.circle_id == Circle.id)
        .where(
            Membership.user_id == user_id,
            Membership.status.in_(
                (MembershipStatus.LEFT, MembershipStatus.REMOVED, MembershipStatus.HANDED_OVER)
            ),
        )
        .order_by(Membership.ended_at.desc())
    ).all()
    return [
        EndedMembership(
            title=None if changed else title,
            ended_at=ended_at,
            handed_over=status == MembershipStatus.HANDED_OVER,
        )
        for title, ended_at, status, changed in rows
    ]


@bp.route("/circles/new", methods=["GET", "POST"])
@login_required
def new_circle():
    if not current_user.can_create_circles:
        abort(404)
    form = CircleForm()
    if form.validate_on_submit():
        coordinator = current_user._get_current_object()
        done = run(
            lambda: svc.create_circle(**form.settings(), coordinator=coordinator),
            form=form,
            fallback="title",
            success=_("The circle is ready. Now invite the people in it."),
        )
        if done:
            circle, _m, _t = done.value
            return _to_people(circle)
    return render_template("circles/new.html", form=form)


def _history_query(circle: Circle):
    return (
        select(CircleEvent)
        .where(CircleEvent.circle_id == circle.id)
        .options(selectinload(CircleEvent.actor), selectinload(CircleEvent.subject))
        .order_by(CircleEvent.id.desc())
    )


@bp.get("/c/<int:circle_id>")
@login_required
def home(circle_id: int):
    circle, me = load_circle(circle_id)
    return shown(lambda: _home_page(circle, me), circle_id=circle.id, kinds=["people"])


def _home_page(circle, me):
    return render_template(
        "circles/home.html",
        circle=circle,
        me=me,
        members=svc.members_in_order(circle),
        history=db.session.scalars(_history_query(circle).limit(8)).all(),
        can_manage=can_manage(me),
        plan=plan_summary(circle, me),
        sees_help=watches_plan(me),
        meetings=[m for m, c in meeting_svc.my_meetings(current_user.id) if c.id == circle.id],
        keep_form=ConfirmForm(),
        keep_deadline=keep_deadline(circle),
        needs=needs_of(current_user.id, circle.id),
        ask_invite=who_can.Names() if can_manage(me) else who_can.inviters(circle, me),
    )


@bp.get("/c/<int:circle_id>/history")
@login_required
def history(circle_id: int):
    circle, me = load_circle(circle_id)
    page = db.paginate(
        _history_query(circle),
        page=request.args.get("page", 1, type=query_page),
        per_page=current_app.config["ITEMS_PER_PAGE"],
        error_out=False,
    )
    return render_template("circles/history.html", circle=circle, me=me, page=page)


@bp.route("/c/<int:circle_id>/settings", methods=["GET", "POST"])
@login_required
def settings(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_edit_circle(me))
    form = CircleForm(obj=circle)
    if form.validate_on_submit() and run(
        lambda: svc.update_circle(circle, me, **form.settings()),
        form=form,
        fallback="title",
        success=_("Saved."),
    ):
        return redirect(url_for("circles.home", circle_id=circle.id))
    return render_template(
        "circles/settings.html",
        circle=circle,
        me=me,
        form=form,
        pro_form=ProfessionalsForm(read_chat=circle.professionals_read_chat),
        presence_form=PresenceForm(enabled=circle.presence_enabled),
        can_decide=can_decide_professional_access(me),
        can_close=can_close_circle(me),
        can_export=can_export_circle(me),
    )


def _to_settings(circle):
    return redirect(url_for("circles.settings", circle_id=circle.id))


@bp.post("/c/<int:circle_id>/professionals")
@login_required
def professionals(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_decide_professional_access(me))
    form = ProfessionalsForm()
    if form.validate_on_submit():
        on = bool(form.read_chat.data)
        run(lambda: svc.set_professionals_read_chat(circle, me, on), success=_("Saved."))
    return _to_settings(circle)


@bp.post("/c/<int:circle_id>/presence")
@login_required
def presence(circle_id: int):
    """Central persons decide whether the chat shows who is there right now."""
    circle, me = load_circle(circle_id)
    require(can_decide_professional_access(me))
    form = PresenceForm()
    if form.validate_on_submit():
        on = bool(form.enabled.data)
        run(lambda: chat_svc.set_presence_enabled(circle, me, on), success=_("Saved."))
    return _to_settings(circle)


def _to_people(circle):
    return redirect(url_for("invitations.people", circle_id=circle.id))


@bp.post("/c/<int:circle_id>/members/<int:member_id>/remove")
@login_required
def remove_member(circle_id: int, member_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    member = access_member(circle, member_id)
    if ConfirmForm().validate_on_submit():
        run(
            lambda: membership_svc.remove_member(circle, me, member),
            success=_("%(name)s is no longer in the circle.", name=member.display_name),
        )
    return _to_people(circle)


@bp.post("/c/<int:circle_id>/members/<int:member_id>/flags")
@login_required
def member_flags(circle_id: int, member_id: int):
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    member = access_member(circle, member_id)
    form = FlagsForm()
    if form.validate_on_submit():
        flags = {"plan_keeper": form.plan_keeper.data, "followup": form.followup.data}
        run(lambda: svc.set_flags(circle, me, member, **flags), success=_("Saved."))
    return _to_people(circle)


@bp.post("/c/<int:circle_id>/members/<int:member_id>/supports")
@login_required
def member_supports(circle_id: int, member_id: int):
    """Whom a supporter supports (issue 14). The private line follows the new pair; the
    people who set it never read it."""
    circle, me = load_circle(circle_id)
    require(can_manage(me))
    member = access_member(circle, member_id)
    form = SupportsForm()
    if form.validate_on_submit():
        chosen = form.supports.data
        run(lambda: lines_svc.set_supports(circle, me, member, chosen), success=_("Saved."))
    return _to_people(circle)


@bp.get("/c/<int:circle_id>/people/<int:member_id>/sheet")
@login_required
def sheet(circle_id: int, member_id: int):
    """A page to print for a member without internet: their commitments, the next meeting."""
    circle, me = load_circle(circle_id)
    member = access_sheet_of(circle, me, member_id)
    return render_template(
        "circles/sheet.html", circle=circle, me=me, s=member_sheet(circle, member)
    )


@bp.route("/c/<int:circle_id>/leave", methods=["GET", "POST"])
@open_when_closed
@login_required
def leave(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_leave(me))
    form = ConfirmForm()
    if form.validate_on_submit() and run(lambda: membership_svc.leave_circle(circle, me)):
        flash(_("You have left the circle."), "info")
        return redirect(url_for("circles.list_circles"))
    return render_template("circles/leave.html", circle=circle, me=me, form=form)


@bp.route("/c/<int:circle_id>/handover", methods=["GET", "POST"])
@login_required
def handover(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_hand_over(me))
    form = ConfirmForm()
    if form.validate_on_submit() and run(
        lambda: svc.hand_over(circle, me), success=str(_HANDED_OVER)
    ):
        return redirect(url_for("circles.list_circles"))
    centrals = [m for m in svc.members_in_order(circle) if takes_over_circle(m)]
    return render_template(
        "circles/handover.html", circle=circle, me=me, form=form, centrals=centrals
    )
