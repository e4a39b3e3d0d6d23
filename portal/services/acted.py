"""Something done in a member's name by someone they named (issue 14): "by Sanne for
Oma". One helper used by the plan (ticks, consent) and the meetings (poll answers), so
each writes the same history line and the same news for the member. It imports only
``history`` and ``notifications``, so any service may use it."""

from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import select

from portal.access import within_change_window
from portal.extensions import db
from portal.models import Circle, Meeting, MeetingAnswer, Membership
from portal.services import notifications
from portal.services.history import record

# What was done, as stored in the history line and the news line's data.
WHAT = ("tick", "untick", "poll", "consent", "object")


def acted_for(
    circle: Circle, acting: Membership, member: Membership, what: str, ref_id: int | None
) -> None:
    """It goes in the circle's history ("Sanne ticked a commitment for Oma"), and the
    member hears of it ("Sanne said yes for you"). A stand-in account of an offline
    member gets nothing: ``notifications.notify`` leaves them out."""
    assert what in WHAT
    record(circle, "acted_for", actor=acting, subject=member, what=what)
    notifications.notify([member], "acted_for", ref_id=ref_id, actor=acting, data={"what": what})


def poll_answer_stands(meeting: Meeting, m: Membership) -> bool:
    """``m``'s answers to this poll were given for them by someone they named more than
    ``access.CHANGE_WINDOW`` ago: they stand, and ``m`` can no longer change them."""
    given = db.session.scalars(
        select(MeetingAnswer.updated_at).where(
            MeetingAnswer.option_id.in_([o.id for o in meeting.options]),
            MeetingAnswer.membership_id == m.id,
            MeetingAnswer.acted_by_id.is_not(None),
        )
    ).all()
    return any(not within_change_window(at) for at in given)


def by_for(name: str, proxy_name: str | None) -> str:
    """ "Oma", or "Sanne for Oma" when Sanne gave it in Oma's name."""
    if proxy_name is None:
        return name
    return gettext("%(proxy)s for %(name)s", proxy=proxy_name, name=name)


def poll_answer_given_for(meeting: Meeting, m: Membership) -> MeetingAnswer | None:
    """The latest of ``m``'s answers to this poll that someone gave in their name, for
    the page to say so ("Sanne answered this for you ...")."""
    return db.session.scalar(
        select(MeetingAnswer)
        .where(
            MeetingAnswer.option_id.in_([o.id for o in meeting.options]),
            MeetingAnswer.membership_id == m.id,
            MeetingAnswer.acted_by_id.is_not(None),
        )
        .order_by(MeetingAnswer.updated_at.desc())
        .limit(1)
    )
