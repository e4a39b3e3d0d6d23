"""Calendar files (RFC 5545) for meetings and personal feeds, built with `icalendar`,
and the secret feed links themselves.

Entries carry no sensitive content by default: the summary is "Kring meeting" and
the description is only a link. A person may choose to see the circle's title in their
feed. A single meeting's file comes in two kinds, and the person picks one as they
download it: without details (the neutral entry, whatever the feed's setting) or with
the details (the meeting's title, place, purpose and video link), for a calendar only
they look at.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, url_for
from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy import select

from portal.extensions import db
from portal.models import CalendarFeed, Circle, Meeting, User
from portal.models.types import utcnow
from portal.services import accounts
from portal.tokens import hash_token, new_token


def _calendar() -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Kring//Follow-up meetings//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    return cal


def _event(
    meeting: Meeting, circle: Circle, show_title: bool, details: bool = False
) -> Event | None:
    if meeting.starts_at is None:
        return None
    ev = Event()
    host = current_app.config["BASE_URL"].split("://", 1)[-1].split("/", 1)[0]
    ev.add("uid", f"meeting-{meeting.uid}@{host}")
    ev.add("sequence", meeting.sequence)
    ev.add("dtstamp", utcnow())
    ev.add("last-modified", meeting.updated_at)
    ev.add("dtstart", meeting.starts_at)
    ev.add("dtend", meeting.starts_at + timedelta(minutes=meeting.duration_minutes))
    link = current_app.config["BASE_URL"] + url_for(
        "meetings.show", circle_id=circle.id, meeting_id=meeting.id
    )
    if details:
        ev.add("summary", meeting.title)
        if meeting.place:
            ev.add("location", meeting.place)
        elif meeting.video_link:
            ev.add("location", meeting.video_link)
        ev.add("description", _describe(meeting, link))
    else:
        if show_title:
            summary = _("Kring meeting: %(title)s", title=circle.title)
        else:
            summary = _("Kring meeting")
        ev.add("summary", summary)
        ev.add("description", link)
    ev.add("url", link)
    ev.add("status", "CANCELLED" if meeting.status == "cancelled" else "CONFIRMED")
    return ev


def _describe(meeting: Meeting, link: str) -> str:
    """The purpose, the video call and the link back, one paragraph each."""
    parts = [meeting.purpose.strip()] if meeting.purpose and meeting.purpose.strip() else []
    if meeting.video_link:
        parts.append(_("Video call: %(link)s", link=meeting.video_link))
    parts.append(_("See it in Kring: %(link)s", link=link))
    return "\n\n".join(parts)


def meeting_ics(meeting: Meeting, circle: Circle, *, details: bool = False) -> bytes:
    """One meeting as a file to open in a calendar: the neutral entry, or (``details``)
    the meeting's own title, place and purpose."""
    cal = _calendar()
    ev = _event(meeting, circle, show_title=False, details=details)
    if ev is not None:
        cal.add_component(ev)
    return cal.to_ical()


def feed_ics(rows: list[tuple[Meeting, Circle]], show_titles: bool) -> bytes:
    cal = _calendar()
    cal.add("x-wr-calname", _("Kring meetings"))
    for meeting, circle in rows:
        ev = _event(meeting, circle, show_titles)
        if ev is not None:
            cal.add_component(ev)
    return cal.to_ical()


# --- Calendar feeds --------------------------------------------------------------------


def current_feed(user: User) -> CalendarFeed | None:
    return db.session.scalar(
        select(CalendarFeed)
        .where(CalendarFeed.user_id == user.id, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.id.desc())
        .limit(1)
    )


def renew_feed(user: User, show_titles: bool | None = None) -> str:
    """A new secret feed URL; the old one stops working at once. Returns the token."""
    old = current_feed(user)
    keep_titles = old.show_titles if old else False
    accounts.revoke_calendar_feeds(user)
    token, digest = new_token()
    db.session.add(
        CalendarFeed(
            user_id=user.id,
            token_hash=digest,
            show_titles=keep_titles if show_titles is None else show_titles,
        )
    )
    db.session.flush()
    return token


def revoke_feed(user: User) -> None:
    accounts.revoke_calendar_feeds(user)


def feed_for_token(token: str) -> CalendarFeed | None:
    feed = db.session.scalar(
        select(CalendarFeed).where(CalendarFeed.token_hash == hash_token(token))
    )
    if feed is None or feed.revoked_at is not None:
        return None
    return feed
