"""Follow-up meeting pages, the .ics files and the personal calendar feed."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.access import (
    access_member,
    access_plan_item,
    acting_for_choices,
    can_act_for,
    can_manage_meeting,
    can_organise_meetings,
    can_review_meeting,
    load_circle,
    require,
)
from portal.extensions import db, limiter
from portal.forms import ConfirmForm
from portal.ids import as_id, query_int
from portal.limits import token_limit
from portal.meetings.forms import (
    OPTION_SLOTS,
    CalendarForm,
    MeetingForm,
    RescheduleForm,
    ReviewForm,
    poll_answers,
)
from portal.models import Circle, Meeting
from portal.qr import qr_svg, webcal
from portal.services import calendar, notifications, who_can
from portal.services import meetings as svc
from portal.services import plan as plan_svc
from portal.services.acted import poll_answer_given_for
from portal.services.calendar import feed_ics, meeting_ics
from portal.views import act, looked, run

bp = Blueprint("meetings", __name__)

MEETING_NEWS = ("poll", "meeting")  # opening the meeting's page marks them read


def _tz() -> str:
    return str(get_timezone())


def _url(circle, meeting) -> str:
    return url_for("meetings.show", circle_id=circle.id, meeting_id=meeting.id)


def _to(circle, meeting):
    return redirect(_url(circle, meeting))


def _meeting(circle: Circle, meeting_id: int) -> Meeting:
    return access_plan_item(circle, Meeting, meeting_id)


def _managed(circle: Circle, me, meeting_id: int) -> Meeting:
    """A meeting of this circle that ``me`` may fix, move or cancel (else 404 or 403)."""
    meeting = _meeting(circle, meeting_id)
    require(can_manage_meeting(me, meeting))
    return meeting


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
        can_organise=can_organise_meetings(me),
        ask_organise=who_can.Names()
        if can_organise_meetings(me)
        else who_can.meeting_organisers(circle, me),
    )


@bp.route("/c/<int:circle_id>/meetings/new", methods=["GET", "POST"])
@login_required
def new(circle_id: int):
    circle, me = load_circle(circle_id)
    require(can_organise_meetings(me))
    form = MeetingForm().invite_from(circle.memberships)
    if request.method == "GET":
        form.start_with(
            [*svc.default_invitees(circle), me], plan_svc.get_plan(circle).evaluation_date
        )
    elif form.validate_on_submit():
        done = run(
            lambda: svc.propose_meeting(circle, me, form.meeting_data(_tz())),
            form=form,
            fallback="title",
            success=_("The meeting is proposed. Everyone invited can now answer."),
        )
        if done:
            return _to(circle, done.value)
    return render_template(
        "meetings/new.html", circle=circle, me=me, form=form, slots=OPTION_SLOTS, tz=_tz()
    ), 200 if request.method == "GET" else 400


def _show_page(circle, me, meeting):
    # This meeting's news is read (before the header's badge is counted). Committed
    # first: a commit expires what was loaded, and the agenda's commitments would then
    # be loaded again one by one while the page renders.
    notifications.mark_seen(me.user_id, circle_id=circle.id, kinds=MEETING_NEWS, ref_id=meeting.id)
    db.session.commit()
    tallies, by_person, missing = svc.tallies(meeting)
    view, agenda = svc.agenda(circle, meeting, me) if meeting.status == "fixed" else (None, None)
    review = svc.get_review(meeting)
    return render_template(
        "meetings/show.html",
        circle=circle,
        me=me,
        meeting=meeting,
        tallies=tallies,
        mine=by_person.get(me.id, {}),
        missing=missing,
        invited=svc.is_invited(meeting, me),
        manage=can_manage_meeting(me, meeting),
        ask_manage=who_can.Names()
        if can_manage_meeting(me, meeting)
        else who_can.ask(circle, me, lambda m: can_manage_meeting(m, meeting)),
        view=view,
        agenda=agenda,
        review=review,
        review_form=ReviewForm(),
        reschedule_form=RescheduleForm(),
        confirm=ConfirmForm(),
        members=[m for m in circle.memberships if m.is_active],
        may_review=can_review_meeting(me, meeting),
        # Issue 14: the invited members ``me`` may answer for, with their answers.
        act_for=[
            (m, by_person.get(m.id, {}))
            for m in acting_for_choices(me)
            if svc.is_invited(meeting, m)
        ],
        given_for_me=poll_answer_given_for(meeting, me),
    )


@bp.get("/c/<int:circle_id>/meetings/<int:meeting_id>")
@login_required
def show(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    return looked(me, "meeting", lambda: _show_page(circle, me, meeting))


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/answers")
@login_required
def answers(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    member = None
    if request.form.get("for_member"):  # "for whom" (issue 14)
        member = access_member(circle, as_id(request.form["for_member"]) or 0)
        require(can_act_for(me, member))
    require(svc.is_invited(meeting, member or me))
    if ConfirmForm().validate_on_submit():
        run(
            lambda: svc.set_answers(meeting, me, poll_answers(meeting.options), for_member=member),
            success=_("Thank you, your answers are saved."),
        )
    return _to(circle, meeting)


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/fix")
@login_required
def fix(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _managed(circle, me, meeting_id)
    if ConfirmForm().validate_on_submit():
        option = request.form.get("option", type=query_int)
        run(
            lambda: svc.fix_date(meeting, me, option),
            success=_("The date is set. Everyone invited can see it."),
        )
    return _to(circle, meeting)


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/reschedule")
@login_required
def reschedule(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _managed(circle, me, meeting_id)
    form = RescheduleForm()
    if not form.validate_on_submit():
        flash(_("Please choose a new time."), "error")
        return _to(circle, meeting)
    starts_at = svc.local_to_utc(form.starts_at.data, _tz())
    return act(
        lambda: svc.reschedule(meeting, me, starts_at),
        to=_url(circle, meeting),
        success=_("The meeting has a new time."),
    )


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/cancel")
@login_required
def cancel(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _managed(circle, me, meeting_id)
    if ConfirmForm().validate_on_submit() and run(lambda: svc.cancel(meeting, me)):
        flash(_("The meeting is cancelled."), "info")
    return _to(circle, meeting)


def _ics_file(circle_id: int, meeting_id: int, *, details: bool) -> Response:
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    if meeting.starts_at is None:
        abort(404)
    name = f"kring-{meeting.id}-details.ics" if details else f"kring-{meeting.id}.ics"

    def file() -> Response:
        return Response(
            meeting_ics(meeting, circle, details=details),
            mimetype="text/calendar",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    # The details are the meeting page's content: a professional's download of them is
    # a look at the meeting, in the access log; the neutral file holds nothing to log.
    return looked(me, "meeting", file) if details else file()


@bp.get("/c/<int:circle_id>/meetings/<int:meeting_id>/meeting.ics")
@login_required
def ics(circle_id: int, meeting_id: int):
    """Without details: only "Kring meeting" and a link, safe in a shared calendar."""
    return _ics_file(circle_id, meeting_id, details=False)


@bp.get("/c/<int:circle_id>/meetings/<int:meeting_id>/meeting-details.ics")
@login_required
def ics_details(circle_id: int, meeting_id: int):
    """With the details: the meeting's title, place and purpose, for one's own calendar."""
    return _ics_file(circle_id, meeting_id, details=True)


@bp.post("/c/<int:circle_id>/meetings/<int:meeting_id>/review")
@login_required
def review(circle_id: int, meeting_id: int):
    circle, me = load_circle(circle_id)
    meeting = _meeting(circle, meeting_id)
    require(can_review_meeting(me, meeting))
    form = ReviewForm().who_was_there(circle.memberships)
    if not form.validate_on_submit():
        flash(_("Please tick who was there."), "error")
        return _to(circle, meeting)
    given = form.review(plan_svc.commitments(circle), plan_svc.open_proposals(circle))
    return act(
        lambda: svc.record_review(circle, meeting, me, **given),
        to=_url(circle, meeting),
        success=_("Saved how the meeting went. Thank you."),
    )


@bp.get("/me/meetings")
@login_required
def mine():
    return render_template("meetings/mine.html", rows=svc.my_meetings(current_user.id))


def _change_feed(user, form: CalendarForm) -> str | None:
    """Stop the feed, make a new link, or keep it with the new setting, as the button
    pressed says; the token of a new link, shown once."""
    feed = calendar.current_feed(user)
    token = None
    action = request.form.get("action")
    if action == "revoke":
        calendar.revoke_feed(user)
        flash(_("The calendar link no longer works."), "info")
    elif action == "renew" or feed is None:
        token = calendar.renew_feed(user, show_titles=bool(form.show_titles.data))
    else:
        feed.show_titles = bool(form.show_titles.data)
        flash(_("Saved."), "success")
    db.session.commit()
    return token


@bp.route("/account/calendar", methods=["GET", "POST"])
@login_required
def calendar_settings():
    """The secret feed URL is shown once, when made; "make a new link" ends the old."""
    user = current_user._get_current_object()
    feed = calendar.current_feed(user)
    form = CalendarForm(show_titles=feed.show_titles if feed else False)
    token = _change_feed(user, form) if form.validate_on_submit() else None
    url = current_app.config["BASE_URL"] + url_for("meetings.feed", token=token) if token else None
    feed = calendar.current_feed(user)
    resp = make_response(
        render_template(
            "meetings/calendar.html",
            form=form,
            feed=feed,
            url=url,
            subscribe=webcal(url) if url else None,
            qr=qr_svg(url) if url else None,
        )
    )
    # The link is a secret: no shared cache or back/forward cache may keep this page
    # (every page is no-store already; said here too, as this one must never lose it).
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/calendar/<token>.ics")
@limiter.limit(token_limit)
def feed(token: str):
    """The personal feed phone calendars subscribe to: secret, revocable, 404 when not."""
    row = calendar.feed_for_token(token)
    if row is None:
        abort(404)
    body = feed_ics(svc.my_meetings(row.user_id, upcoming_only=False), row.show_titles)
    return Response(body, mimetype="text/calendar")
