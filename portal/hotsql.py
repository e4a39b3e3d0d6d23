"""The chat send's statements, run with less of SQLAlchemy's work per call.

A chat send is three statements (services.chat.send_as). Running one costs SQLite a
few microseconds; SQLAlchemy's part costs several times that: looking the statement up
in its compiled cache, building the parameters, converting each value, and building an
execution context and a result from the cursor's description. That was most of the
send's own CPU (bench/README.md, 2026-12-03).

``HotStatement`` compiles a statement once per set of parameter names. After that it
hands the driver the SQL string and the values on the DBAPI cursor of the session's
connection: a tuple in order for SQLite, a dict by name for psycopg. So it runs in the
session's transaction, and the SQL is the same. The values go through the converters
SQLAlchemy would use (the column types' bind processors: a datetime becomes the same
text, an enum its value).

What it keeps of SQLAlchemy's execution:
- the engine's ``before_cursor_execute`` and ``after_cursor_execute`` events (with no
  execution context);
- error handling: driver errors come up through ``Connection._handle_dbapi_exception``,
  as from ``execute``. They are wrapped as SQLAlchemy's (``OperationalError`` with the
  driver's error as ``orig``, which ``portal.storage`` reads), a lost connection is
  invalidated, and ``handle_error`` events run.

What it leaves out: the execution context and the result object. ``exec_driver_sql``
still spent 60 % of a statement's time there (session 7). The rows come back as a
list (``Rows``), not converted, so only statements whose ``RETURNING`` columns are
plain integers and text use it.
"""

from __future__ import annotations

from sqlalchemy import exc
from sqlalchemy.engine import Connection


class Rows(list):
    """The fetched rows, with the few result methods the hot statements' callers use."""

    def first(self):
        return self[0] if self else None

    def one(self):
        if len(self) != 1:
            raise exc.NoResultFound if not self else exc.MultipleResultsFound
        return self[0]

    def scalar_one(self):
        return self.one()[0]

    def scalar_one_or_none(self):
        if len(self) > 1:
            raise exc.MultipleResultsFound
        return self[0][0] if self else None

    def all(self):
        return list(self)


def _run(conn: Connection, sql: str, values) -> Rows:
    """``sql`` on the DBAPI cursor of ``conn``, with the engine's cursor events.

    As in SQLAlchemy's own execution, anything raised from making the cursor to
    fetching the rows goes through ``_handle_dbapi_exception``, BaseException too: a
    greenlet interrupted mid-statement (``gevent.Timeout``, ``GreenletExit``) leaves the
    driver mid-protocol, and SQLAlchemy invalidates the connection for it. That closes
    the cursor (or throws the connection away) and re-raises."""
    cursor = None
    try:
        cursor = conn.connection.dbapi_connection.cursor()
        events = conn._has_events or conn.engine._has_events
        if events:
            for fn in conn.dispatch.before_cursor_execute:
                sql, values = fn(conn, cursor, sql, values, None, False)
        cursor.execute(sql, values)
        rows = Rows(cursor.fetchall()) if cursor.description else Rows()
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, values, None, False)
    except BaseException as e:  # noqa: BLE001 - SQLAlchemy's own handling, as in execute
        # Wraps a driver error as SQLAlchemy's (OperationalError...), tells a lost
        # connection apart and invalidates it (and on an interruption), runs
        # handle_error events; re-raises.
        conn._handle_dbapi_exception(e, sql, values, cursor, None)
        raise  # not reached: _handle_dbapi_exception always raises
    cursor.close()
    return rows


class HotStatement:
    def __init__(self, statement):
        self.statement = statement
        self._plans: dict[tuple, tuple] = {}

    def execute(self, conn: Connection, params: dict):
        key = tuple(params)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(conn, key)
        if plan is False:  # the statement needs SQLAlchemy at run time: see _plan
            return conn.execute(self.statement, params)
        sql, order = plan
        values = [
            fixed if name is None else (params[name] if process is None else process(params[name]))
            for _key, name, process, fixed in order
        ]
        if conn.dialect.positional:  # SQLite: a tuple in the statement's order
            return _run(conn, sql, tuple(values))
        # psycopg: a dict by the names in the SQL
        return _run(conn, sql, {key: v for (key, *_rest), v in zip(order, values, strict=True)})

    def _plan(self, conn: Connection, keys: tuple):
        """(SQL, [(placeholder, parameter name or None, converter, fixed value)]), or
        False when the statement needs SQLAlchemy at run time."""
        dialect = conn.dialect
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.insert_prefetch or compiled.update_prefetch:
            return False  # Python-side column defaults: not here
        if dialect.positional:
            if compiled.positiontup is None:
                return False
            names = list(compiled.positiontup)
        else:
            names = list(compiled.binds)
        order = []
        for name in names:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            placeholder = compiled.escaped_bind_names.get(name, name)
            if name in keys:
                order.append((placeholder, name, process, None))
            elif bind.required or bind.callable is not None:
                return False
            else:
                # The statement's own literals (a kind, a status, the 1 of "count + 1"),
                # converted once.
                value = bind.effective_value
                order.append(
                    (placeholder, None, None, value if process is None else process(value))
                )
        return compiled.string, order
