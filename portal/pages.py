"""Pages that belong to no feature: the front page, the language switch, the probes."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user

from portal import readiness
from portal.extensions import db, limiter
from portal.forms import LanguageForm
from portal.urls import safe_next

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("circles.list_circles"))
    return render_template("pages/index.html")


def _remember_language(resp, lang: str) -> None:
    resp.set_cookie(
        "kring_lang",
        lang,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )


@bp.post("/language")
def set_language():
    """Anyone may switch the language; for a signed-in person it is saved."""
    form = LanguageForm()
    if not form.validate_on_submit():
        return redirect(url_for("pages.index"))
    lang = form.language.data
    if current_user.is_authenticated:
        current_user.locale = lang
        db.session.commit()
    resp = redirect(safe_next(request.form.get("next"), url_for("pages.index")))
    _remember_language(resp, lang)
    return resp


@bp.get("/vendor/socket.io.min.js")
def socketio_client():
    """The official socket.io-client, installed from npm by the setup step and served
    from our own origin (the CSP allows no other), never copied into the repository."""
    folder = Path(current_app.root_path).parent / "node_modules" / "socket.io-client" / "dist"
    return send_from_directory(folder, "socket.io.min.js", max_age=86400)


# The probes: no rate limit (a load balancer asks every few seconds from one address),
# no session, cookie or log line (portal.logs.QUIET_ENDPOINTS). They read nothing of the
# session, so Flask sets no cookie.
@bp.get("/healthz")
@limiter.exempt
def health():
    """The process answers."""
    return {"ok": True}


@bp.get("/readyz")
@limiter.exempt
def ready():
    """The process can serve people: 200 ``ok``, or 503 naming what fails (readiness.py)."""
    failed = readiness.failing()
    body, status = (" ".join(failed), 503) if failed else ("ok", 200)
    return Response(body, status=status, mimetype="text/plain")
