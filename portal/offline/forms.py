from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import data_of
from portal.ids import coerce_id

REQUIRED = _l("Please fill this in.")


def offline_role_choices():
    return [
        SelectChoice("member", _l("Member: family, friend or neighbour")),
        SelectChoice("central", _l("Central person: the plan is about them")),
        SelectChoice("supporter", _l("Supporter: helps someone speak")),
    ]


class OfflineMemberForm(FlaskForm):
    name = StringField(
        _l("Their name, as the circle will see it"),
        validators=[DataRequired(REQUIRED), Length(max=80)],
    )
    role = RadioField(_l("Role"), choices=offline_role_choices, default="member")

    def member(self) -> dict:
        return data_of(self, "name", "role")


class ProxiesForm(FlaskForm):
    """Who may act for a member: checkboxes, the choices set by the view
    (``offline.proxy_choices``)."""

    proxies = SelectMultipleField(
        _l("They may answer for me:"),
        coerce=coerce_id,
        validate_choice=False,
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )

    @classmethod
    def offering(cls, choices, member, **kw):
        form = cls(**kw)
        form.proxies.choices = [(m.id, m.display_name) for m in choices]
        if not form.is_submitted():
            form.proxies.data = [p.id for p in member.proxies]
        return form

    def ids(self) -> list[int]:
        return [i for i in (self.proxies.data or []) if i is not None]
