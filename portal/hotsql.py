"""The chat send's statements, run on SQLite with less of SQLAlchemy's work per call.

A chat send is three statements (services.chat.send_as), and on SQLite running one
costs SQLite a few microseconds while SQLAlchemy's part (looking the statement up in
its compiled cache, building the parameters, converting each value) costs several
times that: most of the send's own CPU (bench/README.md, 2026-12-03). ``HotStatement``
compiles a statement once per set of parameter names and then hands SQLite the SQL
string and a tuple through ``Connection.exec_driver_sql``. The values go through the
same converters SQLAlchemy would use (the column types' bind processors: a datetime
becomes the same text, an enum its value), the statement is the same SQL, and it still
runs on the session's connection and transaction and fires the engine's events
(``before_cursor_execute``). Result rows are not converted, so only statements whose
``RETURNING`` columns are plain integers and text use it.

PostgreSQL keeps ``Connection.execute`` (psycopg adapts the values and prepares
repeated statements itself; this path was not measured there).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection


class HotStatement:
    def __init__(self, statement):
        self.statement = statement
        self._plans: dict[tuple, tuple] = {}

    def execute(self, conn: Connection, params: dict):
        if conn.dialect.name != "sqlite":
            return conn.execute(self.statement, params)
        key = tuple(params)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = self._plan(conn, key)
        if plan is False:  # the statement needs SQLAlchemy at run time: see _plan
            return conn.execute(self.statement, params)
        sql, order = plan
        values = []
        for name, process, fixed in order:
            if name is None:
                values.append(fixed)
            else:
                value = params[name]
                values.append(value if process is None else process(value))
        return conn.exec_driver_sql(sql, tuple(values))

    def _plan(self, conn: Connection, keys: tuple):
        dialect = conn.dialect
        compiled = self.statement.compile(dialect=dialect, column_keys=list(keys))
        if compiled.insert_prefetch or compiled.update_prefetch or compiled.positiontup is None:
            return False  # Python-side column defaults or named parameters: not here
        order = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if name in keys:
                order.append((name, process, None))
            elif bind.required or bind.callable is not None:
                return False
            else:
                # The statement's own literals (a kind, a status, the 1 of "count + 1"),
                # converted once.
                value = bind.effective_value
                order.append((None, None, value if process is None else process(value)))
        return compiled.string, order
