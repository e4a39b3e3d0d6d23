from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, NumberRange, Optional

from portal.forms import CheckboxesField
from portal.ids import coerce_id

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


class CalendarForm(FlaskForm):
    show_titles = BooleanField(_l("Show the circle's name in my calendar"))
