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
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required

from portal.auth.forms import (
    AccountForm,
    ChangePasswordForm,
    ConfirmEmailForm,
    EmailForm,
    ForgotForm,
    LoginForm,
    NewPasswordForm,
)
from portal.auth.login import refresh_cookie, sign_in, sign_out
from portal.extensions import db, limiter
from portal.limits import login_limit, token_limit
from portal.services import ServiceError, accounts, require_name
from portal.urls import safe_next

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
        ),
        status,
    )


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    user = current_user._get_current_object()
    form = AccountForm(obj=user)
    if request.method == "GET":
        form.locale.data = user.locale or "en"
        form.timezone.data = user.timezone or current_app.config["BABEL_DEFAULT_TIMEZONE"]
    if form.validate_on_submit():
        # The email address is not changed here: that needs the password and a
        # confirmed link (change_email).
        try:
            user.name = require_name(form.name.data)
        except ServiceError as e:
            form.name.errors.append(str(e.message))
            return _account_page(form=form)
        user.locale = form.locale.data
        user.timezone = form.timezone.data
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for("auth.account"))
    return _account_page(form=form)


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
    if not form.validate_on_submit():
        return _account_page(email_form=form)
    if not accounts.check_password(user, form.email_password.data):
        form.email_password.errors.append(_("That is not your current password."))
        return _account_page(email_form=form)
    new_email = (form.new_email.data or "").strip().lower() or None
    if new_email is not None and new_email == user.email:
        flash(_("That is already your email address."), "info")
        return redirect(url_for("auth.account"))
    accounts.request_email_change(user, new_email)
    db.session.commit()
    if new_email is None:
        flash(_("Your email address is removed."), "success")
    else:
        # The same words whether or not the address already has an account.
        flash(
            _(
                "We sent a link to %(email)s. Your new address counts once you open it. "
                "Until then we keep using your old one.",
                email=new_email,
            ),
            "success",
        )
    return redirect(url_for("auth.account"))


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
        session.pop(EMAIL_SESSION_KEY, None)
        return render_template("auth/link_invalid.html"), 404
    form = ConfirmEmailForm()
    if form.validate_on_submit():
        try:
            accounts.confirm_email_change(token)
        except ServiceError:
            db.session.rollback()
            session.pop(EMAIL_SESSION_KEY, None)
            return render_template("auth/link_invalid.html"), 404
        db.session.commit()
        session.pop(EMAIL_SESSION_KEY, None)
        flash(_("Your email address is now %(email)s.", email=row.new_email), "success")
        if current_user.is_authenticated:
            return redirect(url_for("auth.account"))
        return redirect(url_for("auth.login"))
    # Name the account: a link someone else asked for would put this address (and so
    # "forgot password") on their account.
    return render_template(
        "auth/confirm_email.html", form=form, email=row.new_email, username=row.user.username
    )


@bp.post("/account/password")
@login_required
@limiter.limit(login_limit)
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
    return _account_page(password_form=form, status=400)


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
