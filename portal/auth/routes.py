"""Sign in, sign out, account settings, and setting a new password with a link."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, logout_user

from portal import push
from portal.auth.forms import (
    AccountForm,
    ChangePasswordForm,
    ConfirmEmailForm,
    DeleteAccountForm,
    EmailForm,
    ForgotForm,
    LoginForm,
    NewPasswordForm,
    is_current_password,
)
from portal.auth.login import refresh_cookie, sign_in, sign_out
from portal.extensions import db, forget_old_pages, limiter
from portal.limits import login_limit, token_limit
from portal.models.notifications import NEWS_KINDS
from portal.services import accounts, devices, erasure, news_settings
from portal.urls import safe_next
from portal.views import run, run_quietly

bp = Blueprint("auth", __name__)

RESET_SESSION_KEY = "reset_token"
EMAIL_SESSION_KEY = "email_token"


def _person_key() -> str:
    """The signed-in person, wherever they post from (many addresses, one account)."""
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("circles.list_circles"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.find_user_for_login(form.login.data, form.password.data)
        if user is not None:
            sign_in(user)
            return redirect(safe_next(request.args.get("next"), url_for("circles.list_circles")))
        form.password.errors.append(_("That username and password do not match. Please try again."))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    sign_out(current_user._get_current_object())
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


def _account_page(form=None, password_form=None, email_form=None, status=200):
    user = current_user._get_current_object()
    return (
        render_template(
            "auth/account.html",
            form=form or AccountForm(obj=user),
            password_form=password_form or ChangePasswordForm(),
            email_form=email_form or EmailForm(),
            pending_email=accounts.pending_email(user),
            devices=devices.devices(user.id),
            push_key=push.public_key(),
            news=news_settings.settings_of(user),
            news_kinds=NEWS_KINDS,
            reminder_kinds=news_settings.REMINDER_KINDS,
        ),
        status,
    )


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    user = current_user._get_current_object()
    form = AccountForm(obj=user)
    if request.method == "GET":
        form.show(user)
    if form.validate_on_submit():
        user_changed = run(
            lambda: accounts.update_profile(user, **form.profile()), form=form, success=_("Saved.")
        )
        if user_changed:
            return redirect(url_for("auth.account"))
    return _account_page(form=form)


def _email_change_asked(new_email: str | None) -> str:
    if new_email is None:
        return _("Your email address is removed.")
    # The same words whether or not the address already has an account.
    return _(
        "We sent a link to %(email)s. Your new address counts once you open it. "
        "Until then we keep using your old one.",
        email=new_email,
    )


@bp.post("/account/email")
@login_required
@limiter.limit(login_limit)
@limiter.limit(login_limit, key_func=_person_key)
def change_email():
    """A new address needs the current password, and counts only once the link sent to
    it is opened; the old address is told. A minute at someone's unlocked browser is
    not enough to take their account over through "forgot password"."""
    user = current_user._get_current_object()
    form = EmailForm()
    if not (form.validate_on_submit() and is_current_password(form.email_password, user)):
        return _account_page(email_form=form)
    new_email = form.new_address()
    if new_email is not None and new_email == user.email:
        flash(_("That is already your email address."), "info")
    else:
        asked = _email_change_asked(new_email)
        run(lambda: accounts.request_email_change(user, new_email), success=asked)
    return redirect(url_for("auth.account"))


def _link_invalid(key: str):
    session.pop(key, None)
    return render_template("auth/link_invalid.html"), 404


@bp.get("/e/<token>")
@limiter.limit(token_limit)
def open_email_link(token: str):
    """Keep the token in the session and leave the token URL at once (as /r/)."""
    session[EMAIL_SESSION_KEY] = token
    return redirect(url_for("auth.confirm_email"))


@bp.route("/account/email/confirm", methods=["GET", "POST"])
@limiter.limit(token_limit, methods=["POST"])
def confirm_email():
    """Opening the link shows a button; only pressing it (a POST) changes the address,
    so a mail program that opens links to scan them changes nothing."""
    token = session.get(EMAIL_SESSION_KEY)
    row = accounts.find_email_change(token) if token else None
    if row is None:
        return _link_invalid(EMAIL_SESSION_KEY)
    form = ConfirmEmailForm()
    if not form.validate_on_submit():
        # Name the account: a link someone else asked for would put this address (and
        # so "forgot password") on their account.
        return render_template(
            "auth/confirm_email.html", form=form, email=row.new_email, username=row.user.username
        )
    if not run_quietly(lambda: accounts.confirm_email_change(token)):
        return _link_invalid(EMAIL_SESSION_KEY)
    session.pop(EMAIL_SESSION_KEY, None)
    flash(_("Your email address is now %(email)s.", email=row.new_email), "success")
    return redirect(url_for("auth.account" if current_user.is_authenticated else "auth.login"))


@bp.post("/account/password")
@login_required
@limiter.limit(login_limit)
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if not (form.validate_on_submit() and is_current_password(form.current, user)):
        return _account_page(password_form=form, status=400)
    accounts.set_password(user, form.password.data)
    key = accounts.start_login_session(user)
    db.session.commit()
    refresh_cookie(user, key)
    flash(_("Your password is changed. Other devices are signed out."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(token_limit, methods=["POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        # Same answer and the same work whether or not the address has an account;
        # the mail (if any) waits in the outbox, so a mail server cannot tell either.
        accounts.request_password_reset(form.email.data)
        db.session.commit()
        return render_template("auth/forgot_sent.html")
    return render_template("auth/forgot.html", form=form)


@bp.get("/r/<token>")
@limiter.limit(token_limit)
def open_reset_link(token: str):
    """Read the token, keep it in the session, and leave this URL at once, so the
    token does not linger in the address bar, history or a Referer header."""
    session[RESET_SESSION_KEY] = token
    return redirect(url_for("auth.new_password"))


@bp.route("/password/new", methods=["GET", "POST"])
@limiter.limit(token_limit, methods=["POST"])
def new_password():
    token = session.get(RESET_SESSION_KEY)
    row = accounts.find_reset_token(token) if token else None
    if row is None:
        return _link_invalid(RESET_SESSION_KEY)
    form = NewPasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/new_password.html", form=form, username=row.user.username)
    done = run_quietly(lambda: accounts.use_reset_token(token, form.password.data))
    if not done:
        return render_template("auth/link_invalid.html"), 404
    sign_in(done.value)
    flash(_("Your new password is set. Welcome back."), "success")
    return redirect(url_for("circles.list_circles"))


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
@limiter.limit(login_limit, methods=["POST"])
@limiter.limit(login_limit, key_func=_person_key, methods=["POST"])
def delete_account():
    """Leave, and be forgotten (docs/privacy.md). Only one's own account: there is no id
    to change. A wrong password changes nothing and says so at the field."""
    user = current_user._get_current_object()
    form = DeleteAccountForm()
    if not (form.validate_on_submit() and is_current_password(form.password, user)):
        status = 400 if request.method == "POST" else 200
        circles = sorted(
            (m.circle.title for m in user.memberships if m.is_active), key=str.casefold
        )
        return render_template("auth/delete.html", form=form, circles=circles), status
    erasure.erase_account(user, delete_messages=bool(form.delete_messages.data))
    db.session.commit()
    forget_old_pages()
    logout_user()
    session.clear()
    return render_template("auth/goodbye.html")
