"""Language and time zone for each request, and the filters templates use for times."""

from __future__ import annotations

from datetime import UTC, datetime

from babel.dates import get_day_names
from flask import current_app, g, has_request_context, request
from flask_babel import format_date, format_datetime, get_locale, get_timezone
from flask_login import current_user

from portal.models.types import utcnow


def select_locale() -> str | None:
    """The person's own language first; the circle's language only as a last guess.

    In order: the language a signed-in person chose (on /account or with the language
    buttons; by default the one they joined in), the language chosen on this browser
    (the buttons set a cookie), the browser's Accept-Language, and only then the
    language of the circle being shown (on its invitation page too). A circle's
    language never overrides a person's: a Dutch-speaking grandmother in a French
    circle keeps Dutch.
    """
    if current_user and current_user.is_authenticated and current_user.locale:
        return current_user.locale
    if not has_request_context():  # the command line: messages in the default language
        return None
    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get("kring_lang")
    if chosen in languages:
        return chosen
    browser = request.accept_languages.best_match(languages)
    if browser:
        return browser
    circle_language = g.get("circle_language") or getattr(g.get("circle"), "language", None)
    return circle_language if circle_language in languages else None


def joining_locale() -> str:
    """The language the join page was shown in: the new account keeps it."""
    return str(get_locale())


def select_timezone() -> str | None:
    """The person's own zone, else the circle's being shown, else the default."""
    if current_user and current_user.is_authenticated and current_user.timezone:
        return current_user.timezone
    circle = g.get("circle")
    if circle is not None:
        return circle.timezone
    return None


def init_app(app) -> None:
    @app.context_processor
    def _locale():
        return {"get_locale": get_locale, "now": utcnow(), "timezone": str(get_timezone())}

    @app.template_filter("when")
    def _when(value: datetime | None, fmt: str = "d MMM y, HH:mm") -> str:
        """Day, month name and 24-hour time: "23 Nov 2026, 14:05", never 11/23/26."""
        return format_datetime(value, fmt) if value else ""

    @app.template_filter("when_long")
    def _when_long(value: datetime | None) -> str:
        """With the weekday, for choosing a meeting: "Saturday 5 December 2026, 19:30"."""
        return format_datetime(value, "EEEE d MMMM y, HH:mm") if value else ""

    @app.template_filter("when_in")
    def _when_in(value: datetime | None, tz_name: str) -> str:
        """For pages spanning circles: the time in this zone, with the zone named."""
        if not value:
            return ""
        from zoneinfo import ZoneInfo

        local = value.astimezone(ZoneInfo(tz_name))
        return f"{format_datetime(local, 'EEEE d MMMM y, HH:mm', rebase=False)} ({tz_name})"

    @app.template_filter("iso")
    def _iso(value: datetime | None) -> str:
        """For ``<time datetime>``: UTC to the second, "2026-11-23T13:05:09Z" (the HTML
        standard allows at most three decimals; our times carry six)."""
        if not value:
            return ""
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

    @app.template_filter("day")
    def _day(value: datetime | None) -> str:
        return format_date(value, "d MMMM y") if value else ""


def weekday_names(context: str = "format") -> list[str]:
    """Monday to Sunday in the person's language, as Babel (CLDR) writes them.
    ``context`` is "format" inside a sentence, "stand-alone" for a label on its own."""
    names = get_day_names("wide", context, locale=get_locale())
    return [names[i] for i in range(7)]
