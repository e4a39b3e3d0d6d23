"""The meeting forms, and how what was typed becomes the service's data."""

from __future__ import annotations

from datetime import date, datetime, time

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, NumberRange, Optional

from portal.access import can_attend_meetings
from portal.forms import CheckboxesField
from portal.ids import coerce_id
from portal.services.meetings import MeetingData, local_to_utc

REQUIRED = _l("Please fill this in.")
OPTION_SLOTS = 10


class MeetingForm(FlaskForm):
    title = StringField(
        _l("Title"), validators=[DataRequired(REQUIRED)], default=_l("Follow-up meeting")
    )
    purpose = TextAreaField(
        _l("What is it for?"), default=_l("Is the plan working?"), render_kw={"rows": 2}
    )
    place = StringField(_l("Where? (an address, or “video call”)"))
    video_link = StringField(_l("Video call link (optional)"))
    duration = IntegerField(
        _l("How long? (minutes)"),
        default=90,
        validators=[DataRequired(REQUIRED), NumberRange(min=15, max=600)],
    )
    deadline = DateTimeLocalField(
        _l("Please answer before (optional)"), validators=[Optional()], format="%Y-%m-%dT%H:%M"
    )
    invitees = CheckboxesField(_l("Who is invited?"), coerce=coerce_id, validate_choice=False)

    @property
    def options(self):
        """The service names the possible times "options": its messages go under the first."""
        return self.option_0

    def invite_from(self, members) -> MeetingForm:
        self.invitees.choices = [
            SelectChoice(m.id, m.display_name) for m in members if can_attend_meetings(m)
        ]
        return self

    def start_with(self, invitees, evaluation: date | None) -> None:
        """A new poll: the usual people ticked, and the plan's evaluation day as a first time."""
        self.invitees.data = [m.id for m in invitees]
        if evaluation:
            self.option_0.data = datetime.combine(evaluation, time(19, 0))

    def meeting_data(self, tz: str) -> MeetingData:
        """What was typed, with the times turned from ``tz`` into UTC."""
        times = (getattr(self, f"option_{i}").data for i in range(OPTION_SLOTS))
        return MeetingData(
            # str(): a field left out of the POST keeps its lazily translated default.
            title=str(self.title.data),
            purpose=str(self.purpose.data or ""),
            place=self.place.data or "",
            video_link=self.video_link.data or "",
            duration_minutes=self.duration.data,
            options=[local_to_utc(t, tz) for t in times if t],
            deadline=local_to_utc(self.deadline.data, tz) if self.deadline.data else None,
            invitee_ids=list(self.invitees.data or []),
        )


for _i in range(OPTION_SLOTS):
    setattr(
        MeetingForm,
        f"option_{_i}",
        DateTimeLocalField(
            _l("Possible time %(n)d", n=_i + 1), validators=[Optional()], format="%Y-%m-%dT%H:%M"
        ),
    )


class RescheduleForm(FlaskForm):
    starts_at = DateTimeLocalField(
        _l("New time"), validators=[DataRequired(REQUIRED)], format="%Y-%m-%dT%H:%M"
    )


class ReviewForm(FlaskForm):
    present = CheckboxesField(_l("Who was there?"), coerce=coerce_id, validate_choice=False)
    next_evaluation = DateField(
        _l("When do we look at the plan together again?"), validators=[Optional()]
    )
    notes = TextAreaField(_l("Other notes (optional)"), render_kw={"rows": 3})

    def who_was_there(self, members) -> ReviewForm:
        self.present.choices = [SelectChoice(m.id, m.display_name) for m in members if m.is_active]
        return self

    def review(self, commitments, proposals) -> dict:
        """The review as ``record_review`` takes it: who was there, a verdict (and a note)
        for each commitment given one, and a decision for each open proposal decided."""
        verdicts = {}
        for c in commitments:
            if v := request.form.get(f"verdict-{c.id}"):
                verdicts[c.id] = (v, request.form.get(f"note-{c.id}", ""))
        decisions = {}
        for p in proposals:
            if (d := request.form.get(f"decide-{p.id}")) in ("accept", "reject"):
                decisions[p.id] = d == "accept"
        return {
            "present_ids": list(self.present.data or []),
            "verdicts": verdicts,
            "decisions": decisions,
            "next_evaluation": self.next_evaluation.data,
            "notes": self.notes.data or "",
        }


def poll_answers(options) -> dict[int, str]:
    """The answer given to each possible time of the poll (those left empty are left out)."""
    return {o.id: a for o in options if (a := request.form.get(f"answer-{o.id}"))}


class CalendarForm(FlaskForm):
    show_titles = BooleanField(_l("Show the circle's name in my calendar"))
