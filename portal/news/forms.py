"""The news forms: "mark all as read" (a ConfirmForm) and the settings section of
/account (rendered by templates/auth/_news_settings.html, which names the same fields)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectChoice

from portal.forms import CheckboxesField
from portal.models.notifications import DIGEST_PERIODS, NEWS_KINDS
from portal.services.news_settings import REMINDER_KINDS


class NewsSettingsForm(FlaskForm):
    """The whole section: a box left unticked is sent as nothing, so what is not in the
    post is off. The circles to choose from are the person's own (``for_circles``):
    any other id makes the form invalid, and nothing is saved."""

    shown = CheckboxesField(choices=[SelectChoice(k, k) for k in NEWS_KINDS])
    reminders = CheckboxesField(choices=[SelectChoice(k, k) for k in REMINDER_KINDS])
    digest_period = RadioField(choices=[SelectChoice(p, p) for p in DIGEST_PERIODS])
    direct_email = BooleanField()
    muted = CheckboxesField(coerce=int, choices=[])
    email_names = CheckboxesField(coerce=int, choices=[])

    def for_circles(self, circle_ids: list[int]) -> NewsSettingsForm:
        for f in (self.muted, self.email_names):
            f.choices = [SelectChoice(i, str(i)) for i in circle_ids]
        return self

    def settings(self) -> dict:
        """What was chosen, as ``news_settings.save`` takes it."""
        return {
            "shown": self.shown.data or [],
            "reminders": self.reminders.data or [],
            "digest_period": self.digest_period.data,
            "direct_email": self.direct_email.data,
            "muted": self.muted.data or [],
            "email_names": self.email_names.data or [],
        }
