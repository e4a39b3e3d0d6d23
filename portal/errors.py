"""Error pages. The 404 is one fixed page: a circle that exists but is not yours and
one that does not exist must be indistinguishable, byte for byte."""

from __future__ import annotations

from urllib.parse import quote

from flask import g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import InternalServerError

from portal import storage
from portal.access import CircleClosed
from portal.services import Forbidden


def init_app(app) -> None:
    @app.errorhandler(404)
    def _not_found(_e):
        return render_template("errors/404.html"), 404

    @app.errorhandler(CircleClosed)
    def _closed(_e):
        return render_template("errors/closed.html"), 403

    @app.errorhandler(403)
    @app.errorhandler(Forbidden)
    def _forbidden(_e):
        return render_template("errors/403.html"), 403

    @app.errorhandler(CSRFError)
    def _csrf(e):
        app.logger.info("CSRF refused: %s", e.description)
        return render_template("errors/400.html"), 400

    @app.errorhandler(429)
    def _too_many(_e):
        return render_template("errors/429.html"), 429

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _storage(e):
        if not storage.unreachable(e):
            raise e  # a bug: Flask's 500, with its traceback in the log only
        storage.note(e, request.endpoint or "a request")
        return storage_away()

    @app.errorhandler(InternalServerError)
    def _server_error(e):
        # Raised in an after_request hook, the error reaches Flask as a 500.
        original = getattr(e, "original_exception", None)
        if original is not None and storage.unreachable(original):
            storage.note(original, request.endpoint or "a request")
            return storage_away()
        return e


def storage_away():
    """The 503 page while the database is out of reach. It must not need the database
    itself: the person is shown as signed out for this page (their name, menu and
    settings live in the database), so base.html reads nothing. A chat or line message
    posted with the form comes back in a box with its client id, so "Send again" after
    the outage stores it once, however many times it is pressed."""
    from flask_login import AnonymousUserMixin

    storage.let_go()
    g._login_user = AnonymousUserMixin()
    resend = None
    if request.method == "POST" and request.form.get("client_id") and "body" in request.form:
        resend = {
            "action": _this_path(),
            "client_id": request.form["client_id"],
            "body": request.form["body"],
        }
    response = app_render("errors/503.html", resend=resend, retry=_same_page())
    return response, 503, {"Retry-After": "30"}


def _same_page() -> str | None:
    """For a GET, "Try again" asks for the same address again (with its query). For a
    POST there is no address to ask again: the page goes back in the browser's history
    to the form, which keeps what was typed (Chromium does, though pages are no-store)."""
    if request.method != "GET":
        return None
    path = _this_path()
    query = request.query_string.decode("utf-8", "replace")
    return f"{path}?{query}" if query else path


def _this_path() -> str:
    """This request's path, for a link or a form's action on Kring's own site.

    "//host/..." or "/\\host/..." (browsers read a backslash as a slash) would leave
    Kring for another site. The path is written percent-encoded, as browsers send it:
    decoded, "/%09/host" would be "/<tab>/host", and a browser drops tabs and line
    breaks from a URL before reading it ("//host")."""
    return "/" + quote(request.path.lstrip("/\\"), safe=_PATH_SAFE)


# What a path may hold unencoded (RFC 3986 pchar and "/"); every other character,
# the backslash, tabs, line breaks, spaces and letters outside ASCII, goes as %XX.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


def app_render(template: str, **context):
    try:
        return render_template(template, **context)
    except Exception as e:  # noqa: BLE001 - last resort: plain words, still no traceback
        if not storage.unreachable(e):
            raise
        storage.let_go()
        return f"<!doctype html><title>Kring</title><p>{escape(_(AWAY))}</p>"


AWAY = "Kring is not working for a moment. Nothing you typed is lost; try again in a minute."
