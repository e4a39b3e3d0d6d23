"""Realtime events, sent only after the transaction that caused them has committed.

Services call ``publish`` or ``disconnect_user`` while they work; nothing leaves the
server until the database commit succeeds. Events go to one circle's room (or one
user's), never to everyone.

Each callback is queued on the innermost open transaction: the outermost one, or a
savepoint (``begin_nested``). As with Django's ``on_commit`` (which Zulip relies on):

* a savepoint that is released hands its callbacks to the transaction around it;
* a savepoint that rolls back drops only the callbacks queued inside it;
* the outermost rollback (or closing the session without committing) drops them all;
* only the outermost commit runs them, in the order they were queued.

SQLAlchemy fires ``after_commit`` for a released savepoint as well as for the real
commit, and ``after_rollback`` for a savepoint's rollback as well as the real one,
so neither may look at the whole queue: the queues are kept per ``SessionTransaction``.

What only the socket layer can do (close sockets, show who is here) it hands to this
module at start-up (``handle``): ``portal.realtime`` builds on this module, never the
other way round, so services reach sockets only through here.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_sqlalchemy.session import Session
from sqlalchemy import event
from sqlalchemy.orm import SessionTransaction

from portal.extensions import socketio

_KEY = "kring_after_commit"  # session.info: {SessionTransaction: [callback, ...]}


def circle_room(circle_id: int) -> str:
    return f"circle:{circle_id}"


def plan_room(circle_id: int) -> str:
    """Those following the plan and meetings (``plan:join``): professionals too, so it is
    kept apart from the circle room, which carries the chat and who is in it."""
    return f"plan:{circle_id}"


def line_room(line_id: int) -> str:
    """The two people of a private line (issue 14): ``line:join`` puts a socket here."""
    return f"line:{line_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def login_room(login_session_id: int) -> str:
    return f"login:{login_session_id}"


def _innermost(session) -> SessionTransaction:
    """The transaction a callback belongs to: the innermost savepoint, else the outermost
    transaction (begun now if none is open, so the next commit carries it)."""
    tx = session.get_nested_transaction() or session.get_transaction()
    return tx if tx is not None else session.begin()


def _queues(session) -> dict[SessionTransaction, list[Callable[[], None]]]:
    return session.info.setdefault(_KEY, {})


def _queue(session, fn: Callable[[], None]) -> None:
    _queues(session).setdefault(_innermost(session), []).append(fn)


def _enclosing(tx: SessionTransaction) -> SessionTransaction | None:
    """The savepoint or outermost transaction around ``tx`` (skipping the ORM's own
    internal subtransactions, which never hold callbacks)."""
    parent = tx.parent
    while parent is not None and not parent.nested and parent.parent is not None:
        parent = parent.parent
    return parent


def _current_session():
    from portal.extensions import db

    return db.session()


def after_commit(fn: Callable[[], None]) -> None:
    """Run ``fn`` once the current transaction has committed (dropped on rollback)."""
    _queue(_current_session(), fn)


def publish(circle_id: int, payload: dict, *, event_name: str = "event") -> None:
    """Send ``payload`` (a dict with ``type`` and ``op``) to the circle's room after commit
    (``plan:event`` to the circle's plan room)."""
    assert "type" in payload and "op" in payload
    room = plan_room(circle_id) if event_name == "plan:event" else circle_room(circle_id)
    _queue(_current_session(), lambda: socketio.emit(event_name, payload, to=room))


def publish_line(line_id: int, payload: dict) -> None:
    """Send ``payload`` (``line:message``) to the private line's room after commit."""
    assert "type" in payload and "op" in payload
    room = line_room(line_id)
    _queue(_current_session(), lambda: socketio.emit("line:message", payload, to=room))


def emit_to_user(user_id: int, event_name: str, payload: dict) -> None:
    """Send now (call it from an after-commit callback) to one person's sockets."""
    socketio.emit(event_name, payload, to=user_room(user_id))


def news_changed(user_ids) -> None:
    """After commit, tell each person's open pages that their news changed (a new line,
    or lines read in another tab); each page then asks for its count (``news:count``)."""
    ids = list(user_ids)
    if not ids:
        return

    def send() -> None:
        for user_id in ids:
            socketio.emit("news", {"op": "changed"}, to=user_room(user_id))

    _queue(_current_session(), send)


def disconnect_room(room: str) -> None:
    """Close every socket in ``room`` after commit (used on removal and logout)."""
    _queue(_current_session(), lambda: _run_handler("close_sockets", room))


def disconnect_user(user_id: int) -> None:
    """Close the user's sockets: they reconnect and rejoin only what they may still see."""
    disconnect_room(user_room(user_id))


def presence_switched(circle_id: int, enabled: bool) -> None:
    """The circle switched "who is here" on or off: after commit, the chat shows the
    people here now, or nobody."""
    _queue(_current_session(), lambda: _run_handler("presence", circle_id, enabled))


# --- What the socket layer does with them ----------------------------------------------

# kind -> the socket layer's function: "close_sockets"(room), "presence"(circle_id, enabled)
HANDLER_KINDS = ("close_sockets", "presence")
_HANDLERS: dict[str, Callable[..., None]] = {}


def handle(kind: str, fn: Callable[..., None]) -> None:
    """Called once by ``portal.realtime`` when it loads. Without it (no socket server)
    there is no socket to close and nobody to show, so the event is dropped."""
    assert kind in HANDLER_KINDS
    _HANDLERS[kind] = fn


def _run_handler(kind: str, *args) -> None:
    fn = _HANDLERS.get(kind)
    if fn is not None:
        fn(*args)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session) -> None:
    """A savepoint released, or the outermost transaction committed. Either way the
    committing transaction is the innermost one still open (it closes after this)."""
    queues = session.info.get(_KEY)
    if not queues:
        return
    tx = session.get_nested_transaction() or session.get_transaction()
    pending = queues.pop(tx, [])
    outer = _enclosing(tx) if tx is not None else None
    if outer is not None:
        queues.setdefault(outer, []).extend(pending)  # released: wait for the real commit
        return
    for fn in pending:
        fn()


@event.listens_for(Session, "after_transaction_end")
def _drop_unfinished(session, transaction: SessionTransaction) -> None:
    """A transaction ended without handing its callbacks on: it rolled back (or the
    session closed), so what it queued did not happen. Committed ones already left."""
    if transaction.parent is None:
        session.info.pop(_KEY, None)  # the outermost one: nothing can be left waiting
        return
    queues = session.info.get(_KEY)
    if queues:
        queues.pop(transaction, None)
