"""Connection helpers shared by migrate, writer, sink and retention: URLs and error text."""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

from common.errors import UserError

#: psycopg errors that mean "the database is not reachable right now": retry later.
UNAVAILABLE: tuple[type[Exception], ...] = (psycopg.OperationalError, psycopg.InterfaceError)


def describe(database_url: str) -> str:
    """``user@host:port/dbname`` of a URL, without any password."""
    try:
        info = conninfo_to_dict(database_url)
    except psycopg.ProgrammingError:
        return "<unparsable database URL>"
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    user = info.get("user") or "?"
    dbname = info.get("dbname") or user
    return f"{user}@{host}:{port}/{dbname}"


def unreachable(database_url: str, error: Exception) -> UserError:
    """A UserError saying which server did not answer and how to start the local one."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return UserError(
        f"cannot reach TimescaleDB at {describe(database_url)}: {first_line}. "
        "Start the local servers with `.venv/bin/ioc dev up`, or set IOC_DATABASE_URL "
        "(or IOC_PG_PORT) to a running TimescaleDB."
    )
