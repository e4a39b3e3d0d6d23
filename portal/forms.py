"""Forms shared by several features, and the lists of choices they use."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

LANGUAGE_CHOICES = [
    SelectChoice("en", "English"),
    SelectChoice("nl", "Nederlands"),
    SelectChoice("fr", "Français"),
]
COMMON_TIMEZONES = sorted(
    tz
    for tz in available_timezones()
    if tz.startswith(
        (
            "Europe/",
            "Africa/",
            "America/",
            "Asia/",
            "Atlantic/",
            "Australia/",
            "Pacific/",
            "Indian/",
        )
    )
    or tz == "UTC"
)
TIMEZONE_CHOICES = [SelectChoice(tz) for tz in COMMON_TIMEZONES]


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)


class ConfirmForm(FlaskForm):
    """A button and a CSRF token: for actions that need nothing typed."""


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
