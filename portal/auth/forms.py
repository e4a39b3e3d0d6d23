from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from portal.forms import COMMON_TIMEZONES, LANGUAGE_CHOICES

REQUIRED = _l("Please fill this in.")


class LoginForm(FlaskForm):
    login = StringField(_l("Your username or email"), validators=[DataRequired(REQUIRED)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED)])


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(REQUIRED),
            Length(min=8, message=_l("Please use at least 8 characters.")),
        ],
    )
    confirm = PasswordField(
        _l("The same password again"),
        validators=[
            DataRequired(REQUIRED),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
    )


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Your current password"), validators=[DataRequired(REQUIRED)])


class ForgotForm(FlaskForm):
    email = EmailField(
        _l("Your email address"),
        validators=[
            DataRequired(REQUIRED),
            Email(message=_l("This does not look like an email address.")),
        ],
    )


class AccountForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(REQUIRED), Length(max=80)])
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    timezone = SelectField(_l("Time zone"), choices=[(t, t) for t in COMMON_TIMEZONES])


class EmailForm(FlaskForm):
    new_email = EmailField(
        _l("New email address (leave empty to remove it)"),
        validators=[
            Optional(),
            Length(max=254),
            Email(message=_l("This does not look like an email address.")),
        ],
    )
    email_password = PasswordField(_l("Your current password"), validators=[DataRequired(REQUIRED)])


class ConfirmEmailForm(FlaskForm):
    """Only the CSRF token: pressing the button is the confirmation."""
