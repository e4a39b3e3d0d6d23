"""What a notification email says, in both its parts (``templates/email/notice.*``):
kinds and counts, never message text, commitment or circle titles or names, unless
the person opted in per circle (``Membership.email_names``) to see circle titles.
The run (``portal.notifier``) decides who gets which email; this module only writes it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.lists import format_list
from flask import current_app, render_template, url_for
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from portal.models import (
    Membership,
    Notification,
    User,
)
from portal.models.notifications import NEWS_KINDS
from portal.services.unsubscribe import make_token


@dataclass
class Person:
    user: User
    tz: ZoneInfo
    locale: str
    circles: dict[int, Membership]  # circle id -> active, not muted membership
    off: set[str] = field(default_factory=set)  # email kinds switched off
    since: datetime | None = None  # the last digest (or the account's making)


@dataclass
class Reminder:
    person: Person
    kind: str  # remind_due | remind_meeting | remind_poll
    slot: str
    circle_id: int
    key: str
    when: datetime | date | None = None


# --- What the email says ------------------------------------------------------------------


def _phrase(kind: str, num: int) -> str:
    """ "5 new messages": what kind of news and how many, never what it says."""
    phrases = {
        "mention": lambda: ngettext("%(num)d mention of you", "%(num)d mentions of you", num),
        "messages": lambda: ngettext("%(num)d new message", "%(num)d new messages", num),
        "line": lambda: ngettext(
            "%(num)d new message on your private line",
            "%(num)d new messages on your private line",
            num,
        ),
        "due": lambda: ngettext(
            "%(num)d thing to do that is due", "%(num)d things to do that are due", num
        ),
        "missed": lambda: ngettext("%(num)d missed turn", "%(num)d missed turns", num),
        "help": lambda: ngettext("%(num)d call for help", "%(num)d calls for help", num),
        "needs_person": lambda: ngettext(
            "%(num)d commitment that needs a new person",
            "%(num)d commitments that need a new person",
            num,
        ),
        "consent": lambda: ngettext("%(num)d question for you", "%(num)d questions for you", num),
        "decided": lambda: ngettext("%(num)d decision", "%(num)d decisions", num),
        "poll": lambda: ngettext(
            "%(num)d meeting to choose a date for", "%(num)d meetings to choose a date for", num
        ),
        "meeting": lambda: ngettext(
            "%(num)d change to a meeting", "%(num)d changes to meetings", num
        ),
        "people": lambda: ngettext(
            "%(num)d change in who is in the circle",
            "%(num)d changes in who is in the circle",
            num,
        ),
        "closing": lambda: ngettext(
            "%(num)d change about closing a circle",
            "%(num)d changes about closing a circle",
            num,
        ),
        "acted_for": lambda: ngettext(
            "%(num)d answer someone gave for you", "%(num)d answers someone gave for you", num
        ),
    }
    return phrases[kind]()


def _counted(lines: list[Notification], locale: str) -> tuple[str, int]:
    """The lines as one counted list ("5 new messages and 1 question for you") and the
    first number (for "There is" / "There are")."""
    counts: dict[str, int] = defaultdict(int)
    for n in lines:
        counts[n.kind] += n.count if n.kind in ("messages", "line") else 1
    kinds = [k for k in NEWS_KINDS if counts[k]]
    text = format_list([_phrase(k, counts[k]) for k in kinds], locale=locale)
    return text, counts[kinds[0]]


def news_context(p: Person, lines: list[Notification]) -> dict:
    """Digest and direct calls: the total as the title; per circle only where the
    person opted in to names there, the rest together."""
    text, first = _counted(lines, p.locale)
    title = ngettext(
        "There is %(list)s in Kring.", "There are %(list)s in Kring.", first, list=text
    )
    named = defaultdict(list)
    for n in lines:
        m = p.circles.get(n.circle_id)
        named[m.circle.title if m is not None and m.email_names else None].append(n)
    sections = []
    if any(k is not None for k in named):
        for heading in sorted((k for k in named if k is not None), key=str.casefold):
            sections.append((heading, _counted(named[heading], p.locale)[0]))
        if None in named:
            sections.append((_("Your other circles"), _counted(named[None], p.locale)[0]))
    return {
        "title": title,
        "sections": sections,
        "button": _("Open Kring"),
        "link": current_app.config["BASE_URL"] + "/notifications",
    }


def _reminder_title(r: Reminder, p: Person) -> str:
    when = r.when
    if r.kind == "remind_due":
        if r.slot == "missed":
            day = format_date(when, "EEEE d MMMM", locale=p.locale)
            return _("Something you do regularly was not ticked off on %(day)s.", day=day)
        if r.slot == "tomorrow":
            return _("Something you said you would do is due tomorrow.")
        return _("Something you said you would do is due today.")
    long = format_datetime(when, "EEEE d MMMM, HH:mm", tzinfo=p.tz, locale=p.locale) if when else ""
    if r.kind == "remind_meeting":
        if r.slot == "soon":
            time = format_datetime(when, "HH:mm", tzinfo=p.tz, locale=p.locale)
            return _("Your meeting starts soon, at %(time)s.", time=time)
        return _("You have a meeting on %(when)s.", when=long)
    if r.slot == "closing":
        return _("Choosing a date for a meeting closes on %(when)s.", when=long)
    return _("Please choose the dates that suit you for a meeting.")


def reminder_context(r: Reminder) -> dict:
    p = r.person
    m = p.circles[r.circle_id]
    endpoint = "plan.mine" if r.kind == "remind_due" else "meetings.mine"
    title = _reminder_title(r, p)
    sections = [(m.circle.title, "")] if m.email_names else []
    return {
        "title": title,
        "sections": sections,
        "button": _("Open Kring"),
        "link": current_app.config["BASE_URL"] + url_for(endpoint),
    }


def compose(p: Person, kind: str, key: str, now: datetime, context_of) -> dict:
    """One outbox row: subject, plain text and HTML in the person's language, with
    Content-Language and the one-click unsubscribe headers (RFC 8058)."""
    base = current_app.config["BASE_URL"]
    stop = base + url_for("unsubscribe.one_click", token=make_token(p.user.id, kind))
    with force_locale(p.locale):
        context = context_of() | {
            "lang": p.locale,
            "kind": kind,
            "unsubscribe_url": stop,
            "settings_url": base + url_for("auth.account"),
        }
        subject = str(context["title"]).rstrip(".")
        text = render_template("email/notice.txt", **context)
        html = render_template("email/notice.html", **context)
    return {
        "to": p.user.email,
        "subject": subject[:200],
        "body": text,
        "html": html,
        "headers": {
            "Content-Language": p.locale,
            "List-Unsubscribe": f"<{stop}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        "dedupe_key": key,
        "kind": None,
        "notice": True,
        "created_at": now,
    }
