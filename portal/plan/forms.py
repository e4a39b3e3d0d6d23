from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from portal.access import can_take_on_commitments, can_vote
from portal.forms import CheckboxesField
from portal.i18n import weekday_names
from portal.ids import IdField, coerce_id
from portal.models import Circle, Commitment
from portal.services.plan import CommitmentData
from portal.services.schedule import FIELD_KINDS, Schedule

REQUIRED = _l("Please fill this in.")


def schedule_choices():
    return [
        ("once", _l("Once, by a date")),
        ("period", _l("During a period")),
        ("weekly", _l("Every week, on certain days")),
        ("every_n_weeks", _l("Every few weeks")),
        ("monthly", _l("Every month")),
    ]


def weekday_choices():
    return [(str(n), name) for n, name in enumerate(weekday_names("stand-alone"))]


class CommitmentForm(FlaskForm):
    what = TextAreaField(
        _l("What will be done?"), validators=[DataRequired(REQUIRED)], render_kw={"rows": 3}
    )
    assignees = CheckboxesField(_l("Who does it?"), coerce=coerce_id, validate_choice=False)
    other_assignees = StringField(
        _l("Someone who is not in Kring (optional)"),
        description=_l("For example: “Mr Jansen, the neighbour”."),
    )
    kind = RadioField(_l("When?"), choices=schedule_choices, default="once")
    start = DateField(_l("Date (or first day)"), validators=[InputRequired(REQUIRED)])
    end = DateField(_l("Last day (for a period, or when it stops)"), validators=[Optional()])
    weekdays = CheckboxesField(
        _l("On which days? (for every week)"), choices=weekday_choices, validate_choice=False
    )
    interval = IntegerField(
        _l("Every how many weeks?"), default=2, validators=[Optional(), NumberRange(min=1, max=52)]
    )
    checker = SelectField(_l("Who checks it?"), coerce=coerce_id, validate_choice=False)
    checker_name = StringField(_l("Or someone not in Kring who checks it (optional)"))
    items = TextAreaField(
        _l("Checklist (optional)"),
        description=_l("One step on each line. People tick the steps one by one."),
        render_kw={"rows": 3},
    )
    reason = TextAreaField(_l("Why do you propose this? (optional)"), render_kw={"rows": 2})

    def offer_people(self, circle: Circle) -> None:
        """The people who may do or check it, by name."""
        people = [m for m in circle.memberships if can_take_on_commitments(m)]
        choices = [(m.id, m.display_name) for m in sorted(people, key=lambda m: m.display_name)]
        self.assignees.choices = choices
        self.checker.choices = [(0, _("Nobody in Kring"))] + choices

    def fill_from(self, c: Commitment) -> None:
        """The commitment as it stands, to change it."""
        self.what.data = c.what
        self.assignees.data = [m.id for m in c.assignees]
        self.other_assignees.data = c.other_assignees
        self.kind.data = c.schedule_kind
        self.start.data = c.start
        self.end.data = c.end
        self.weekdays.data = [d for d in c.weekdays.split(",") if d]
        self.interval.data = c.interval
        self.checker.data = c.checker_id or 0
        self.checker_name.data = c.checker_name
        self.items.data = "\n".join(i.text for i in c.items)

    def to_data(self) -> CommitmentData:
        return CommitmentData(
            what=self.what.data or "",
            assignee_ids=list(self.assignees.data or []),
            other_assignees=self.other_assignees.data or "",
            checker_id=self.checker.data or None,
            checker_name=self.checker_name.data or "",
            items=(self.items.data or "").splitlines(),
            schedule=self.schedule(),
        )

    def schedule(self) -> Schedule:
        """The form hides the fields another kind uses (static/js/commitment-form.js);
        without JavaScript they show, and whatever they hold is ignored here."""
        kind = self.kind.data

        def given(name: str):
            return getattr(self, name).data if kind in FIELD_KINDS[name] else None

        return Schedule(
            kind=kind,
            start=self.start.data,
            end=given("end"),
            weekdays=frozenset(int(d) for d in (given("weekdays") or []) if d.isdigit()),
            interval=given("interval") or 1,
        )


class AgreementForm(FlaskForm):
    text = TextAreaField(
        _l("If things go differently, then…"),
        validators=[DataRequired(REQUIRED)],
        render_kw={"rows": 2},
    )
    reason = TextAreaField(_l("Why do you propose this? (optional)"), render_kw={"rows": 2})


class EvaluationForm(FlaskForm):
    date = DateField(
        _l("When do we look at the plan together again?"), validators=[InputRequired(REQUIRED)]
    )
    reason = TextAreaField(_l("Why do you propose this? (optional)"), render_kw={"rows": 2})


class AgreeForm(FlaskForm):
    present = CheckboxesField(
        _l("Who was there and agreed?"), coerce=coerce_id, validate_choice=False
    )

    def offer_voters(self, circle: Circle) -> None:
        self.present.choices = [(m.id, m.display_name) for m in circle.memberships if can_vote(m)]


class TickForm(FlaskForm):
    occurrence = StringField(validators=[DataRequired()])
    note = StringField(_l("A short note (optional)"))


class AnswerForm(FlaskForm):
    reason = TextAreaField(_l("If you object: why?"), render_kw={"rows": 2})


class ConditionForm(FlaskForm):
    text = TextAreaField(
        _l("Condition"), validators=[DataRequired(REQUIRED)], render_kw={"rows": 2}
    )


class PassOnForm(FlaskForm):
    # Choices are the other professionals, set by the view (services.circles.pass_on_choices).
    to = SelectField(
        _l("Pass my conditions on to"),
        coerce=coerce_id,
        validate_choice=False,
        validators=[InputRequired(REQUIRED)],
        # The list always has someone chosen; "required" on a select without an empty
        # first option is invalid HTML (the server still checks).
        render_kw={"required": False},
        description=_l(
            "If your organisation sends someone else in your place: they may then remove "
            "the conditions you set."
        ),
    )

    @classmethod
    def offering(cls, people, me) -> PassOnForm | None:
        """The form with ``people`` to choose from and the one already named chosen;
        None when there is nobody to name."""
        if not people:
            return None
        form = cls()
        form.to.choices = [SelectChoice(m.id, m.display_name) for m in people]
        form.to.data = next((m.id for m in people if m.replaces_membership_id == me.id), None)
        return form


class AcceptForm(FlaskForm):
    version = IdField(validators=[DataRequired()])
