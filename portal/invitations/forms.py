from __future__ import annotations

from flask import g
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from portal.forms import data_of, supported_choices
from portal.i18n import joining_locale

REQUIRED = _l("Please fill this in.")


def role_choices():
    return [
        SelectChoice("member", _l("Member: family, friend or neighbour")),
        SelectChoice("central", _l("Central person: the plan is about them")),
        SelectChoice("supporter", _l("Supporter: helps someone speak")),
        SelectChoice("professional", _l("Professional: social worker or guardian")),
    ]


class InviteForm(FlaskForm):
    name = StringField(
        _l("Name the circle will see"), validators=[DataRequired(REQUIRED), Length(max=80)]
    )
    role = RadioField(_l("Role"), choices=role_choices, default="member")
    # Issue 14: the person a supporter supports, chosen from the circle (by id); the
    # private line between the two follows it. Their name is kept for display.
    supports = SelectField(
        _l("Supporter of (only for a supporter)"),
        choices=lambda: supported_choices(g.circle),
        default="",
    )
    email = EmailField(
        _l("Email address (if they have one)"),
        validators=[Optional(), Email(message=_l("This does not look like an email address."))],
    )

    simple_mode = BooleanField(
        _l("Use simple mode: bigger letters, fewer buttons"),
        description=_l("Good for a child, or anyone who wants it. They can change it later."),
    )

    def invitation(self) -> dict:
        """What was typed, as ``services.circles.invite`` takes it."""
        return data_of(self, "name", "role", "supports", "email", "simple_mode")


class JoinForm(FlaskForm):
    display_name = StringField(
        _l("Your name, as the circle will see it"),
        validators=[DataRequired(REQUIRED), Length(max=80)],
    )
    username = StringField(
        _l("A username to sign in with"),
        validators=[DataRequired(REQUIRED), Length(min=3, max=40)],
        description=_l(
            "Small letters and numbers; dots and dashes are fine; no spaces. "
            "You will need it to sign in."
        ),
    )
    password = PasswordField(
        _l("Choose a password"),
        validators=[
            DataRequired(REQUIRED),
            Length(min=8, message=_l("Please use at least 8 characters.")),
        ],
        description=_l("At least 8 characters."),
    )
    confirm = PasswordField(
        _l("The same password again"),
        validators=[
            DataRequired(REQUIRED),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )
    email = EmailField(
        _l("Email address (not needed)"),
        validators=[Optional(), Email(message=_l("This does not look like an email address."))],
        description=_l("Only used if you forget your password."),
    )

    def account(self) -> dict:
        """The new account, as ``accounts.create_user`` takes it. The language is the one
        they read this page in, not the circle's: theirs to keep."""
        return {
            "name": self.display_name.data,
            "username": self.username.data,
            "password": self.password.data,
            "locale": joining_locale(),
        }

    def email_address(self) -> str | None:
        return (self.email.data or "").strip().lower() or None


class AcceptForm(FlaskForm):
    display_name = StringField(
        _l("Your name, as the circle will see it"),
        validators=[DataRequired(REQUIRED), Length(max=80)],
    )
