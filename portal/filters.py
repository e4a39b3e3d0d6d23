"""Template filters and helpers the plan pages use, registered app-wide in create_app.

The time and date filters live in ``portal.i18n``; user text becomes HTML only in
``portal.sanitize``. Who may do what is asked of ``portal.access`` (or the service).
"""

from __future__ import annotations

from datetime import date

from flask_babel import format_date
from flask_babel import gettext as _

from portal.access import (
    CHANGE_WINDOW,
    can_export_circle,
    can_name_proxies,
    can_remove_condition,
    can_reopen_circle,
    can_undo_tick,
    within_change_window,
)
from portal.forms import supported_choices
from portal.i18n import weekday_names
from portal.models import Circle, Commitment
from portal.services import acted
from portal.services import lines as lines_svc
from portal.services import plan as svc
from portal.services.closing import purge_day


def init_app(app) -> None:
    app.add_template_global(can_remove_condition, "can_remove_condition")
    app.add_template_global(can_undo_tick, "may_undo")
    app.add_template_global(can_name_proxies, "may_name_proxies")
    app.add_template_global(CHANGE_WINDOW, "change_window")
    app.add_template_global(within_change_window, "within_change_window")
    app.add_template_global(can_export_circle, "can_export_circle")
    app.add_template_global(can_reopen_circle, "can_reopen_circle")
    app.add_template_global(_decided_by, "decided_by")
    app.add_template_global(_gone_objectors, "gone_objectors")
    app.add_template_global(purge_day, "purge_day")
    # The private lines open to the person (the circle nav links to them): issue 14.
    app.add_template_global(lines_svc.my_lines, "my_lines")
    app.add_template_global(supported_choices, "supported_choices")
    app.add_template_filter(_todate, "todate")
    app.add_template_filter(by_for, "by_for")
    app.add_template_filter(person, "person")
    app.add_template_filter(people, "people")
    app.add_template_filter(_weekday_name, "weekday_name")
    app.add_template_filter(_occurrence_label, "occurrence_label")


def person(name: str | None) -> str:
    """A name kept in a version, a review or the history: an erased one (stored as "",
    services/erasure.py) reads "a former member"."""
    return name if name else _("a former member")


def by_for(done) -> str:
    """Who did it: "Oma", or "Sanne for Oma" when Sanne did it in Oma's name (issue 14:
    a completion, a poll answer or a consent with ``acted_by``). Names as they are now;
    someone who erased their account reads "a former member"."""
    member = getattr(done, "by", None) or getattr(done, "membership", None)
    name = member.display_name if member is not None else _("a former member")
    proxy = getattr(done, "acted_by", None) if getattr(done, "acted_by_id", None) else None
    return acted.by_for(name, proxy.display_name if proxy is not None else None)


def people(names) -> str:
    """Several such names, with commas."""
    return ", ".join(person(n) for n in names or [])


def _decided_by(circle: Circle, v) -> str:
    """Who decided a version, with their names as they are now."""
    return people(svc.decided_by_names(circle, v))


def _gone_objectors(circle: Circle, v) -> str:
    return ", ".join(svc.names_of(circle, v.gone_objector_ids or []))


def _todate(value):
    return date.fromisoformat(value) if isinstance(value, str) and value else value


def _weekday_name(n: int) -> str:
    return weekday_names()[int(n)]


def _occurrence_label(key: str, c: Commitment) -> str:
    if key.startswith("item:"):
        return next((i.text for i in c.items if f"item:{i.id}" == key), _("a step"))
    if key == "once":
        return _("it as done")
    return _("the turn of %(day)s", day=format_date(date.fromisoformat(key), "long"))
