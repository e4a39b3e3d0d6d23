"""The plan pages. Views parse forms and call portal.services.plan; nothing else."""

from __future__ import annotations

from contextlib import contextmanager
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
    access_member,
    access_plan_item,
    can_act_for,
    can_change_plan,
    can_enter_plan,
    can_pass_conditions_on,
    can_tick,
    can_vote,
    enters_plan_directly,
    load_circle,
    require,
)
from portal.extensions import db
from portal.forms import ConfirmForm
from portal.ids import as_id, query_int, query_page
from portal.models import (
    Agreement,
    Circle,
    Commitment,
    Completion,
    Membership,
    Proposal,
)
from portal.plan.forms import (
    AcceptForm,
    AgreeForm,
    AgreementForm,
    AnswerForm,
    CommitmentForm,
    ConditionForm,
    EvaluationForm,
    PassOnForm,
    TickForm,
)
from portal.services import circles as circle_svc
from portal.services import meetings as meetings_svc
from portal.services import plan as svc
from portal.services import who_can
from portal.services.plan_export import export_json
from portal.services.plan_view import my_commitments, plan_view
from portal.services.schedule import FIELD_KINDS
from portal.views import looked, run, shown

bp = Blueprint("plan", __name__)

# The news the plan page is about (opening it marks them read): proposals waiting for an
# answer or decided, and requests for help.
PLAN_NEWS = ("consent", "decided", "help")


def _to_plan(circle: Circle, anchor: str = ""):
    return redirect(url_for("plan.show", circle_id=circle.id) + (f"#{anchor}" if anchor else ""))


def _back(circle: Circle, c: Commitment):
    """After a tick, an undo or a help flag: back to where the form came from, named by
    a fixed word (never a URL): "My commitments", "What needs you" on the circle home
    ("home") or on "My circles" ("all"); else to the commitment in the plan."""
    back = request.form.get("back")
    if back == "mine":
        return redirect(url_for("plan.mine") + f"#c{c.id}")
    if back == "home":
        return redirect(url_for("circles.home", circle_id=circle.id) + "#needs")
    if back == "all":
        return redirect(url_for("circles.list_circles") + "#needs")
    return _to_plan(circle, f"c{c.id}")


@contextmanager
def _missing_is_404():
    """A version number that is not in the plan answers 404."""
    try:
        yield
    except LookupError:
        abort(404)


# --- Reading ---------------------------------------------------------------------------


@bp.get("/c/<int:circle_id>/plan")
@login_required
def show(circle_id: int):
    circle, me = load_circle(circle_id)
    view = plan_view(circle, me)
    page = lambda: _plan_page(circle, me, view)  # noqa: E731
    return looked(me, "plan", page, circle_id=circle.id, kinds=PLAN_NEWS)


def _change_mode(me: Membership, agreed: bool) -> str:
    """How ``me``'s change to the plan goes in (see ``_plan_change_context``)."""
    if enters_plan_directly(me, agreed):
        return "enter"
    return "propose" if agreed else "suggest"


def _asks(circle: Circle, me: Membership, view) -> dict[str, who_can.Names]:
    """Never a silent absence: whom to ask ("Sanne or Tom") for what the page does not
    offer ``me``; empty where nothing is missing (or nobody else can)."""
    agreed = view.version > 0
    nobody = who_can.Names()
    return {
        "change": nobody if can_change_plan(me, agreed) else who_can.central_persons(circle, me),
        "tick": who_can.plan_watchers(circle, me)
        if any(not r.may_tick for r in view.rows)
        else nobody,
    }


def _plan_page(circle, me, view):
    agreed = view.version > 0
    return render_template(
        "plan/plan.html",
        circle=circle,
        me=me,
        v=view,
        confirm=ConfirmForm(),
        answer_form=AnswerForm(),
        tick_form=TickForm(),
        condition_form=ConditionForm(),
        accept_form=AcceptForm(),
        pass_on_form=_pass_on_form(me),
        can_enter=can_enter_plan(me),
        may_change=can_change_plan(me, agreed),
        mode=_change_mode(me, agreed),
        ask=_asks(circle, me, view),
    )


@bp.get("/c/<int:circle_id>/plan/print")
@login_required
def print_view(circle_id: int):
    circle, me = load_circle(circle_id)
    view = plan_view(circle, me)
    current = svc.get_version(circle, view.version) if view.version else None
    meeting = meetings_svc.next_meeting(circle)
    return looked(
        me,
        "plan_print",
        lambda: render_template(
            "plan/print.html", circle=circle, me=me, v=view, current=current, meeting=meeting
        ),
    )


@bp.get("/c/<int:circle_id>/plan/export.json")
@login_required
def export(circle_id: int):
    circle, me = load_circle(circle_id)
    body = export_json(circle)
    name = f"kring-plan-{circle.id}-{date.today().isoformat()}.json"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return looked(
        me, "plan_export", lambda: Response(body, mimetype="application/json", headers=headers)
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
    with _missing_is_404():
        v = svc.get_version(circle, number)
    # A version is the plan as it stood (the latest one is the plan now): logged as it.
    return looked(
        me, "plan", lambda: render_template("plan/version.html", circle=circle, me=me, version=v)
    )


@bp.get("/c/<int:circle_id>/plan/diff")
@login_required
def diff(circle_id: int):
    circle, me = load_circle(circle_id)
    a = request.args.get("a", type=query_int)
    b = request.args.get("b", type=query_int)
    with _missing_is_404():
        va, vb = svc.get_version(circle, a), svc.get_version(circle, b)
    rows = svc.diff(va.snapshot, vb.snapshot)
    return looked(
        me,
        "plan",
        lambda: render_template("plan/diff.html", circle=circle, me=me, a=va, b=vb, rows=rows),
    )


@bp.get("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/history")
@login_required
def history(circle_id: int, commitment_id: int):
    circle, me = load_circle(circle_id)
    c = access_plan_item(circle, Commitment, commitment_id)
    page = db.paginate(
        svc.completion_history(c),
        page=request.args.get("page", 1, type=query_page),
        per_page=current_app.config["ITEMS_PER_PAGE"],
        error_out=False,
    )
    return looked(
        me,
        "commitment_history",
        lambda: render_template("plan/history.html", circle=circle, me=me, c=c, page=page),
    )


@bp.get("/me/commitments")
@login_required
def mine():
    """Everything I took on, in all my circles: where each stands, and ticking it off."""
    groups = my_commitments(current_user.id)

    def page():
        return render_template(
            "plan/mine.html", groups=groups, tick_form=TickForm(), confirm=ConfirmForm()
        )

    return shown(page, kinds=["due", "missed"])


# --- Entering (draft) or proposing (agreed plan) -----------------------------------------


def _plan_change_context(circle_id: int, model=None, item_id: int | None = None):
    """The circle, me, how my change goes in, and the item to change (404 first), once
    I may change the plan. The mode: "enter" (I type in the draft directly),
    "suggest" (a suggestion to the draft) or "propose" (the plan is agreed); the last
    two are proposals to the circle, decided by consent."""
    circle, me = load_circle(circle_id)
    item = access_plan_item(circle, model, item_id) if model is not None else None
    agreed = svc.get_plan(circle).version > 0
    require(can_change_plan(me, agreed))
    return circle, me, _change_mode(me, agreed), item


def _changed(mode: str, done: str) -> str:
    """What the person hears: a proposal (or suggestion) goes to the circle."""
    return done if mode == "enter" else _("Your proposal is sent to the circle.")


def _propose(circle: Circle, me: Membership, kind: str, form, **what):
    """The service call for a change with the reason typed in ``form``."""
    return lambda: svc.change(circle, me, kind, reason=form.reason.data or "", **what)


def _form_page(template: str, **context):
    """A form page: empty on GET, or again with what was typed and the errors (400)."""
    return render_template(template, **context), 200 if request.method == "GET" else 400


def _commitment_page(circle, me, form, mode: str, commitment: Commitment | None):
    return _form_page(
        "plan/commitment_form.html",
        circle=circle,
        me=me,
        form=form,
        mode=mode,
        commitment=commitment,
        schedule_fields=FIELD_KINDS,
    )


@bp.route("/c/<int:circle_id>/plan/commitments/new", methods=["GET", "POST"])
@login_required
def new_commitment(circle_id: int):
    circle, me, mode, _none = _plan_change_context(circle_id)
    form = CommitmentForm()
    form.offer_people(circle)
    if form.validate_on_submit():
        call = _propose(circle, me, "add_commitment", form, payload=form.to_data().to_payload())
        if run(call, form=form, success=_changed(mode, _("Added.")), fallback="what"):
            return _to_plan(circle)
    return _commitment_page(circle, me, form, mode, None)


@bp.route("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/edit", methods=["GET", "POST"])
@login_required
def edit_commitment(circle_id: int, commitment_id: int):
    circle, me, mode, c = _plan_change_context(circle_id, Commitment, commitment_id)
    form = CommitmentForm()
    form.offer_people(circle)
    if request.method == "GET":
        form.fill_from(c)
    if form.validate_on_submit():
        payload = form.to_data().to_payload()
        call = _propose(circle, me, "change_commitment", form, target_id=c.id, payload=payload)
        if run(call, form=form, success=_changed(mode, _("Saved.")), fallback="what"):
            return _to_plan(circle, f"c{c.id}")
    return _commitment_page(circle, me, form, mode, c)


@bp.post("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/remove")
@login_required
def remove_commitment(circle_id: int, commitment_id: int):
    circle, me, mode, c = _plan_change_context(circle_id, Commitment, commitment_id)
    if ConfirmForm().validate_on_submit():
        run(
            lambda: svc.change(circle, me, "remove_commitment", target_id=c.id),
            success=_changed(mode, _("Removed.")),
        )
    return _to_plan(circle)


@bp.post("/c/<int:circle_id>/plan/agreements")
@login_required
def add_agreement(circle_id: int):
    circle, me, mode, _none = _plan_change_context(circle_id)
    form = AgreementForm()
    if form.validate_on_submit():
        call = _propose(circle, me, "add_agreement", form, payload={"text": form.text.data})
        run(call, success=_changed(mode, _("Added.")))
    else:
        flash(_("Please write the backup plan."), "error")
    return _to_plan(circle, "agreements")


@bp.route("/c/<int:circle_id>/plan/agreements/<int:agreement_id>/edit", methods=["GET", "POST"])
@login_required
def edit_agreement(circle_id: int, agreement_id: int):
    circle, me, mode, a = _plan_change_context(circle_id, Agreement, agreement_id)
    form = AgreementForm(text=a.text) if request.method == "GET" else AgreementForm()
    if form.validate_on_submit():
        payload = {"text": form.text.data}
        call = _propose(circle, me, "change_agreement", form, target_id=a.id, payload=payload)
        if run(call, form=form, success=_changed(mode, _("Saved.")), fallback="text"):
            return _to_plan(circle, "agreements")
    return _form_page("plan/agreement_form.html", circle=circle, me=me, form=form, mode=mode)


@bp.post("/c/<int:circle_id>/plan/agreements/<int:agreement_id>/remove")
@login_required
def remove_agreement(circle_id: int, agreement_id: int):
    circle, me, _agreed, a = _plan_change_context(circle_id, Agreement, agreement_id)
    if ConfirmForm().validate_on_submit():
        run(lambda: svc.change(circle, me, "remove_agreement", target_id=a.id))
    return _to_plan(circle, "agreements")


@bp.post("/c/<int:circle_id>/plan/evaluation")
@login_required
def evaluation(circle_id: int):
    circle, me, mode, _none = _plan_change_context(circle_id)
    form = EvaluationForm()
    if form.validate_on_submit():
        payload = {"date": form.date.data.isoformat()}
        run(
            _propose(circle, me, "set_evaluation_date", form, payload=payload),
            success=_changed(mode, _("Saved.")),
        )
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
    form.offer_voters(circle)
    if form.validate_on_submit():
        present, done = list(form.present.data or []), _("The plan is agreed. This is version 1.")
        if run(
            lambda: svc.record_agreement(circle, me, present),
            form=form,
            success=done,
            fallback="present",
        ):
            return _to_plan(circle)
    return render_template("plan/agree.html", circle=circle, me=me, form=form)


# --- Living with the plan --------------------------------------------------------------


@bp.post("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/tick")
@login_required
def tick(circle_id: int, commitment_id: int):
    circle, me = load_circle(circle_id)
    c = access_plan_item(circle, Commitment, commitment_id)
    member = _acting_for(circle, me)
    require(can_tick(member, c) if member else can_tick(me, c))
    form = TickForm()
    if form.validate_on_submit():
        note = form.note.data or ""
        run(lambda: svc.tick(circle, me, c, form.occurrence.data, note, for_member=member))
    return _back(circle, c)


def _acting_for(circle: Circle, me: Membership) -> Membership | None:
    """The member ``me`` acts for ("for whom", issue 14), if the form names one: 404 if
    not of this circle, 403 unless they named ``me`` (``access.can_act_for``)."""
    raw = request.form.get("for_member") or ""
    if not raw:
        return None
    member_id = as_id(raw)
    if member_id is None:
        abort(404)
    member = access_member(circle, member_id)
    require(can_act_for(me, member))
    return member


@bp.post("/c/<int:circle_id>/plan/completions/<int:completion_id>/undo")
@login_required
def undo(circle_id: int, completion_id: int):
    circle, me = load_circle(circle_id)
    done = db.session.get(Completion, completion_id)
    if done is None:
        abort(404)
    c = access_plan_item(circle, Commitment, done.commitment_id)
    if ConfirmForm().validate_on_submit():
        run(lambda: svc.undo_tick(circle, me, done))
    return _back(circle, c)


@bp.post("/c/<int:circle_id>/plan/commitments/<int:commitment_id>/help")
@login_required
def help_flag(circle_id: int, commitment_id: int):
    circle, me = load_circle(circle_id)
    c = access_plan_item(circle, Commitment, commitment_id)
    if not ConfirmForm().validate_on_submit():
        return _back(circle, c)
    if request.form.get("clear"):
        require(can_tick(me, c))
        run(lambda: svc.clear_help(circle, me, c))
    else:
        run(
            lambda: svc.request_help(circle, me, c),
            success=_("Your circle knows you would like help with this."),
        )
    return _back(circle, c)


@bp.post("/c/<int:circle_id>/plan/proposals/<int:proposal_id>/answer")
@login_required
def answer(circle_id: int, proposal_id: int):
    circle, me = load_circle(circle_id)
    proposal = access_plan_item(circle, Proposal, proposal_id)
    member = _acting_for(circle, me)
    require(can_vote(member or me))
    form = AnswerForm()
    if form.validate_on_submit():
        consent = request.form.get("answer") == "consent"
        reason = form.reason.data or ""
        answered = run(
            lambda: svc.answer(circle, me, proposal, consent, reason, for_member=member).status
        )
        if answered.value == "applied":
            flash(_("Everyone agreed. The plan has a new version."), "success")
    return _to_plan(circle, f"p{proposal_id}")


@bp.post("/c/<int:circle_id>/plan/proposals/<int:proposal_id>/withdraw")
@login_required
def withdraw(circle_id: int, proposal_id: int):
    circle, me = load_circle(circle_id)
    proposal = access_plan_item(circle, Proposal, proposal_id)
    if ConfirmForm().validate_on_submit():
        run(lambda: svc.withdraw(circle, me, proposal))
    return _to_plan(circle, "proposals")


def _pass_on_form(me: Membership) -> PassOnForm | None:
    """For a professional: whom they may name to take over their conditions."""
    if not can_pass_conditions_on(me):
        return None
    return PassOnForm.offering(circle_svc.pass_on_choices(me), me)
