"""One-click unsubscribe from notification email (RFC 8058), without signing in.

``GET /email/stop/<token>`` shows what the link would stop, with a button, and changes
nothing (mail scanners open links). ``POST`` to the same address stops that kind of
email for the person the signed token names, and answers 200 with a short page: no
redirect, no cookie needed or set, no CSRF token (a mail client's one-click POST has
none; the signed token is what proves the request comes from the mailbox). Only this
POST is exempt from CSRF. Both pages speak the person's own language.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_babel import force_locale

from portal.extensions import csrf, db
from portal.services import unsubscribe as svc

bp = Blueprint("unsubscribe", __name__)


def _person(token: str):
    found = svc.read_token(token)
    if found is None:
        abort(404)
    return found


def _page(template: str, user, kind: str, token: str):
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        return render_template(template, kind=kind, token=token, minimal=True)


@bp.get("/email/stop/<token>")
def confirm(token: str):
    user, kind = _person(token)
    return _page("unsubscribe/confirm.html", user, kind, token)


@bp.post("/email/stop/<token>")
@csrf.exempt
def one_click(token: str):
    user, kind = _person(token)
    svc.switch_off(user, kind)
    db.session.commit()
    return _page("unsubscribe/done.html", user, kind, token)
