"""The empty schema every benchmark starts from."""
from __future__ import annotations

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from app.extensions import db


def rebuild_schema(app: Flask) -> Engine:
    """Drop everything in the benchmark's PostgreSQL database and migrate it to head (inside an app context);
    returns an engine of the login user, the schema's owner (for sequences and VACUUM).

    The app's engine acts as the app role, which owns nothing: the login user rebuilds the schema. Connections
    opened before the migrations made the app role would bypass row-level security, so the pool is renewed."""
    owner = create_engine(db.engine.url, poolclass=NullPool)
    with owner.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(directory=str(app.extensions["migrate"].directory))
    db.engine.dispose()
    return owner
