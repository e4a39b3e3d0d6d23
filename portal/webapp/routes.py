"""The manifest, the service worker (served from the root, so it may control "/"),
and adding or removing a device for push."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.access import access_device
from portal.extensions import db
from portal.services import ServiceError
from portal.services import devices as svc
from portal.views import act
from portal.webapp.forms import DeviceForm, RemoveDeviceForm

bp = Blueprint("webapp", __name__)

THEME = "#1d5c4d"  # --brand in static/css/kring.css
PAPER = "#fbfaf7"  # --paper


def _icon(name: str) -> str:
    return url_for("static", filename=f"icons/{name}")


@bp.get("/manifest.webmanifest")
def manifest():
    """Public (browsers fetch it without cookies): the same for everyone."""
    body = jsonify(
        {
            "id": "/",
            "name": "Kring",
            "short_name": "Kring",
            "start_url": "/",
            "scope": "/",
            "display": "standalone",
            "theme_color": THEME,
            "background_color": PAPER,
            "icons": [
                {"src": _icon("icon-192.png"), "sizes": "192x192", "type": "image/png"},
                {"src": _icon("icon-512.png"), "sizes": "512x512", "type": "image/png"},
                {"src": _icon("kring.svg"), "sizes": "any", "type": "image/svg+xml"},
                {
                    "src": _icon("icon-512.png"),
                    "sizes": "512x512",
                    "type": "image/png",
                    "purpose": "maskable",
                },
            ],
        }
    )
    body.mimetype = "application/manifest+json"
    return body


@bp.get("/sw.js")
def service_worker():
    """The worker's file lives in static/js; served here so its scope is the whole site.
    It shows "News in Kring" and nothing else, and caches nothing (see the file)."""
    folder = current_app.static_folder + "/js"
    resp = send_from_directory(folder, "sw.js", mimetype="text/javascript", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.post("/account/devices")
@login_required
def add_device():
    """Called by static/js/push.js with the browser's subscription; answers JSON."""
    form = DeviceForm()
    if not form.validate_on_submit():
        return jsonify({"ok": False, "message": _("Please reload the page and try again.")}), 400
    try:
        svc.add_device(
            current_user._get_current_object(),
            **form.subscription(),
            user_agent=request.headers.get("User-Agent"),
        )
    except ServiceError as e:
        db.session.rollback()
        return jsonify({"ok": False, "message": str(e.message)}), 400
    db.session.commit()
    # Shown when push.js reloads the page, above the list that now holds this device.
    flash(_("This device will now tell you when there is news."), "success")
    return jsonify({"ok": True}), 201


@bp.post("/account/devices/remove")
@login_required
def remove_device():
    form = RemoveDeviceForm()
    if not form.validate_on_submit():
        return redirect(url_for("auth.account", _anchor="devices"))
    device = access_device(current_user, form.device.data)
    return act(
        lambda: svc.remove_device(device),
        to=url_for("auth.account", _anchor="devices"),
        success=_("This device no longer gets news from Kring."),
    )
