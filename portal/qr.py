"""QR codes drawn on the server as inline SVG (segno): no image request, no script, and
nothing of the link leaves the server except inside the page that shows it."""

from __future__ import annotations

import segno
from markupsafe import Markup


def qr_svg(text: str) -> Markup:
    """``text`` (a link) as an SVG QR code, sized by CSS (medium error correction, so a
    slightly creased printout still scans)."""
    return Markup(segno.make(text, error="m").svg_inline(scale=5, dark="#1b1b1b", omitsize=True))


def webcal(url: str) -> str:
    """The "subscribe" form of a calendar feed's http(s) link: calendar apps open
    ``webcal://`` links as a subscription rather than a one-off download."""
    return "webcal://" + url.split("://", 1)[-1]
