"""Writing the two files in pieces: JSON whose long lists are generators, HTML from a
Jinja template rendered as it goes, both handed on as bytes in blocks of ~64 KiB."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from babel.dates import format_date
from flask import current_app
from flask_babel import get_locale, get_timezone
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import Select

from portal.extensions import db

BLOCK = 64 * 1024
PAGE = 500  # rows per query


class Items:
    """A JSON list written item by item: ``items`` is read only while it is written."""

    def __init__(self, items: Iterable[Any]):
        self.items = items


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value else None


def _pieces(value: Any, indent: str) -> Iterator[str]:
    inner = indent + "  "
    if isinstance(value, Items):
        yield "["
        first = True
        for item in value.items:
            yield ("\n" if first else ",\n") + inner
            yield _encode(item)
            first = False
        yield "]" if first else "\n" + indent + "]"
    elif isinstance(value, dict) and any(isinstance(v, (Items, dict)) for v in value.values()):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("\n" if i == 0 else ",\n") + inner + json.dumps(key) + ": "
            yield from _pieces(item, inner)
        yield "\n" + indent + "}"
    else:
        yield _encode(value)


# json.dumps(..., ensure_ascii=False) makes a new encoder for every call: one per item.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def json_bytes(make_doc: Callable[[], dict]) -> Iterator[bytes]:
    """``make_doc()`` (called when the file is reached) as JSON: small parts at once,
    ``Items`` one item at a time."""
    yield from blocks(_pieces(make_doc(), ""))
    yield b"\n"


def html_bytes(template: str, make_context: Callable[[], dict]) -> Iterator[bytes]:
    """A Jinja template rendered piece by piece (``Template.generate``): a ``for`` over a
    generator in the template reads it as it writes."""
    app = current_app._get_current_object()
    context = make_context()
    at = moments()
    context.update(
        at=at, message=message_html(at), answer_word=_answer_word, verdict_word=_verdict_word
    )
    app.update_template_context(context)
    yield from blocks(app.jinja_env.get_template(template).generate(context))


def moments() -> Callable[[str | None], str]:
    """``at(iso)``: an ISO time from the data as the pages write it ("23 Nov 2026,
    14:05"), what ``flask_babel.format_datetime(moment, "d MMM y, HH:mm")`` gives, in
    the request's locale and time zone.

    An export writes one per message (20,000 in a big circle), and Babel's formatting
    was a third of the download's time. Here the time zone is looked up once, and Babel
    formats each local day once; the hour and minute are digits."""
    tz, locale = get_timezone(), get_locale()
    normalize = getattr(tz, "normalize", None)  # pytz zones, as flask_babel gives
    days: dict[date, str] = {}

    def at(value: str | None) -> str:
        if not value:
            return ""
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(tz)
        if normalize:
            local = normalize(local)
        day = days.get(local.date())
        if day is None:
            day = days[local.date()] = format_date(local, "d MMM y", locale=locale)
        return f"{day}, {local.hour:02d}:{local.minute:02d}"

    return at


def message_html(at: Callable[[str | None], str]) -> Callable[..., Markup]:
    """``message(m, show_circle=None)``: one chat or line message of index.html.

    Written here rather than as a Jinja macro: an export writes one per message (20,000
    in a big circle), and the macro call with its attribute lookups cost ~20 us each,
    most of the page. The words are translated once per export; every value is
    escaped as the template's autoescape would. Texts are escaped and shown with their
    line breaks, without making links (linkifying thousands would take most of the
    time).

    A private line's messages (``rows.line_messages``) have no ``edited_at``,
    ``removed_by`` or ``earlier_versions``: a line message is never edited. A missing
    key reads as the macro's undefined did, as not there."""
    # As Jinja's i18n does with autoescape: the translation is markup, its values not.
    changed = " · " + Markup(_("changed")) % {}
    removed = Markup(_("This message was removed.")) % {}
    earlier = Markup(_("Earlier versions")) % {}

    def message(m: dict, show_circle: str | None = None) -> Markup:
        meta = (
            f'<article class="message">\n  <p class="meta"><strong>{escape(m["from"])}</strong>'
            f' · <time datetime="{escape(m["written_at"])}">{escape(at(m["written_at"]))}</time>'
        )
        parts = [meta]
        if show_circle:
            parts.append(f" · {escape(show_circle)}")
        if m.get("edited_at"):
            parts.append(changed)
        parts.append("</p>\n  ")
        if m.get("removed_at"):
            if m.get("removed_by"):
                gone = Markup(_("Removed by %(name)s.")) % {"name": m["removed_by"]}
            else:
                gone = removed
            parts.append(f'<p class="muted">{gone}</p>\n  ')
        else:
            parts.append(f'<p class="text">{escape(m["text"])}</p>')
        parts.append("\n  ")
        if m.get("earlier_versions"):
            parts.append(f"<details><summary>{earlier}</summary>\n    ")
            for e in m["earlier_versions"]:
                parts.append(
                    f'<p class="muted">{escape(at(e["written_at"]))}</p>'
                    f'<p class="text earlier">{escape(e["text"])}</p>'
                )
            parts.append("\n  </details>")
        parts.append("\n</article>")
        return Markup("".join(parts))

    return message


def _answer_word(answer: str) -> str:
    return {"yes": _("Yes"), "maybe": _("If need be"), "no": _("No")}.get(answer, answer)


def _verdict_word(verdict: str) -> str:
    words = {"working": _("Working"), "partly": _("Partly working")}
    return words.get(verdict, _("Not working"))


def blocks(pieces: Iterable[str]) -> Iterator[bytes]:
    buffer: list[bytes] = []
    size = 0
    for piece in pieces:
        data = piece.encode()
        buffer.append(data)
        size += len(data)
        if size >= BLOCK:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def pages(query: Select, key, page: int = PAGE) -> Iterator[list]:
    """The rows of ``query`` (columns, not objects: nothing stays in the session) in
    pages of ``page``, by keyset on the unique ``key`` column, which must be selected
    under the name ``key.key``."""
    last = None
    name = key.key
    while True:
        q = query.order_by(key).limit(page)
        if last is not None:
            q = q.where(key > last)
        rows = db.session.execute(q).all()
        if not rows:
            return
        yield rows
        if len(rows) < page:
            return
        last = getattr(rows[-1], name)
