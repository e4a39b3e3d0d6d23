"""What every blueprint's views share: running a service call at the request's boundary.

A view parses its form, then hands the service call to ``run`` (a form page) or
``act`` (a button that posts and goes back). Both commit once when the call succeeds
and roll back when it raises ``ServiceError``, so no view writes the try / except /
commit / flash block itself. ``Forbidden`` is not caught here: it becomes the 403 page
in ``portal.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect
from flask_wtf import FlaskForm

from portal.extensions import db
from portal.services import ServiceError, access_log, notifications


class Outcome:
    """What ``run`` gives back: whether the call went through, and what it returned."""

    __slots__ = ("ok", "value")

    def __init__(self, ok: bool, value: Any = None):
        self.ok = ok
        self.value = value

    def __bool__(self) -> bool:
        return self.ok


def field_error(form: FlaskForm, e: ServiceError, fallback: str | None = None) -> None:
    """Show the service's message at the field it names (or ``fallback``, else as a
    message at the top of the page), keeping everything the person typed."""
    field = getattr(form, e.field, None) if e.field else None
    if field is None and fallback:
        field = getattr(form, fallback, None)
    if field is None:
        flash(str(e.message), "error")
        return
    field.errors = [*field.errors, str(e.message)]


def run(
    call: Callable[[], Any],
    *,
    form: FlaskForm | None = None,
    success: str | None = None,
    fallback: str | None = None,
) -> Outcome:
    """Run ``call`` (a service operation) and commit; flash ``success`` if given.

    On ``ServiceError`` the transaction is rolled back and the message goes to the
    form's field (``form``) or to the top of the page; the caller re-renders or
    redirects as it likes.
    """
    try:
        value = call()
    except ServiceError as e:
        db.session.rollback()
        if form is not None:
            field_error(form, e, fallback)
        else:
            flash(str(e.message), "error")
        return Outcome(False)
    db.session.commit()
    if success:
        flash(success, "success")
    return Outcome(True, value)


def act(call: Callable[[], Any], to: str, success: str | None = None):
    """A button that posts and goes back to ``to``: run, commit, flash, redirect; on a
    service error the message is flashed and nothing changed."""
    run(call, success=success)
    return redirect(to)


class _OneBox:
    """A stand-in form with a single field: ``field_error`` puts every message there."""

    def __init__(self, field):
        self.box = field


def run_into(field, call: Callable[[], Any], *, success: str | None = None) -> Outcome:
    """``run`` for a form with one box to write in: whatever field the service's
    message names (a hidden field has no place to show it), it shows under ``field``."""
    return run(call, form=_OneBox(field), fallback="box", success=success)


def run_quietly(call: Callable[[], Any]) -> Outcome:
    """``run`` for spending a link whose failure has a page of its own ("this link no
    longer works"): on a service error roll back and say nothing; the caller shows it."""
    try:
        value = call()
    except ServiceError:
        db.session.rollback()
        return Outcome(False)
    db.session.commit()
    return Outcome(True, value)


def shown(render: Callable[[], Any], **news) -> Any:
    """Show a page that some of the signed-in person's news is about (``news``: the
    filters of ``notifications.mark_seen``, e.g. ``circle_id=3, kinds=["people"]``):
    those lines are marked read first, so the badge on this very page already leaves
    them out, and committed once the page is rendered (committing earlier would expire
    what it shows). On an ordinary visit, with nothing unread, it writes nothing."""
    from flask_login import current_user

    notifications.mark_seen(current_user.id, **news)
    response = render()
    db.session.commit()
    return response


def looked(me, page: str, render: Callable[[], Any], **news) -> Any:
    """Show a page of the circle whose looks by professionals go in the access log
    (``access_log.looked``: one statement for a professional, none for anyone else);
    with ``news``, as ``shown``. The look is committed once the page is rendered, and
    a page that wrote nothing commits nothing more than before."""
    wrote = access_log.looked(me, page)
    if news:
        return shown(render, **news)
    response = render()
    if wrote:
        db.session.commit()
    return response


def own_allowance(view):
    """Mark a view whose service call takes its own per-person allowance (the chat's):
    the app-wide write allowance (``WRITE_RATE_LIMIT``) then does not count it too, so
    each change is counted once, against one allowance."""
    view.own_allowance = True
    return view


def open_when_closed(view):
    """Mark a view that still posts in a closed circle (reopening it, leaving it, "keep
    it"): every other POST to a closed circle gets the "This circle is closed" page
    (``portal.access.writing``)."""
    view.open_when_closed = True
    return view
