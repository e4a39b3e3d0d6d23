"""The plan and the meetings: who may change, tick, consent, organise and review."""

from __future__ import annotations

from datetime import timedelta

from portal.access.acting import within_change_window
from portal.access.circles import can_enter_plan
from portal.models import (
    Membership,
    Role,
)
from portal.models.types import utcnow

# --- The plan, meetings and chat: who may do what ---------------------------------------
# Each rule is written once, here, named for what it allows; services and views ask it.


def watches_plan(m: Membership) -> bool:
    """The central persons and the plan keeper watch how the plan goes: they hear of a
    call for help and see the help box."""
    return m.is_active and (m.role == Role.CENTRAL or m.is_plan_keeper)


def can_vote(m: Membership) -> bool:
    """Central persons, members and supporters have a say in the plan (consent)."""
    return m.is_active and m.votes


def can_suggest_change(m: Membership) -> bool:
    """Every voter (central persons, members, supporters, the plan keeper or not) may
    suggest a new commitment or a change; it goes through consent (issue 14).
    Professionals and the coordinator do not vote, so they do not suggest either."""
    return can_vote(m)


def enters_plan_directly(m: Membership, agreed: bool) -> bool:
    """While the plan is a draft the coordinator or a central person types it in
    directly; every other change (anyone's, once it is agreed) is a proposal."""
    return not agreed and can_enter_plan(m)


def can_change_plan(m: Membership, agreed: bool) -> bool:
    """Before version 1 the coordinator or a central person enters the plan, and every
    other voter may suggest a change to the draft (issue 14: before, they could not,
    and were not told why); once it is agreed, every voter may propose a change."""
    return can_suggest_change(m) or enters_plan_directly(m, agreed)


def can_tick(m: Membership, c) -> bool:
    """Tick a commitment off: its own people, the central persons and the plan keeper."""
    if not m.is_active or c.circle_id != m.circle_id:
        return False
    return watches_plan(m) or any(a.id == m.id for a in c.assignees)


def can_set_conditions(m: Membership) -> bool:
    """Conditions (compulsory cases) and acceptance of a version are the professionals'."""
    return m.is_active and m.role == Role.PROFESSIONAL


def can_accept_plan(m: Membership) -> bool:
    return can_set_conditions(m)


def can_organise_meetings(m: Membership) -> bool:
    """The follow-up group, the plan keeper and the central persons propose meetings."""
    return m.is_active and (m.role == Role.CENTRAL or m.is_plan_keeper or m.in_followup_group)


def can_manage_meeting(m: Membership, meeting) -> bool:
    """Fix, reschedule, cancel: the organiser or a central person."""
    return m.is_active and (meeting.organiser_id == m.id or m.role == Role.CENTRAL)


def can_review_meeting(m: Membership, meeting) -> bool:
    """Write down how the meeting went: whoever may manage it, and the plan keeper."""
    return can_manage_meeting(m, meeting) or (m.is_active and m.is_plan_keeper)


def can_remove_message(m: Membership, message) -> bool:
    """The author removes their own; a central person may remove any hurtful message."""
    return m.is_active and (message.author_id == m.id or m.role == Role.CENTRAL)


def can_take_on_commitments(m: Membership) -> bool:
    """Who may do or check a commitment: everyone active in the circle but the
    coordinator, who sets the circle up and then withdraws."""
    return m.is_active and m.role != Role.COORDINATOR


def can_attend_meetings(m: Membership) -> bool:
    """Who may be invited to a follow-up meeting: everyone in the circle but the
    independent coordinator, who withdraws once the plan is made."""
    return can_take_on_commitments(m)


def takes_over_circle(m: Membership) -> bool:
    """After the handover the central persons look after the circle: those who come in
    to Kring (someone without internet cannot, issue 14)."""
    return m.is_active and m.role == Role.CENTRAL and not m.offline


# The person who ticked may take it back for a few minutes (a mis-tap), not later.
UNDO_WINDOW = timedelta(minutes=5)


def can_undo_tick(m: Membership, completion) -> bool:
    """Whether ``m`` can still take this tick back: their own, within the undo window;
    one made in their name by someone they named, for a week (``CHANGE_WINDOW``:
    "Sanne ticked it for you" is theirs to correct when they next come in); one they
    made for someone else, within the undo window (a mis-tap)."""
    if completion.undone_at is not None or not m.is_active:
        return False
    if completion.acted_by_id is not None:
        if completion.by_id == m.id:
            return within_change_window(completion.at)
        return completion.acted_by_id == m.id and utcnow() - completion.at <= UNDO_WINDOW
    return completion.by_id == m.id and utcnow() - completion.at <= UNDO_WINDOW
