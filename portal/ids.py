"""What counts as an id, for every id a person can type: in a URL, a form or a socket.

Database ids are signed 64-bit integers (PostgreSQL BIGINT, SQLite INTEGER). A number
outside 1..2^63-1 cannot name anything, and handing it to the database raises an
overflow error deep in the driver (a 500). So such a number is treated exactly like an
id that does not exist: the URL does not match (the normal 404), a socket event gets
the same "not_found" answer as for a missing circle.
"""

from __future__ import annotations

from werkzeug.routing import IntegerConverter
from wtforms import IntegerField

MAX_ID = 2**63 - 1


def is_id(value: object) -> bool:
    """A real int (not a bool) that could be a database id."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def as_id(value: object) -> int | None:
    """An id from a form or query string value (``"12"``), else None."""
    if isinstance(value, str):
        value = value.strip()
        if not value.isascii() or not value.isdigit() or len(value) > 19:
            return None
        value = int(value)
    return value if is_id(value) else None


def coerce_id(value: object) -> int:
    """``coerce=`` for form fields that choose people or things by id.

    Parses like ``int`` (a ValueError stays a form error); a number that cannot be an
    id becomes -1, which names nothing, so it is refused like any missing id. 0 stays
    0: some selects use it for "nobody".
    """
    number = int(value)
    return number if 0 <= number <= MAX_ID else -1


def query_int(value: str) -> int:
    """``type=`` for ``request.args.get``: a whole number in 0..2^63-1, else the
    default (werkzeug turns the ValueError into the default)."""
    number = int(value)
    if not 0 <= number <= MAX_ID:
        raise ValueError(value)
    return number


class IdField(IntegerField):
    """An IntegerField holding an id or a number looked up in the database: a number
    that cannot be one becomes -1 (see ``coerce_id``), so it is not found, as usual."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if isinstance(self.data, int):
            self.data = coerce_id(self.data)


def _at_most(limit: int) -> str:
    """A regex for the numbers 1..limit written without leading zeros.

    The bound must be in the pattern itself, not only in ``to_python``: werkzeug
    matches a path against the GET rule and the POST rule of the same URL, and a value
    refused only after matching turns the answer into a 405 instead of a 404.
    """
    digits = str(limit)
    parts = [rf"[1-9]\d{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(d) > low:
            rest = len(digits) - i - 1
            tail = rf"\d{{{rest}}}" if rest else ""
            parts.append(f"{digits[:i]}[{low}-{int(d) - 1}]{tail}")
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class IdConverter(IntegerConverter):
    """The app's ``int`` URL converter: only 1..2^63-1 match; anything else is a 404."""

    regex = _at_most(MAX_ID)

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
        self.regex = _at_most(MAX_ID)


MAX_PAGE = 1_000_000


def query_page(value: str) -> int:
    """``type=`` for ``?page=``: a page number whose offset the database can hold (a
    page near 2^63 would overflow it: a 500), else the default, page 1."""
    number = query_int(value)
    if number > MAX_PAGE:
        raise ValueError(value)
    return number
