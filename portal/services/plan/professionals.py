"""What professionals add to the plan: their conditions, and accepting a version."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.access import (
    can_accept_plan,
    can_remove_condition,
    can_set_conditions,
)
from portal.extensions import db
from portal.models import (
    Acceptance,
    Circle,
    Condition,
    Membership,
)
from portal.sanitize import clean_text
from portal.services import Forbidden, ServiceError
from portal.services.history import record
from portal.services.plan.reading import get_plan
from portal.services.plan.snapshots import get_version, new_version


def add_condition(circle: Circle, acting: Membership, text: str) -> Condition:
    if not can_set_conditions(acting):
        raise Forbidden
    text = clean_text(text).strip()
    if not text:
        raise ServiceError(_l("Please write the condition."), "text")
    k = Condition(circle_id=circle.id, text=text[:2000], set_by_id=acting.id)
    db.session.add(k)
    db.session.flush()
    if get_plan(circle).version > 0:
        new_version(circle, "condition", decided_by=[acting])
    return k


def remove_condition(circle: Circle, acting: Membership, k: Condition) -> None:
    if not can_remove_condition(acting, k):
        raise Forbidden
    if not k.active:
        return  # already removed (a second click): not another change, not another version
    k.active = False
    db.session.flush()
    if get_plan(circle).version > 0:
        new_version(circle, "condition", agreed_by=[acting.display_name])


def accept(circle: Circle, acting: Membership, number: int) -> Acceptance:
    if not can_accept_plan(acting):
        raise Forbidden
    get_version(circle, number)
    a = Acceptance(circle_id=circle.id, version=number, by_id=acting.id)
    db.session.add(a)
    record(circle, "plan_accepted", actor=acting, number=number)
    return a


def acceptances(circle: Circle) -> list[Acceptance]:
    return list(
        db.session.scalars(
            select(Acceptance)
            .where(Acceptance.circle_id == circle.id)
            .options(selectinload(Acceptance.by))
            .order_by(Acceptance.id.desc())
        )
    )
