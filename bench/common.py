"""What the benchmarks share (each runs as a script, so ``bench/`` is on ``sys.path``)."""

from __future__ import annotations


def reset_postgres(url: str) -> None:
    """Empty the given PostgreSQL database (drop and recreate its public schema)."""
    from sqlalchemy import create_engine, text

    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
