"""Forms shared by several features, and the lists of choices they use."""

from __future__ import annotations

from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from portal.access import can_be_supported

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


def data_of(form: FlaskForm, *names: str) -> dict:
    """What was typed in the named fields, as keyword arguments for a service call."""
    return {name: form[name].data for name in names}


def supported_choices(circle, *, leave_out=None) -> list[SelectChoice]:
    """The people a supporter can support (``access.can_be_supported``), by name, after
    an empty first choice: for the invitation form and the people page (issue 14)."""
    people = sorted(
        (m for m in circle.memberships if can_be_supported(m, circle.id) and m.id != leave_out),
        key=lambda m: (m.display_name.lower(), m.id),
    )
    return [SelectChoice("", _l("Choose a person…"))] + [
        SelectChoice(str(m.id), m.display_name) for m in people
    ]


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)


class ConfirmForm(FlaskForm):
    """A button and a CSRF token: for actions that need nothing typed."""


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
