"""The person's news: the list (/notifications), "mark all as read", and saving the
news settings shown on /account. Everything here is about the signed-in person only:
no URL or form names another person or a line of theirs."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.forms import ConfirmForm
from portal.ids import query_page
from portal.news.forms import NewsSettingsForm
from portal.news.links import link_for
from portal.services import news_settings
from portal.services import notifications as svc
from portal.views import act, run

bp = Blueprint("news", __name__)


@bp.get("/notifications")
@login_required
def index():
    page = svc.news_page(current_user.id, request.args.get("page", 1, type=query_page))
    seqs = svc.message_seqs(n.ref_id for n in page.items if n.kind == "mention" and n.ref_id)
    lines = [(n, link_for(n, seqs)) for n in page.items]
    return render_template("news/index.html", page=page, lines=lines, confirm=ConfirmForm())


@bp.post("/notifications/read")
@login_required
def mark_all_read():
    to = url_for("news.index")
    if not ConfirmForm().validate_on_submit():
        return redirect(to)
    return act(
        lambda: svc.mark_read(current_user.id), to, success=_("All your news is marked as read.")
    )


@bp.post("/account/news")
@login_required
def save_settings():
    user = current_user._get_current_object()
    form = NewsSettingsForm().for_circles(news_settings.circle_ids(user))
    if not form.validate_on_submit():
        flash(_("Something went wrong. Please try again."), "error")
    else:
        run(lambda: news_settings.save(user, **form.settings()), success=_("Saved."))
    return redirect(url_for("auth.account") + "#news")


@bp.app_template_global("news_count")
def news_count() -> int:
    """The badge in the header (templates/base.html): one query per page, asked only when
    a signed-in person's header is drawn, and remembered for the rest of the request."""
    if "news_count" not in g:
        g.news_count = svc.unread_count(current_user.id)
    return g.news_count
