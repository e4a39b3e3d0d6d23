from __future__ import annotations

import secrets

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired

from portal.services.lines import MAX_LENGTH


class LineMessageForm(FlaskForm):
    body = TextAreaField(
        _l("Your message"),
        validators=[DataRequired(_l("Please write a message."))],
        render_kw={"maxlength": MAX_LENGTH, "rows": 2},
    )
    # A fresh id per rendered form: pressing "Send" twice stores the message once.
    client_id = HiddenField(default=lambda: secrets.token_urlsafe(16))
