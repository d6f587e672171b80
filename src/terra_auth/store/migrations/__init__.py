"""Alembic migrations shipped inside the package (run by :meth:`terra_auth.store.Store.upgrade`)."""
