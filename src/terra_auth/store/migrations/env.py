"""Alembic environment: runs on the connection handed over by ``Store.upgrade()``.

No ``alembic.ini`` is needed; ``terra-auth db upgrade`` builds the configuration in code.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from terra_auth.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    """Migrate on the given connection, or on ``sqlalchemy.url`` when run by plain alembic."""
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url or pass a connection in config.attributes"
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
