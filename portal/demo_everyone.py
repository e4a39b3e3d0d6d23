"""The demo's chapter for issue 14: everyone in the circle takes part.

Sam, the child the circle is about, has his own account in simple mode and a private
line with Karim, his supporter (nobody else can read it, the central persons included).
Great-grandpa Wim has no internet: Sanne added him, and he named her to answer for him.
"""

from __future__ import annotations

import secrets

from portal import demo_story as words
from portal.models import Circle, Membership, Role
from portal.services import accounts, lines, offline
from portal.services import circles as circle_svc


def add_everyone(circle: Circle, sanne: Membership, karim: Membership, language: str):
    """Add Sam (with his private line to Karim) and Great-grandpa Wim; return Sam's
    membership, so that the newcomer supporter's invitation can name him."""
    name = words.SAM[language]
    user = accounts.create_user(
        name=name,
        username=f"demo{circle.id}.sam",
        password=secrets.token_urlsafe(32),
        locale=language,
    )
    user.simple_mode = True
    _inv, token = circle_svc.invite(circle, sanne, name=name, role=Role.MEMBER)
    sam = circle_svc.redeem_invitation(token, user)
    lines.set_supports(circle, sanne, karim, sam.id)
    line = lines.line_between(karim, sam)
    by = {"sam": sam, "karim": karim}
    for who, text in words.LINE:
        lines.send_message(line, by[who], secrets.token_hex(8), text[language])
    wim = offline.add_offline_member(circle, sanne, name=words.OFFLINE[language], role=Role.MEMBER)
    offline.set_proxies(circle, sanne, wim, [sanne.id])
    return sam
