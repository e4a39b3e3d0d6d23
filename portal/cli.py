"""Operator commands: ``flask --app app kring ...``.

Their names and output are fixed (later tooling reads them): ``create-circle`` prints
the circle id and then the coordinator's invitation URL, each on its own line;
``invite`` prints one URL; ``demo`` prints one labelled URL per role.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app, url_for
from flask.cli import AppGroup

from portal.extensions import db
from portal.ids import MAX_ID
from portal.models import Circle
from portal.services import ServiceError, accounts
from portal.services import circles as svc

kring_cli = AppGroup("kring", help="Kring operator commands.")


def _invite_url(token: str) -> str:
    with current_app.test_request_context():
        return current_app.config["BASE_URL"] + url_for("invitations.open_link", token=token)


@kring_cli.command("create-circle")
@click.option("--title", required=True)
@click.option("--coordinator-name", required=True)
@click.option("--question", default="")
@click.option("--language", default="nl", type=click.Choice(["en", "nl", "fr"]))
@click.option("--timezone", default="Europe/Amsterdam")
def create_circle(title, coordinator_name, question, language, timezone):
    """Create a circle and print its id and the coordinator's invitation URL."""
    try:
        circle, _m, token = svc.create_circle(
            title=title,
            question=question,
            language=language,
            timezone=timezone,
            coordinator_name=coordinator_name,
        )
    except ServiceError as e:
        raise click.ClickException(str(e.message)) from None
    db.session.commit()
    click.echo(circle.id)
    click.echo(_invite_url(token))


@kring_cli.command("invite")
@click.argument("circle_id", type=click.IntRange(1, MAX_ID))
@click.option("--name", required=True)
@click.option(
    "--role", required=True, type=click.Choice(["central", "member", "supporter", "professional"])
)
@click.option("--supporter-of", default=None)
@click.option("--email", default=None)
@click.option("--simple-mode", is_flag=True, help="Simple mode for the account made with it.")
def invite(circle_id, name, role, supporter_of, email, simple_mode):
    """Invite someone into a circle and print their invitation URL."""
    circle = db.session.get(Circle, circle_id)
    if circle is None:
        raise click.ClickException(f"No circle with id {circle_id}.")
    try:
        _inv, token = svc.invite(
            circle,
            None,
            name=name,
            role=role,
            supporter_of=supporter_of,
            email=email,
            simple_mode=simple_mode,
        )
    except ServiceError as e:
        raise click.ClickException(str(e.message)) from None
    db.session.commit()
    click.echo(_invite_url(token))


@kring_cli.command("demo")
@click.option("--language", default="en", type=click.Choice(["en", "nl", "fr"]))
def demo(language):
    """Create a lived-in demo circle (two weeks of chat, a plan at version 2 with ticks,
    an open proposal, a date poll, a reviewed meeting); print a link for each role."""
    from portal.demo import ROLES, build_demo

    built = build_demo(language)
    db.session.commit()
    click.echo(f"Demo circle {built.circle.id}: {built.circle.title}")
    for label in ROLES:
        click.echo(f"{label}: {_invite_url(built.tokens[label])}")


@kring_cli.command("create-account")
@click.option("--name", required=True)
@click.option("--username", required=True)
@click.password_option()
def create_account(name, username, password):
    """Create an account that may open circles on the web (for coordinators)."""
    try:
        user = accounts.create_user(name=name, username=username, password=password)
    except ServiceError as e:
        raise click.ClickException(str(e.message)) from None
    user.can_create_circles = True
    db.session.commit()
    click.echo(f"Account {user.username} created.")


@kring_cli.command("erase-account")
@click.argument("username")
@click.option("--delete-messages", is_flag=True, help="Also empty the texts of their messages.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_account_command(username, delete_messages, yes):
    """Erase an account for someone who asked the organisation and cannot sign in
    (as /account/delete does; docs/privacy.md). Prints only the account's id."""
    from sqlalchemy import select

    from portal.extensions import forget_old_pages
    from portal.models import User
    from portal.services import erasure

    user = db.session.scalar(select(User).where(User.username == username.strip()))
    if user is None or user.erased_at is not None:
        raise click.ClickException("No such account.")
    if not yes:
        click.confirm(f"Erase account {user.id} for good?", abort=True)
    erasure.erase_account(user, delete_messages=delete_messages)
    db.session.commit()
    forget_old_pages()
    click.echo(f"erased account {user.id}")


@kring_cli.command("send-mail")
def send_mail_command():
    """Send the mail waiting in the outbox (for cron or a systemd timer)."""
    from portal.mail import send_pending

    sent = send_pending()
    click.echo(f"{sent} sent")


@kring_cli.command("send-notifications")
@click.option(
    "--now",
    default=None,
    help="Stand in for the clock, as ISO-8601 (UTC when no offset is given): for tests, "
    "and to catch up after downtime.",
)
def send_notifications_command(now):
    """Make the news from the clock, queue the email that is due and send it (run it
    every minute from cron or a systemd timer; docs/notifications.md)."""
    from portal.notifier import run

    counts = run(_clock(now))
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


def _clock(now: str | None):
    """``--now``: an ISO-8601 moment (UTC when no offset is given), or None: the clock."""
    from datetime import UTC, datetime

    if not now:
        return None
    try:
        when = datetime.fromisoformat(now)
    except ValueError:
        raise click.BadParameter("not an ISO-8601 date and time", param_hint="--now") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@kring_cli.command("purge")
@click.option(
    "--now",
    default=None,
    help="Stand in for the clock, as ISO-8601 (UTC when no offset is given).",
)
def purge_command(now):
    """Ask about idle circles, close the unanswered ones, and delete for good the
    content of circles closed longer than CLOSED_CIRCLE_RETENTION_DAYS (run it hourly
    from cron, or let ``python app.py`` do it; docs/privacy.md)."""
    from portal.purge import run

    counts = run(_clock(now))
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


@kring_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path):
    """Write a consistent copy of the database to PATH while Kring serves (SQLite: the
    backup API; PostgreSQL: pg_dump --format=custom). docs/backup.md."""
    from portal import backup

    try:
        made = backup.backup(db.engine, path)
    except backup.BackupError as e:
        raise click.ClickException(str(e)) from None
    how = "sqlite3 backup API" if made.kind == "sqlite" else "pg_dump --format=custom"
    click.echo(
        f"{backup.KINDS[made.kind]} backup ({how}) of {made.source} "
        f"written to {made.path}: {_size(made.size)}"
    )


@kring_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace what the database holds now.")
def restore_command(path, force):
    """Restore the backup at PATH into this Kring's database, which must be empty
    unless --force is given. Stop Kring first. docs/backup.md."""
    from portal import backup

    migrations = Path(current_app.extensions["migrate"].directory)
    try:
        done = backup.restore(db.engine, path, force=force, migrations=migrations)
    except backup.BackupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(
        f"Restored {path} into {done.target} ({backup.KINDS[done.kind]}); "
        f"schema revision {done.revision or 'none'}."
    )
    if done.unknown:
        click.echo(
            f"This Kring does not know revision {done.revision}: the backup was made by a "
            f"newer Kring. Run that version (or newer) on it."
        )
    elif done.older:
        click.echo(
            f"The backup's schema is older than this Kring's ({done.head}): "
            f"run `flask --app app db upgrade` before starting Kring."
        )
