"""Build a draft plan in tests the way the plan's forms do: through ``plan.change``.

``change`` is the one entry point the views call; while the plan is a draft it makes
the change at once. These helpers give back the row made, which the view never needs.
"""

from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import Agreement, Circle, Commitment, Membership
from portal.services import plan as svc


def _draft_change(circle: Circle, acting: Membership | None, kind: str, **kw) -> None:
    made = svc.change(circle, acting, kind, **kw)
    assert made is None, "the plan is agreed: this would only be proposed"


def _newest(model, circle: Circle):
    return db.session.scalars(
        select(model).where(model.circle_id == circle.id).order_by(model.id.desc()).limit(1)
    ).one()


def add_commitment(
    circle: Circle, acting: Membership | None, data: svc.CommitmentData
) -> Commitment:
    _draft_change(circle, acting, "add_commitment", payload=data.to_payload())
    return _newest(Commitment, circle)


def remove_commitment(circle: Circle, acting: Membership | None, c: Commitment) -> None:
    _draft_change(circle, acting, "remove_commitment", target_id=c.id)


def add_agreement(circle: Circle, acting: Membership | None, text: str) -> Agreement:
    _draft_change(circle, acting, "add_agreement", payload={"text": text})
    return _newest(Agreement, circle)
