"""Small helpers to derive PostgreSQL URLs from the application's ``IOC_DATABASE_URL``."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from common.config import load


def with_user(url: str, user: str, password: str | None = None) -> str:
    """``url`` with its user (and password, dropped unless given) replaced."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    hostport = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        hostport += f":{parts.port}"
    auth = user if password is None else f"{user}:{password}"
    return urlunsplit(parts._replace(netloc=f"{auth}@{hostport}"))


def with_database(url: str, dbname: str) -> str:
    """``url`` pointing at database ``dbname``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def admin_url(database_url: str) -> str:
    """Superuser URL of the application database: IOC_ADMIN_DATABASE_URL, else user postgres."""
    return load().admin_database_url or with_user(database_url, "postgres")
