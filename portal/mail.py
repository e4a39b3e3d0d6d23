"""Outgoing email. SMTP when MAIL_SERVER is set; otherwise one file per mail in
instance/outbox, so a developer can read it without any mail server. Mail bodies may
carry a secret link, so they are never written to the log.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

from flask import current_app


def send_mail(to: str, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    outbox = current_app.extensions.get("kring_outbox")
    if outbox is not None:  # tests
        outbox.append(msg)
        return
    cfg = current_app.config
    if cfg["MAIL_SERVER"]:
        with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10) as smtp:
            smtp.starttls()
            if cfg["MAIL_USERNAME"]:
                smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
            smtp.send_message(msg)
        return
    folder = Path(cfg["MAIL_OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    n = len(list(folder.glob("*.eml"))) + 1
    path = folder / f"{n:05d}.eml"
    path.write_bytes(bytes(msg))
    path.chmod(0o600)
