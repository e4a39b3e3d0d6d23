"""Follow-up meeting pages, the .ics files and the personal calendar feed."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.access import access_plan_item, load_circle, require
from portal.extensions import db, limiter
from portal.forms import ConfirmForm
from portal.ids import query_int
from portal.limits import token_limit
from portal.meetings.forms import (
    OPTION_SLOTS,
    CalendarForm,
    MeetingForm,
    RescheduleForm,
    ReviewForm,
)
from portal.models import Circle, Meeting, Role
from portal.services import ServiceError
from portal.services import meetings as svc
from portal.services import plan as plan_svc
from portal.services.calendar import feed_ics, meeting_ics

bp = Blueprint("meetings", __name__)


def _tz() -> str:
    return str(get_timezone())


def _to(circle, meeting=None):
    if meeting is None:
        return redirect(url_for("meetings.index", circle_id=circle.id))
    return redirect(url_for("meetings.show", circle_id=circle.id, meeting_id=meeting.id))


def _fail(e: ServiceError):
    db.session.rollback()
    flash(str(e.message), "error")


def _meeting(circle: Circle, meeting_id: int) -> Meeting:
    return access_plan_item(circle, Meeting, meeting_id)


@bp.get("/c/<int:circle_id>/meetings")
@login_required
def index(circle_id: int):
    circle, me = load_circle(circle_id)
    return render_template(
        "meetings/index.html",
        circle=circle,
        me=me,
        meetings=svc.meetings_of(circle),
        reviews=svc.reviews_of(circle),
        can_organise=svc.can_organise(me),
    )


@bp.route("/c/<int:circle_id>/meetings/new", methods=["GET", "POST"])
@login_required
def new(circle_id: int):
    circle, me = load_circle(circle_id)
    require(svc.can_organise(me))
    form = MeetingForm()
    form.invitees.choices = [
        (m.id, m.display_name)
        for m in circle.memberships
        if m.is_active and m.role != Role.COORDINATOR
    ]
    if request.method == "GET":
        form.invitees.data = [m.id for m in svc.default_invitees(circle)] + [me.id]
        evaluation = plan_svc.get_plan(circle).evaluation_date
        if evaluation:
            from datetime import datetime, time

            form.option_0.data = datetime.combine(evaluation, time(19, 0))
    if form.validate_on_submit():
        tz = _tz()
        options = [
            svc.local_to_utc(getattr(form, f"option_{i}").data, tz)
            for i in range(OPTION_SLOTS)
            if getattr(form, f"option_{i}").data
        ]
        data = svc.MeetingData(
            # str(): a field left out of the POST keeps its lazily translated default.
            title=str(form.title.data),
            purpose=str(form.purpose.data or ""),
            place=form.place.data or "",
            video_link=form.video_link.data or "",
            duration_minutes=form.duration.data,
            options=options,
            deadline=svc.local_to_utc(form.deadline.data, tz) if form.deadline.data else None,
            invitee_ids=list(form.invitees.data or []),
        )
        try:
            meeting = svc.propose_meeting(circle, me, data)
        except ServiceError as e:
            db.session.rollback()
            target = {
                "options": form.option_0,
                "video_link": form.video_link,
                "duration": form.duration,
                "deadline": form.deadline,
            }.get(e.field, form.title)
            target.errors = [*target.errors, str(e.message)]
        else:
            db.session.commit()
            flash(_("The meeting is proposed. Everyone invited can now answer."), "success")
            return _to(circle, meeting)
    return render_template(
        "meetings/new.html", circle=circle, me=me, form=form, slots=OPTION_SLOTS, tz=_tz()
    ), 200 if request.method == "GET" else 400


@bp.get("/c/<int:circle_id>/meetings/<int:meeting_id>")
@login_required
def show(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    tallies, by_person, missing = svc.tallies(meeting)
    view = agenda = None
    if meeting.status == "fixed":
        view, agenda = svc.agenda(circle, meeting, me)
    review = svc.get_review(meeting)
    voters = [m for m in circle.memberships if m.is_active]
    db.session.commit()
    return render_template(
        "meetings/show.html",
        circle=circle,
        me=me,
        meeting=meeting,
        tallies=tallies,
        mine=by_person.get(me.id, {}),
        missing=missing,
        invited=svc.is_invited(meeting, me),
        manage=svc.can_manage_meeting(meeting, me),
        view=view,
        agenda=agenda,
        review=review,
        review_form=ReviewForm(),
        reschedule_form=RescheduleForm(),
        confirm=ConfirmForm(),
        members=voters,
        may_review=svc.can_manage_meeting(meeting, me) or me.is_plan_keeper,
    )


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/answers")
@login_required
def answers(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    require(svc.is_invited(meeting, me))
    if ConfirmForm().validate_on_submit():
        given = {}
        for o in meeting.options:
            value = request.form.get(f"answer-{o.id}")
            if value:
                given[o.id] = value
        try:
            svc.set_answers(meeting, me, given)
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
            flash(_("Thank you, your answers are saved."), "success")
    return _to(circle, meeting)


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/fix")
@login_required
def fix(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    require(svc.can_manage_meeting(meeting, me))
    if ConfirmForm().validate_on_submit():
        try:
            svc.fix_date(meeting, me, request.form.get("option", type=query_int))
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
            flash(_("The date is set. Everyone invited can see it."), "success")
    return _to(circle, meeting)


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/reschedule")
@login_required
def reschedule(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    require(svc.can_manage_meeting(meeting, me))
    form = RescheduleForm()
    if form.validate_on_submit():
        try:
            svc.reschedule(meeting, me, svc.local_to_utc(form.starts_at.data, _tz()))
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
            flash(_("The meeting has a new time."), "success")
    else:
        flash(_("Please choose a new time."), "error")
    return _to(circle, meeting)


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/cancel")
@login_required
def cancel(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    require(svc.can_manage_meeting(meeting, me))
    if ConfirmForm().validate_on_submit():
        svc.cancel(meeting, me)
        db.session.commit()
        flash(_("The meeting is cancelled."), "info")
    return _to(circle, meeting)


@bp.get("/c/<int:circle_id>/meetings/<int:meeting_id>/meeting.ics")
@login_required
def ics(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    if meeting.starts_at is None:
        abort(404)
    feed = svc.current_feed(current_user)
    body = meeting_ics(meeting, circle, show_title=bool(feed and feed.show_titles))
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="kring-{meeting.id}.ics"'},
    )


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/review")
@login_required
def review(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    require(svc.can_manage_meeting(meeting, me) or me.is_plan_keeper)
    form = ReviewForm()
    form.present.choices = [(m.id, m.display_name) for m in circle.memberships if m.is_active]
    if form.validate_on_submit():
        verdicts = {}
        for c in plan_svc.commitments(circle):
            v = request.form.get(f"verdict-{c.id}")
            if v:
                verdicts[c.id] = (v, request.form.get(f"note-{c.id}", ""))
        decisions = {}
        for p in plan_svc.open_proposals(circle):
            d = request.form.get(f"decide-{p.id}")
            if d in ("accept", "reject"):
                decisions[p.id] = d == "accept"
        try:
            svc.record_review(
                circle,
                meeting,
                me,
                present_ids=list(form.present.data or []),
                verdicts=verdicts,
                decisions=decisions,
                next_evaluation=form.next_evaluation.data,
                notes=form.notes.data or "",
            )
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
            flash(_("Saved how the meeting went. Thank you."), "success")
    else:
        flash(_("Please tick who was there."), "error")
    return _to(circle, meeting)


@bp.get("/me/meetings")
@login_required
def mine():
    return render_template("meetings/mine.html", rows=svc.my_meetings(current_user.id))


@bp.route("/account/calendar", methods=["GET", "POST"])
@login_required
def calendar_settings():
    """The secret feed URL is shown once, when made; "make a new link" ends the old."""
    user = current_user._get_current_object()
    feed = svc.current_feed(user)
    form = CalendarForm(show_titles=feed.show_titles if feed else False)
    token = None
    if form.validate_on_submit():
        action = request.form.get("action")
        if action == "revoke":
            svc.revoke_feed(user)
            flash(_("The calendar link no longer works."), "info")
        elif action == "renew" or feed is None:
            token = svc.renew_feed(user, show_titles=bool(form.show_titles.data))
        else:
            feed.show_titles = bool(form.show_titles.data)
            flash(_("Saved."), "success")
        db.session.commit()
        feed = svc.current_feed(user)
    url = (
        (current_app.config["BASE_URL"] + url_for("meetings.feed", token=token)) if token else None
    )
    return render_template("meetings/calendar.html", form=form, feed=feed, url=url)


@bp.get("/calendar/<token>.ics")
@limiter.limit(token_limit)
def feed(token: str):
    """The personal feed phone calendars subscribe to: secret, revocable, 404 when not."""
    row = svc.feed_for_token(token)
    if row is None:
        abort(404)
    body = feed_ics(svc.my_meetings(row.user_id, upcoming_only=False), row.show_titles)
    return Response(body, mimetype="text/calendar")
