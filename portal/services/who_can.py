"""Never a silent absence (issue 14): where someone may not do something, the page
says who can, by name ("Ask Sanne or Tom, who keep the plan").

The people are found with the same ``portal.access`` rule that refuses the person, so
the page can never name someone the rule would refuse too. Views ask ``ask(...)`` and
hand the names to the template, which only words the sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from babel.lists import format_list
from flask_babel import get_locale

from portal import access
from portal.models import Circle, Membership


def who_can(circle: Circle, rule: Callable[[Membership], bool], *, but=None) -> list[Membership]:
    """The circle's active people for whom ``rule`` holds, by name; not ``but`` (the
    person asking), and not offline members (they cannot do it in Kring either)."""
    people = [
        m
        for m in circle.memberships
        if m.is_active and not m.offline and (but is None or m.id != but.id) and rule(m)
    ]
    return sorted(people, key=lambda m: m.display_name.casefold())


@dataclass(frozen=True)
class Names:
    """Whom to ask: their names joined ("Sanne or Tom"), and how many (for the plural
    of the sentence around them). Empty (false) when nobody else can."""

    text: str = ""
    count: int = 0

    def __bool__(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        return self.text


def or_names(people: list[Membership]) -> Names:
    """ "Sanne or Tom", "Anna, Piet, or Tom", in the page's language."""
    names = [m.display_name for m in people]
    if not names:
        return Names()
    return Names(format_list(names, style="or", locale=str(get_locale() or "en")), len(names))


def ask(circle: Circle, me: Membership, rule: Callable[[Membership], bool]) -> Names:
    """Whom to ask, or an empty ``Names`` when nobody else can."""
    return or_names(who_can(circle, rule, but=me))


def central_persons(circle: Circle, me: Membership) -> Names:
    """Who looks after the circle: its central persons."""
    return ask(circle, me, access.takes_over_circle)


def plan_watchers(circle: Circle, me: Membership) -> Names:
    """Who keeps the plan and may tick anyone's commitment: the central persons and
    the plan keepers (``access.can_tick`` for a commitment not their own)."""
    return ask(circle, me, access.watches_plan)


def plan_changers(circle: Circle, me: Membership, agreed: bool) -> Names:
    """Who may change the plan (a draft) or suggest a change (an agreed plan)."""
    return ask(circle, me, lambda m: access.can_change_plan(m, agreed))


def meeting_organisers(circle: Circle, me: Membership) -> Names:
    """Who may propose a follow-up meeting."""
    return ask(circle, me, access.can_organise_meetings)


def inviters(circle: Circle, me: Membership) -> Names:
    """Who may invite someone, remove someone or give them a task in the circle."""
    return ask(circle, me, access.can_manage)
