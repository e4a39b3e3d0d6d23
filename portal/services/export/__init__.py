"""Take everything with you (issue 13, docs/export.md): a ZIP with ``data.json`` (for a
machine) and ``index.html`` (for a person, opens offline, no script), written while it
is sent.

Nothing here holds a whole chat: the rows are read in keyset pages (``pages``), each
file is a generator of pieces (``writer``), and the ZIP (zipstream-ng) compresses the
pieces as the response is read. The generators read the database only when the
response is iterated, so they take ids, never objects loaded by the view.

``account_zip(user_id)`` is a person's own data (``account``); ``circle_zip(circle_id)``
is one circle, for its central persons (``circle``).
"""

from __future__ import annotations

from datetime import date

from zipstream import ZIP_DEFLATED, ZipStream

from portal.services.export.account import account_html, account_json
from portal.services.export.circle import circle_html, circle_json


def filename(today: date | None = None) -> str:
    return f"kring-export-{(today or date.today()).isoformat()}.zip"


def _zip(json_part, html_part) -> ZipStream:
    zs = ZipStream(compress_type=ZIP_DEFLATED)
    zs.add(json_part, "data.json")
    zs.add(html_part, "index.html")
    return zs


def account_zip(user_id: int) -> ZipStream:
    """The person's own export. Iterate it inside the request (stream_with_context)."""
    return _zip(account_json(user_id), account_html(user_id))


def circle_zip(circle_id: int) -> ZipStream:
    """The whole circle's export. Iterate it inside the request (stream_with_context)."""
    return _zip(circle_json(circle_id), circle_html(circle_id))
