from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from portal.forms import LANGUAGE_CHOICES, TIMEZONE_CHOICES
from portal.services import accounts

REQUIRED = _l("Please fill this in.")


def is_current_password(field, user) -> bool:
    """Whether ``field`` holds ``user``'s password; if not, it says so under the field."""
    if accounts.check_password(user, field.data):
        return True
    field.errors.append(_("That is not your current password."))
    return False


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
    timezone = SelectField(_l("Time zone"), choices=TIMEZONE_CHOICES)
    simple_mode = BooleanField(
        _l("Simple mode: bigger letters, fewer buttons"),
        description=_l(
            "A short menu, one column, plain words, and a button that reads messages "
            "and tasks aloud."
        ),
    )
    discreet = BooleanField(
        _l("Hide Kring's name in the browser tab"),
        description=_l(
            "The tab then says “Notes”, so someone looking at your screen does not see Kring."
        ),
    )

    def show(self, user) -> None:
        """The person's settings as they are (a language and a zone even if never chosen)."""
        self.locale.data = user.locale or "en"
        self.timezone.data = user.timezone or current_app.config["BABEL_DEFAULT_TIMEZONE"]

    def profile(self) -> dict:
        """What was typed, as ``accounts.update_profile`` takes it. The email address is
        not changed here: that needs the password and a confirmed link (change_email)."""
        return {
            "name": self.name.data,
            "locale": self.locale.data,
            "timezone": self.timezone.data,
            "simple_mode": bool(self.simple_mode.data),
            "discreet": bool(self.discreet.data),
        }


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

    def new_address(self) -> str | None:
        """The address asked for, or None to remove it."""
        return (self.new_email.data or "").strip().lower() or None


class ConfirmEmailForm(FlaskForm):
    """Only the CSRF token: pressing the button is the confirmation."""


class DeleteAccountForm(FlaskForm):
    """Erasing one's account (``/account/delete``): confirmed with the password."""

    delete_messages = BooleanField(
        _l("Also delete the texts of all my messages"),
        description=_l(
            "If you leave this off, your messages stay in the chat, from “a former member”, "
            "so the family's conversation still makes sense."
        ),
    )
    password = PasswordField(_l("Your password"), validators=[DataRequired(REQUIRED)])
