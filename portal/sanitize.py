"""The single place where user text becomes safe HTML.

User text is stored as the person typed it (minus control characters) and turned
into HTML only here: escaped first, then links made clickable by bleach, then line
breaks kept. Nothing a person types can become markup.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import bleach
from bleach.linkifier import URL_RE, Linker
from markupsafe import Markup, escape

# What no stored text keeps:
# - control characters (C0 but tab and newline, DEL, C1), NUL among them, which
#   PostgreSQL refuses in text;
# - the bidirectional controls that make text read differently from how it is stored
#   ("RTL override" tricks: a name that reads backwards, a file name that lies);
#   ordinary right-to-left scripts (Arabic, Hebrew) need none of them;
# - invisible format characters that hide text or make two names look the same (zero
#   width space, word joiner, soft hyphen, byte order mark, invisible operators).
#   The zero width joiner and non-joiner stay: emoji and some scripts need them.
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_INVISIBLE = "\u00ad\u180e\u200b\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb\U000e0001"
_UNSAFE = re.compile(f"[{_CONTROLS}{_BIDI}{_INVISIBLE}]")
_NEWLINES = re.compile("\r\n|[\r\u2028\u2029]")
_ALLOWED_PROTOCOLS = ["http", "https", "mailto"]


def _link_attrs(attrs, new=False):
    href = attrs.get((None, "href"), "")
    if not href.startswith(("http://", "https://", "mailto:")):
        return None  # drop the link, keep the text
    attrs[(None, "rel")] = "nofollow noopener noreferrer"
    attrs[(None, "target")] = "_blank"
    return attrs


_linker = Linker(callbacks=[_link_attrs], parse_email=False)


def clean_text(text: str | None) -> str:
    """Multi-line text as we store it (chat, descriptions, notes, reasons): NFC, line
    breaks as "\\n", without control, direction-override or invisible characters."""
    text = unicodedata.normalize("NFC", text or "")
    return _UNSAFE.sub("", _NEWLINES.sub("\n", text))


def clean_line(text: str | None, limit: int) -> str:
    """A name or other one-line field as we store it: like ``clean_text``, then every
    run of white space (line breaks included) becomes one space, trimmed, and cut to
    ``limit`` characters. Every person-entered name and title goes through here."""
    text = " ".join(clean_text(text).split())
    return text[:limit].rstrip()


def render_text(text: str | None, mentions: Iterable[str] | None = None) -> Markup:
    """User text as HTML: escaped, links clickable, line breaks kept. With
    ``mentions`` (usernames), each ``@username`` of theirs outside a link is
    highlighted (a chat message)."""
    cleaned = clean_text(text)
    escaped = str(escape(cleaned))
    if URL_RE.search(cleaned) is None:
        # Nothing linkify would make a link of (it looks for this very pattern): bleach
        # would only parse the escaped text and write it out unchanged, at about 1 ms a
        # text (most of the chat page's time). tests/test_xss.py compares both paths.
        safe = escaped
    else:
        linked = _linker.linkify(escaped)
        # bleach re-parses; clean again with a tiny allow-list as a second fence.
        safe = bleach.clean(
            linked,
            tags=["a"],
            attributes={"a": ["href", "rel", "target"]},
            protocols=_ALLOWED_PROTOCOLS,
            strip=True,
        )
    if mentions:
        safe = _highlight_mentions(safe, frozenset(mentions))
    return Markup(safe.replace("\n", "<br>\n"))


# "@sanne": a username (see services.accounts.USERNAME_RE), not part of an address or a
# longer word ("sanne@example.org", "a@@b"). One pattern for what notifies
# (services.notifications.mentioned) and what is highlighted here; static/js/chat.js
# has its copy.
MENTION_RE = re.compile(r"(?<![\w@.])@([a-z0-9][a-z0-9._-]{2,39})", re.IGNORECASE)
_LINK = re.compile(r"(<a\s[^>]*>.*?</a>)", re.DOTALL)


def _highlight_mentions(html: str, usernames: frozenset[str]) -> str:
    """Wrap each known ``@username`` in the escaped, linkified text (never inside a
    link: "https://example.org/@sanne" stays one link) in <strong class="mention">.
    The name is one of the circle's usernames, letters, digits and ._- only."""

    def mark(match: re.Match) -> str:
        name = match.group(1).lower()
        for candidate in (name, name.rstrip("._-")):
            if candidate in usernames:
                text, cut = match.group(0), len(candidate) + 1
                return f'<strong class="mention">{text[:cut]}</strong>{text[cut:]}'
        return match.group(0)

    parts = _LINK.split(html)
    return "".join(p if i % 2 else MENTION_RE.sub(mark, p) for i, p in enumerate(parts))
