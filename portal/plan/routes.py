"""The plan pages. Views parse forms and call portal.services.plan; nothing else."""

from __future__ import annotations

import json
from datetime import date

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
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.access import (
    access_plan_item,
    can_enter_plan,
    can_remove_condition,
    can_tick,
    load_circle,
    require,
)
from portal.extensions import db
from portal.forms import ConfirmForm
from portal.ids import query_int, query_page
from portal.models import (
    Agreement,
    Circle,
    Commitment,
    Completion,
    Condition,
    Membership,
    Proposal,
    Role,
)
from portal.plan.forms import (
    AcceptForm,
    AgreeForm,
    AgreementForm,
    AnswerForm,
    CommitmentForm,
    ConditionForm,
    EvaluationForm,
    TickForm,
)
from portal.services import ServiceError
from portal.services import plan as svc
from portal.services.plan_export import export_plan
from portal.services.plan_view import my_commitments, plan_view
from portal.services.schedule import FIELD_KINDS, Schedule

bp = Blueprint("plan", __name__)


def _to_plan(circle: Circle, anchor: str = ""):
    return redirect(url_for("plan.show", circle_id=circle.id) + (f"#{anchor}" if anchor else ""))


def _back(circle: Circle, c: Commitment):
    """After a tick, an undo or a help flag: back to "My commitments" when the form came
    from there (a fixed name, never a URL), else to the commitment in the plan."""
    if request.form.get("back") == "mine":
        return redirect(url_for("plan.mine") + f"#c{c.id}")
    return _to_plan(circle, f"c{c.id}")


def _fail(e: ServiceError):
    db.session.rollback()
    flash(str(e.message), "error")


# --- Reading ---------------------------------------------------------------------------


@bp.get("/c/<int:circle_id>/plan")
@login_required
def show(circle_id: int):
    circle, me = load_circle(circle_id)
    view = plan_view(circle, me)
    html = render_template(
        "plan/plan.html",
        circle=circle,
        me=me,
        v=view,
        confirm=ConfirmForm(),
        answer_form=AnswerForm(),
        tick_form=TickForm(),
        condition_form=ConditionForm(),
        accept_form=AcceptForm(),
        can_enter=can_enter_plan(me),
    )
    return html


@bp.get("/c/<int:circle_id>/plan/print")
@login_required
def print_view(circle_id: int):
    circle, me = load_circle(circle_id)
    view = plan_view(circle, me)
    current = svc.get_version(circle, view.version) if view.version else None
    html = render_template("plan/print.html", circle=circle, me=me, v=view, current=current)
    return html


@bp.get("/c/<int:circle_id>/plan/export.json")
@login_required
def export(circle_id: int):
    circle, me = load_circle(circle_id)
    data = export_plan(circle)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    name = f"kring-plan-{circle.id}-{date.today().isoformat()}.json"
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.get("/c/<int:circle_id>/plan/versions")
@login_required
def versions(circle_id: int):
    circle, me = load_circle(circle_id)
    return render_template(
        "plan/versions.html",
        circle=circle,
        me=me,
        versions=svc.versions(circle),
        acceptances=svc.acceptances(circle),
    )


@bp.get("/c/<int:circle_id>/plan/versions/<int:number>")
@login_required
def version(circle_id: int, number: int):
    circle, me = load_circle(circle_id)
    try:
        v = svc.get_version(circle, number)
    except LookupError:
        abort(404)
    return render_template("plan/version.html", circle=circle, me=me, version=v)


@bp.get("/c/<int:circle_id>/plan/diff")
@login_required
def diff(circle_id: int):
    circle, me = load_circle(circle_id)
    a = request.args.get("a", type=query_int)
    b = request.args.get("b", type=query_int)
    try:
        va, vb = svc.get_version(circle, a), svc.get_version(circle, b)
    except LookupError:
        abort(404)
    return render_template(
        "plan/diff.html", circle=circle, me=me, a=va, b=vb, rows=svc.diff(va.snapshot, vb.snapshot)
    )


@bp.get("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/history")
@login_required
def history(circle_id: int, commitment_id: int):
    circle, me = load_circle(circle_id)
    c = access_plan_item(circle, Commitment, commitment_id)
    return render_template(
        "plan/history.html",
        circle=circle,
        me=me,
        c=c,
        page=db.paginate(
            svc.completion_history(c),
            page=request.args.get("page", 1, type=query_page),
            per_page=current_app.config["ITEMS_PER_PAGE"],
            error_out=False,
        ),
    )


@bp.get("/me/commitments")
@login_required
def mine():
    """Everything I took on, in all my circles: where each stands, and ticking it off."""
    return render_template(
        "plan/mine.html",
        groups=my_commitments(current_user.id),
        tick_form=TickForm(),
        confirm=ConfirmForm(),
    )


# --- Entering (draft) or proposing (agreed plan) -----------------------------------------


def _member_choices(circle: Circle):
    members = [m for m in circle.memberships if m.is_active and m.role not in (Role.COORDINATOR,)]
    return [(m.id, m.display_name) for m in sorted(members, key=lambda m: m.display_name)]


def _commitment_form(circle: Circle, obj: Commitment | None = None) -> CommitmentForm:
    form = CommitmentForm()
    choices = _member_choices(circle)
    form.assignees.choices = choices
    form.checker.choices = [(0, _("Nobody in Kring"))] + choices
    if request.method == "GET" and obj is not None:
        form.what.data = obj.what
        form.assignees.data = [m.id for m in obj.assignees]
        form.other_assignees.data = obj.other_assignees
        form.kind.data = obj.schedule_kind
        form.start.data = obj.start
        form.end.data = obj.end
        form.weekdays.data = [d for d in obj.weekdays.split(",") if d]
        form.interval.data = obj.interval
        form.checker.data = obj.checker_id or 0
        form.checker_name.data = obj.checker_name
        form.items.data = "\n".join(i.text for i in obj.items)
    return form


def _data_from(form: CommitmentForm) -> svc.CommitmentData:
    return svc.CommitmentData(
        what=form.what.data or "",
        assignee_ids=list(form.assignees.data or []),
        other_assignees=form.other_assignees.data or "",
        checker_id=form.checker.data or None,
        checker_name=form.checker_name.data or "",
        items=(form.items.data or "").splitlines(),
        schedule=_schedule_from(form),
    )


def _schedule_from(form: CommitmentForm) -> Schedule:
    """The form hides the fields another kind uses (static/js/commitment-form.js);
    without JavaScript they show, and whatever they hold is ignored here."""
    kind = form.kind.data

    def given(name: str):
        return getattr(form, name).data if kind in FIELD_KINDS[name] else None

    return Schedule(
        kind=kind,
        start=form.start.data,
        end=given("end"),
        weekdays=frozenset(int(d) for d in (given("weekdays") or []) if d.isdigit()),
        interval=given("interval") or 1,
    )


def _may_change(me: Membership, agreed: bool) -> bool:
    """Draft: the coordinator or a central person. Agreed: any voting member proposes."""
    return me.votes if agreed else can_enter_plan(me)


@bp.route("/c/<int:circle_id>/plan/commitments/new", methods=["GET", "POST"])
@login_required
def new_commitment(circle_id: int):
    circle, me = load_circle(circle_id)
    agreed = svc.get_plan(circle).version > 0
    require(_may_change(me, agreed))
    form = _commitment_form(circle)
    if form.validate_on_submit():
        data = _data_from(form)
        try:
            svc.change(
                circle,
                me,
                "add_commitment",
                payload=data.to_payload(),
                reason=form.reason.data or "",
            )
        except ServiceError as e:
            db.session.rollback()
            _field_error(form, e)
        else:
            db.session.commit()
            flash(_("Your proposal is sent to the circle.") if agreed else _("Added."), "success")
            return _to_plan(circle)
    return _render_commitment_form(circle, me, form, agreed, None)


def _render_commitment_form(circle, me, form, agreed: bool, commitment: Commitment | None):
    """The form again: empty on GET, or with what was typed and the errors (400)."""
    html = render_template(
        "plan/commitment_form.html",
        circle=circle,
        me=me,
        form=form,
        agreed=agreed,
        commitment=commitment,
        schedule_fields=FIELD_KINDS,
    )
    return html, 200 if request.method == "GET" else 400


def _field_error(form, e: ServiceError) -> None:
    field = getattr(form, e.field, None) if e.field else None
    if field is None:
        field = getattr(form, "what", None) or getattr(form, "text", None)
    field.errors = [*field.errors, str(e.message)]


@bp.route("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/edit", methods=["GET", "POST"])
@login_required
def edit_commitment(circle_id: int, commitment_id: int):
    circle, me = load_circle(circle_id)
    c = access_plan_item(circle, Commitment, commitment_id)
    agreed = svc.get_plan(circle).version > 0
    require(_may_change(me, agreed))
    form = _commitment_form(circle, c)
    if form.validate_on_submit():
        data = _data_from(form)
        try:
            svc.change(
                circle,
                me,
                "change_commitment",
                target_id=c.id,
                payload=data.to_payload(),
                reason=form.reason.data or "",
            )
        except ServiceError as e:
            db.session.rollback()
            _field_error(form, e)
        else:
            db.session.commit()
            flash(_("Your proposal is sent to the circle.") if agreed else _("Saved."), "success")
            return _to_plan(circle, f"c{c.id}")
    return _render_commitment_form(circle, me, form, agreed, c)


@bp.post("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/remove")
@login_required
def remove_commitment(circle_id: int, commitment_id: int):
    circle, me = load_circle(circle_id)
    c = access_plan_item(circle, Commitment, commitment_id)
    agreed = svc.get_plan(circle).version > 0
    require(_may_change(me, agreed))
    if ConfirmForm().validate_on_submit():
        try:
            svc.change(circle, me, "remove_commitment", target_id=c.id)
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
            flash(_("Your proposal is sent to the circle.") if agreed else _("Removed."), "success")
    return _to_plan(circle)


@bp.post("/c/<int:circle_id>/plan/agreements")
@login_required
def add_agreement(circle_id: int):
    circle, me = load_circle(circle_id)
    agreed = svc.get_plan(circle).version > 0
    require(_may_change(me, agreed))
    form = AgreementForm()
    if form.validate_on_submit():
        try:
            svc.change(
                circle,
                me,
                "add_agreement",
                payload={"text": form.text.data},
                reason=form.reason.data or "",
            )
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
            flash(_("Your proposal is sent to the circle.") if agreed else _("Added."), "success")
    else:
        flash(_("Please write the backup plan."), "error")
    return _to_plan(circle, "agreements")


@bp.route("/c/<int:circle_id>/plan/agreements/<int:agreement_id>/edit", methods=["GET", "POST"])
@login_required
def edit_agreement(circle_id: int, agreement_id: int):
    circle, me = load_circle(circle_id)
    a = access_plan_item(circle, Agreement, agreement_id)
    agreed = svc.get_plan(circle).version > 0
    require(_may_change(me, agreed))
    form = AgreementForm(text=a.text) if request.method == "GET" else AgreementForm()
    if form.validate_on_submit():
        try:
            svc.change(
                circle,
                me,
                "change_agreement",
                target_id=a.id,
                payload={"text": form.text.data},
                reason=form.reason.data or "",
            )
        except ServiceError as e:
            db.session.rollback()
            _field_error(form, e)
        else:
            db.session.commit()
            flash(_("Your proposal is sent to the circle.") if agreed else _("Saved."), "success")
            return _to_plan(circle, "agreements")
    return render_template(
        "plan/agreement_form.html", circle=circle, me=me, form=form, agreed=agreed
    ), 200 if request.method == "GET" else 400


@bp.post("/c/<int:circle_id>/plan/agreements/<int:agreement_id>/remove")
@login_required
def remove_agreement(circle_id: int, agreement_id: int):
    circle, me = load_circle(circle_id)
    a = access_plan_item(circle, Agreement, agreement_id)
    agreed = svc.get_plan(circle).version > 0
    require(_may_change(me, agreed))
    if ConfirmForm().validate_on_submit():
        try:
            svc.change(circle, me, "remove_agreement", target_id=a.id)
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
    return _to_plan(circle, "agreements")


@bp.post("/c/<int:circle_id>/plan/evaluation")
@login_required
def evaluation(circle_id: int):
    circle, me = load_circle(circle_id)
    agreed = svc.get_plan(circle).version > 0
    require(_may_change(me, agreed))
    form = EvaluationForm()
    if form.validate_on_submit():
        try:
            svc.change(
                circle,
                me,
                "set_evaluation_date",
                payload={"date": form.date.data.isoformat()},
                reason=form.reason.data or "",
            )
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
            flash(_("Your proposal is sent to the circle.") if agreed else _("Saved."), "success")
    else:
        flash(_("Please choose a date."), "error")
    return _to_plan(circle, "evaluation")


@bp.route("/c/<int:circle_id>/plan/agree", methods=["GET", "POST"])
@login_required
def agree(circle_id: int):
    """Record who was present and agreed: the draft becomes version 1."""
    circle, me = load_circle(circle_id)
    require(can_enter_plan(me))
    form = AgreeForm()
    voters = [m for m in circle.memberships if m.is_active and m.votes]
    form.present.choices = [(m.id, m.display_name) for m in voters]
    if form.validate_on_submit():
        try:
            svc.record_agreement(circle, me, list(form.present.data or []))
        except ServiceError as e:
            db.session.rollback()
            form.present.errors = [str(e.message)]
        else:
            db.session.commit()
            flash(_("The plan is agreed. This is version 1."), "success")
            return _to_plan(circle)
    return render_template("plan/agree.html", circle=circle, me=me, form=form)


# --- Living with the plan --------------------------------------------------------------


@bp.post("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/tick")
@login_required
def tick(circle_id: int, commitment_id: int):
    circle, me = load_circle(circle_id)
    c = access_plan_item(circle, Commitment, commitment_id)
    require(can_tick(me, c))
    form = TickForm()
    if form.validate_on_submit():
        try:
            svc.tick(circle, me, c, form.occurrence.data, form.note.data or "")
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
    return _back(circle, c)


@bp.post("/c/<int:circle_id>/plan/completions/<int:completion_id>/undo")
@login_required
def undo(circle_id: int, completion_id: int):
    circle, me = load_circle(circle_id)
    done = db.session.get(Completion, completion_id)
    if done is None:
        abort(404)
    c = access_plan_item(circle, Commitment, done.commitment_id)
    if ConfirmForm().validate_on_submit():
        try:
            svc.undo_tick(circle, me, done)
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
    return _back(circle, c)


@bp.post("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/help")
@login_required
def help_flag(circle_id: int, commitment_id: int):
    circle, me = load_circle(circle_id)
    c = access_plan_item(circle, Commitment, commitment_id)
    if ConfirmForm().validate_on_submit():
        try:
            if request.form.get("clear"):
                require(can_tick(me, c))
                svc.clear_help(circle, me, c)
            else:
                svc.request_help(circle, me, c)
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
            if not request.form.get("clear"):
                flash(_("Your circle knows you would like help with this."), "success")
    return _back(circle, c)


@bp.post("/c/<int:circle_id>/plan/proposals/<int:proposal_id>/answer")
@login_required
def answer(circle_id: int, proposal_id: int):
    circle, me = load_circle(circle_id)
    proposal = access_plan_item(circle, Proposal, proposal_id)
    require(me.votes)
    form = AnswerForm()
    if form.validate_on_submit():
        consent = request.form.get("answer") == "consent"
        try:
            p = svc.answer(circle, me, proposal, consent, form.reason.data or "")
        except ServiceError as e:
            _fail(e)
        else:
            applied = p.status == "applied"
            db.session.commit()
            if applied:
                flash(_("Everyone agreed. The plan has a new version."), "success")
    return _to_plan(circle, f"p{proposal_id}")


@bp.post("/c/<int:circle_id>/plan/proposals/<int:proposal_id>/withdraw")
@login_required
def withdraw(circle_id: int, proposal_id: int):
    circle, me = load_circle(circle_id)
    proposal = access_plan_item(circle, Proposal, proposal_id)
    if ConfirmForm().validate_on_submit():
        try:
            svc.withdraw(circle, me, proposal)
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
    return _to_plan(circle, "proposals")


# --- Professionals ---------------------------------------------------------------------


@bp.post("/c/<int:circle_id>/plan/conditions")
@login_required
def add_condition(circle_id: int):
    circle, me = load_circle(circle_id)
    require(me.role == Role.PROFESSIONAL)
    form = ConditionForm()
    if form.validate_on_submit():
        try:
            svc.add_condition(circle, me, form.text.data)
        except ServiceError as e:
            _fail(e)
        else:
            db.session.commit()
            flash(_("The condition is added to the plan."), "success")
    return _to_plan(circle, "conditions")


@bp.post("/c/<int:circle_id>/plan/conditions/<int:condition_id>/remove")
@login_required
def remove_condition(circle_id: int, condition_id: int):
    circle, me = load_circle(circle_id)
    k = access_plan_item(circle, Condition, condition_id)
    require(can_remove_condition(me, k))
    if ConfirmForm().validate_on_submit():
        svc.remove_condition(circle, me, k)
        db.session.commit()
    return _to_plan(circle, "conditions")


@bp.post("/c/<int:circle_id>/plan/accept")
@login_required
def accept(circle_id: int):
    circle, me = load_circle(circle_id)
    require(me.role == Role.PROFESSIONAL)
    form = AcceptForm()
    if form.validate_on_submit():
        try:
            svc.accept(circle, me, form.version.data)
        except LookupError:
            abort(404)
        db.session.commit()
        flash(_("You accepted version %(n)d of the plan.", n=form.version.data), "success")
    return _to_plan(circle)


# --- Template helpers ------------------------------------------------------------------


@bp.app_template_global("can_remove_condition")
def _can_remove_condition(me: Membership, condition: Condition) -> bool:
    return can_remove_condition(me, condition)


@bp.app_template_global("may_undo")
def _may_undo(me: Membership, completion: Completion) -> bool:
    return svc.may_undo(me, completion)


@bp.app_template_global("decided_by")
def _decided_by(circle: Circle, v) -> str:
    """Who decided a version, with their names as they are now."""
    return ", ".join(svc.decided_by_names(circle, v))


@bp.app_template_global("gone_objectors")
def _gone_objectors(circle: Circle, v) -> str:
    return ", ".join(svc.names_of(circle, v.gone_objector_ids or []))


@bp.app_template_filter("todate")
def _todate(value):
    return date.fromisoformat(value) if isinstance(value, str) and value else value


@bp.app_template_filter("weekday_name")
def _weekday_name(n: int) -> str:
    names = [
        _("Monday"),
        _("Tuesday"),
        _("Wednesday"),
        _("Thursday"),
        _("Friday"),
        _("Saturday"),
        _("Sunday"),
    ]
    return names[int(n)]


@bp.app_template_filter("occurrence_label")
def _occurrence_label(key: str, c: Commitment) -> str:
    from flask_babel import format_date

    if key.startswith("item:"):
        return next((i.text for i in c.items if f"item:{i.id}" == key), _("a step"))
    if key == "once":
        return _("it as done")
    return _("the turn of %(day)s", day=format_date(date.fromisoformat(key), "long"))
