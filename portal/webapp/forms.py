from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField

from portal.ids import IdField


class DeviceForm(FlaskForm):
    """What ``static/js/push.js`` posts: the browser's push subscription (checked by
    ``services.devices``, which knows what a good one looks like)."""

    endpoint = HiddenField()
    p256dh = HiddenField()
    auth = HiddenField()

    def subscription(self) -> dict:
        return {"endpoint": self.endpoint.data, "p256dh": self.p256dh.data, "auth": self.auth.data}


class RemoveDeviceForm(FlaskForm):
    device = IdField()
