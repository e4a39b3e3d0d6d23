"""Error pages. The 404 is one fixed page: a circle that exists but is not yours and
one that does not exist must be indistinguishable, byte for byte."""

from __future__ import annotations

from flask import render_template
from flask_wtf.csrf import CSRFError

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
