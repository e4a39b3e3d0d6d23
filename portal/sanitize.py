"""The single place where user text becomes safe HTML.

User text is stored as the person typed it (minus control characters) and turned
into HTML only here: escaped first, then links made clickable by bleach, then line
breaks kept. Nothing a person types can become markup.
"""

from __future__ import annotations

import re
import unicodedata

import bleach
from bleach.linkifier import Linker
from markupsafe import Markup, escape

# Control characters, and the bidirectional overrides that can make text read
# differently from how it is stored ("RTL override" tricks). Ordinary right-to-left
# scripts (Arabic, Hebrew) need none of these and are untouched.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
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
    """What we store: NFC-normalised, without control or direction-override characters."""
    text = unicodedata.normalize("NFC", text or "")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE.sub("", text)


def render_text(text: str | None) -> Markup:
    """User text as HTML: escaped, links clickable, line breaks kept."""
    escaped = str(escape(clean_text(text)))
    linked = _linker.linkify(escaped)
    # bleach re-parses; clean again with a tiny allow-list as a second fence.
    safe = bleach.clean(
        linked,
        tags=["a"],
        attributes={"a": ["href", "rel", "target"]},
        protocols=_ALLOWED_PROTOCOLS,
        strip=True,
    )
    return Markup(safe.replace("\n", "<br>\n"))
