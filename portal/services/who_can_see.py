"""The page "Who can see what in this circle", generated from the rules (issue 13).

Nothing here is written per role. For each role the circle has, ``who_can_see`` makes a
stand-in membership (``Membership(role=..., status=active)``, never added to the
session) and asks the very ``portal.access`` functions that the routes and sockets
ask. Change a rule, or the circle's settings, and the page follows: it cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from portal import access
from portal.extensions import db
from portal.models import Circle, Membership, MembershipStatus, Role, SupportLine

# What one may do, as the page says it, and the rule that decides it. Looked up on the
# package at call time, so the page asks whatever rule is in force.
ABILITIES: tuple[tuple[object, Callable[[Membership], bool]], ...] = (
    (_l("see the plan, the meetings and who is in the circle"), lambda m: m.is_active),
    (_l("read and write in the chat"), lambda m: access.can_read_chat(m)),
    (_l("say yes or no to changes in the plan"), lambda m: access.can_vote(m)),
    (_l("write the plan before it is agreed"), lambda m: access.enters_plan_directly(m, False)),
    (_l("propose a change once the plan is agreed"), lambda m: access.can_change_plan(m, True)),
    (_l("take on commitments and tick them off"), lambda m: access.can_take_on_commitments(m)),
    (_l("tick off anyone's commitment and see calls for help"), lambda m: access.watches_plan(m)),
    (_l("plan follow-up meetings"), lambda m: access.can_organise_meetings(m)),
    (_l("invite people and remove them"), lambda m: access.can_manage(m)),
    (
        _l("decide whether professionals may read the chat"),
        lambda m: access.can_decide_professional_access(m),
    ),
    (_l("set conditions and accept the plan"), lambda m: access.can_set_conditions(m)),
    (_l("see everything in the access log"), lambda m: access.can_read_whole_access_log(m)),
    (_l("have what they open written in the access log"), lambda m: access.looks_are_recorded(m)),
)


@dataclass(frozen=True)
class RoleRights:
    role: Role
    can: list  # what this role may do (translated phrases)
    cannot: list
    with_flags: list  # more it may do as plan keeper or in the follow-up group


@dataclass(frozen=True)
class CircleRights:
    roles: list[RoleRights]
    chat_open_to_professionals: bool
    presence_on: bool
    email_names_count: int  # people who let email name this circle
    people: int  # active people in the circle
    professionals_recorded: bool
    # Issue 14: private lines whose pair stands now, and the roles (other than the two
    # people themselves) that could read one: none, by the rules.
    open_lines: int = 0
    line_read_by_others: list = ()


def stand_in(circle: Circle, role: Role, **flags) -> Membership:
    """A membership that exists only to be asked about: active, in ``circle``, with
    ``role``. ``circle`` is set without the relationship's events, so the circle's
    ``memberships`` do not gain it and the session never sees it."""
    m = Membership(
        role=role,
        status=MembershipStatus.ACTIVE,
        circle_id=circle.id,
        is_plan_keeper=flags.get("plan_keeper", False),
        in_followup_group=flags.get("followup", False),
    )
    set_committed_value(m, "circle", circle)
    return m


def _roles(circle: Circle) -> list[Role]:
    roles = [Role.CENTRAL, Role.MEMBER, Role.SUPPORTER, Role.PROFESSIONAL]
    return roles if circle.handed_over_at else [Role.COORDINATOR, *roles]


def who_can_see(circle: Circle) -> CircleRights:
    """What every role may see and do in ``circle`` now, asked of ``portal.access``."""
    roles = []
    for role in _roles(circle):
        plain = stand_in(circle, role)
        # The plan keeper and the follow-up group are chosen among those who may hold them.
        flags = access.can_hold_family_tasks(plain)
        flagged = stand_in(circle, role, plan_keeper=flags, followup=flags)
        mine = [(label, rule(plain), rule(flagged)) for label, rule in ABILITIES]
        roles.append(
            RoleRights(
                role=role,
                can=[label for label, yes, _f in mine if yes],
                cannot=[label for label, yes, _f in mine if not yes],
                with_flags=[label for label, yes, f in mine if f and not yes],
            )
        )
    active = Membership.circle_id == circle.id, Membership.status == MembershipStatus.ACTIVE
    people, named = db.session.execute(
        select(
            func.count(Membership.id), func.count(Membership.id).filter(Membership.email_names)
        ).where(*active)
    ).one()
    professional = stand_in(circle, Role.PROFESSIONAL)
    open_lines, others = _lines(circle)
    return CircleRights(
        roles=roles,
        chat_open_to_professionals=access.can_read_chat(professional),
        presence_on=circle.presence_enabled,
        email_names_count=named,
        people=people,
        professionals_recorded=access.looks_are_recorded(professional),
        open_lines=open_lines,
        line_read_by_others=others,
    )


def _lines(circle: Circle) -> tuple[int, list[Role]]:
    """How many private lines are open now, and which roles could read a line that is
    not theirs: a stand-in pair (a supporter supporting a member) asked of
    ``access.can_read_line`` for a stand-in of every role, plan keeper and follow-up
    group included."""
    supporter = stand_in(circle, Role.SUPPORTER)
    member = stand_in(circle, Role.MEMBER)
    supporter.id, member.id = -1, -2
    supporter.supports_id = member.id
    line = SupportLine(circle_id=circle.id, supporter_id=-1, member_id=-2)
    set_committed_value(line, "supporter", supporter)
    set_committed_value(line, "member", member)
    others = []
    for role in _roles(circle):
        for flags in (False, True):
            m = stand_in(circle, role, plan_keeper=flags, followup=flags)
            if access.can_read_line(m, line) and role not in others:
                others.append(role)
    lines = db.session.scalars(select(SupportLine).where(SupportLine.circle_id == circle.id)).all()
    open_lines = sum(1 for x in lines if access.pair_stands(x.supporter, x.member))
    return open_lines, others
