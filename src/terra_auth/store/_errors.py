"""The store's one error: the database cannot be reached or used right now.

Example:
    >>> raise StoreUnavailable("the database is not reachable")  # doctest: +SKIP
"""

from __future__ import annotations

from terra_auth.errors import TerraAuthError

__all__ = ["StoreUnavailable"]


class StoreUnavailable(TerraAuthError):
    """The database is down, unreachable, locked or not migrated; retry later.

    The webhook receiver answers 503 with ``Retry-After`` on this error, so Terra retries
    and no event is lost.
    """
