from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.forms import LANGUAGE_CHOICES, TIMEZONE_CHOICES, data_of

REQUIRED = _l("Please fill this in.")


class CircleForm(FlaskForm):
    title = StringField(
        _l("Name of the circle"),
        validators=[DataRequired(REQUIRED), Length(max=120)],
        description=_l("For example: “Circle around Sam”."),
    )
    question = TextAreaField(
        _l("The question of the conference"),
        validators=[Length(max=1000)],
        description=_l("For example: “What is needed so that the children grow up safely?”"),
    )
    language = SelectField(_l("Language of the circle"), choices=LANGUAGE_CHOICES, default="nl")
    timezone = SelectField(_l("Time zone"), choices=TIMEZONE_CHOICES, default="Europe/Amsterdam")

    def settings(self) -> dict:
        """What was typed, as ``create_circle`` and ``update_circle`` take it."""
        return data_of(self, "title", "question", "language", "timezone")


class FlagsForm(FlaskForm):
    plan_keeper = BooleanField(_l("Plan keeper"))
    followup = BooleanField(_l("Follow-up group"))


class ProfessionalsForm(FlaskForm):
    read_chat = BooleanField(_l("Professionals may read the chat"))


class PresenceForm(FlaskForm):
    enabled = BooleanField(_l("Show who is in the chat right now"))


class SupportsForm(FlaskForm):
    """Whom a supporter supports (the people page, issue 14): a membership id, checked by
    ``services.lines.set_supports``."""

    supports = StringField(_l("Supporter of"))
