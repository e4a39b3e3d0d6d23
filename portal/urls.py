"""Where a page may send the browser next.

Every ``next`` (or other return target) a request carries goes through ``safe_next``:
it is kept only when it is a path on this site, and anything else falls back to a
default page. Nothing is stripped or repaired: a browser strips tabs and newlines from
a URL and reads a backslash as a slash, so ``/\\t/evil.example`` becomes
``//evil.example``, another host. A value with any such character is refused whole.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit


def _has_unsafe_character(value: str) -> bool:
    """Control characters, whitespace (ASCII or Unicode), backslashes and the Unicode
    "format" characters (direction overrides, zero-width) that can hide a host."""
    for ch in value:
        if ch == "\\" or ch.isspace() or not ch.isprintable():
            return True
        if unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp"):
            return True
    return False


def is_local_path(target: str | None) -> bool:
    """True when ``target`` is a path on this site (``/circles``, ``/c/3/chat?x=1``)."""
    if not target or len(target) > 2048:
        return False
    values = [target]
    while len(values) < 4 and unquote(values[-1]) != values[-1]:
        values.append(unquote(values[-1]))  # "%252F" is "%2F" once decoded, then "/"
    for value in values:
        # Only ASCII, even once decoded: a look-alike slash (U+2215, U+FF0F) or dot
        # could be read by some browser or proxy as the real one. Our paths are ASCII.
        if not value.isascii() or _has_unsafe_character(value):
            return False
        # "//host" and "/\host" are other hosts; "///host" too in some browsers.
        if not value.startswith("/") or value.startswith("//"):
            return False
    try:
        parts = urlsplit(target)
    except ValueError:
        return False
    return not parts.scheme and not parts.netloc and parts.path.startswith("/")


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a local path, else ``default``."""
    return target if is_local_path(target) else default
