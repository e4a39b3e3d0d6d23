"""Sign in, sign out, account settings, and setting a new password with a link."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select

from portal.auth.forms import (
    AccountForm,
    ChangePasswordForm,
    ForgotForm,
    LoginForm,
    NewPasswordForm,
)
from portal.auth.login import refresh_cookie, sign_in, sign_out
from portal.extensions import db, limiter
from portal.mail import send_mail
from portal.models import User
from portal.sanitize import clean_line
from portal.services import ServiceError, accounts

bp = Blueprint("auth", __name__)

RESET_SESSION_KEY = "reset_token"


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _token_limit() -> str:
    return current_app.config["TOKEN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("circles.list_circles")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("circles.list_circles"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.find_user_for_login(form.login.data, form.password.data)
        if user is not None:
            sign_in(user)
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append(_("That username and password do not match. Please try again."))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    sign_out(current_user._get_current_object())
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    user = current_user._get_current_object()
    form = AccountForm(obj=user)
    if request.method == "GET":
        form.locale.data = user.locale or "en"
        form.timezone.data = user.timezone or current_app.config["BABEL_DEFAULT_TIMEZONE"]
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower() or None
        taken = email and db.session.scalar(
            select(func.count()).where(User.email == email, User.id != user.id)
        )
        if taken:
            form.email.errors.append(_("This email address already has an account."))
        else:
            user.name = clean_line(form.name.data, 80)
            user.email = email
            user.locale = form.locale.data
            user.timezone = form.timezone.data
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=form, password_form=ChangePasswordForm())


@bp.post("/account/password")
@login_required
@limiter.limit(_login_limit)
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not accounts.check_password(user, form.current.data):
            form.current.errors.append(_("That is not your current password."))
        else:
            accounts.set_password(user, form.password.data)
            key = accounts.start_login_session(user)
            db.session.commit()
            refresh_cookie(user, key)
            flash(_("Your password is changed. Other devices are signed out."), "success")
            return redirect(url_for("auth.account"))
    return render_template("auth/account.html", form=AccountForm(obj=user), password_form=form), 400


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_token_limit, methods=["POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            token = accounts.issue_reset_token(user)
            db.session.commit()
            link = current_app.config["BASE_URL"] + url_for("auth.open_reset_link", token=token)
            send_mail(
                email,
                _("Set a new password for Kring"),
                _("Open this link to set a new password. It works once.") + "\n\n" + link,
            )
        # Same answer whether or not the address has an account.
        return render_template("auth/forgot_sent.html")
    return render_template("auth/forgot.html", form=form)


@bp.get("/r/<token>")
@limiter.limit(_token_limit)
def open_reset_link(token: str):
    """Read the token, keep it in the session, and leave this URL at once, so the
    token does not linger in the address bar, history or a Referer header."""
    session[RESET_SESSION_KEY] = token
    return redirect(url_for("auth.new_password"))


@bp.route("/password/new", methods=["GET", "POST"])
@limiter.limit(_token_limit, methods=["POST"])
def new_password():
    token = session.get(RESET_SESSION_KEY)
    row = accounts.find_reset_token(token) if token else None
    if row is None:
        session.pop(RESET_SESSION_KEY, None)
        return render_template("auth/link_invalid.html"), 404
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.use_reset_token(token, form.password.data)
        except ServiceError:
            db.session.rollback()
            return render_template("auth/link_invalid.html"), 404
        db.session.commit()
        sign_in(user)
        flash(_("Your new password is set. Welcome back."), "success")
        return redirect(url_for("circles.list_circles"))
    return render_template("auth/new_password.html", form=form, username=row.user.username)
