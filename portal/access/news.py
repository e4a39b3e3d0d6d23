"""News: who hears of what (``portal.services.notifications.notify``), and who may
print a member's sheet."""

from __future__ import annotations

from portal.access.circles import access_member, can_close_circle, require
from portal.access.lines import can_read_line
from portal.access.plan import can_vote, watches_plan
from portal.models import (
    Circle,
    Membership,
    ProposalStatus,
    Role,
)

# --- News: who hears of what (portal.services.notifications.notify) -------------------
# Each kind of news goes to the people these rules name. ``notify`` then leaves out the
# person who caused it, anyone no longer active (left, removed, a coordinator after the
# handover) and whoever muted the circle or switched the kind off.


def hears_of_help(m: Membership) -> bool:
    """A call for help ("I need help" on a commitment) reaches those who watch the plan:
    the central persons and the plan keeper(s)."""
    return watches_plan(m)


def hears_of_needs_person(m: Membership) -> bool:
    """Someone who held a commitment erased their account: the commitment needs a new
    person, which the family decides by consent. Those who watch the plan hear of it."""
    return watches_plan(m)


def consent_waits_for(m: Membership, proposal) -> bool:
    """An open proposal waits for the consent of each of its voters (fixed when it was
    made) who has not answered yet and can still vote."""
    return (
        can_vote(m)
        and proposal.status == ProposalStatus.OPEN
        and any(v.membership_id == m.id and v.answer is None for v in proposal.votes)
    )


def hears_of_decision(m: Membership, proposal) -> bool:
    """A decided proposal (agreed, or withdrawn) concerns the people who had a say in it:
    its voters and its proposer, while they are in the circle."""
    if not m.is_active or m.circle_id != proposal.circle_id:
        return False
    return m.id == proposal.proposer_id or any(v.membership_id == m.id for v in proposal.votes)


def may_answer_poll(m: Membership, meeting) -> bool:
    """A date poll waits for the answer of everyone invited who is still in the circle."""
    return hears_of_meeting(m, meeting) and meeting.status == "poll"


def hears_of_meeting(m: Membership, meeting) -> bool:
    """A meeting fixed, moved or cancelled: the people invited to it, while in the circle."""
    return (
        m.is_active
        and m.circle_id == meeting.circle_id
        and any(i.membership_id == m.id for i in meeting.invitees)
    )


def hears_of_line_message(m: Membership, line, author: Membership) -> bool:
    """A message on a private line (issue 14): news for the other of its two people
    only, while the line is open to them. Nobody else ever hears that it was written."""
    return m.id != author.id and can_read_line(m, line)


def hears_of_people(m: Membership) -> bool:
    """Someone joined or left: news for the family's circle (and the coordinator until the
    handover, who invited them), not for professionals. A professional sees the people
    when they open the circle; who comes and goes in a family's circle is the family's
    business, and a social worker in many circles would hear of every family's changes."""
    return m.is_active and m.role != Role.PROFESSIONAL


def hears_of_closing(m: Membership) -> bool:
    """The circle was closed or opened again: news for everyone in it, professionals
    too (they lose the place where they work with the family)."""
    return m.is_active


def asked_to_keep(m: Membership) -> bool:
    """Kring asks whether an idle circle is still needed, and hears who answered "keep
    it": the people who may close it (``can_close_circle``)."""
    return can_close_circle(m)


def access_sheet_of(circle: Circle, m: Membership, member_id: int) -> Membership:
    """The member whose sheet ``m`` prints: 404 if not of this circle, else 403 unless
    ``can_print_sheet_for``."""
    member = access_member(circle, member_id)
    require(can_print_sheet_for(m, member))
    return member


def can_print_sheet_for(m: Membership, member: Membership) -> bool:
    """The "what is happening" sheet a central person prints for a member without
    internet: the member's own commitments and the next meeting. Central persons only,
    for someone of the family's circle who is active in their own circle (not the
    coordinator, not a professional: they work online)."""
    return (
        m.is_active
        and m.role == Role.CENTRAL
        and member.circle_id == m.circle_id
        and member.is_active
        and member.role not in (Role.COORDINATOR, Role.PROFESSIONAL)
    )
