"""Who is the current user: the host application's dependency, or the demo login.

The service never authenticates anyone itself. The host passes ``current_user``: for FastAPI a
dependency returning the user id (or ``None``), for Flask a plain function. The demo login is a
signed cookie (itsdangerous; HttpOnly, SameSite=Lax) that exists only in demo mode.

Example:
    >>> login = DemoLogin(Secret("a-demo-cookie-key-0123456789"))
    >>> login.read(login.issue("alice"))
    'alice'
    >>> login.read("forged.value") is None
    True
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from terra_auth.errors import ConfigurationError, InvalidRequestError
from terra_auth.secret import Secret

__all__ = ["DEMO_COOKIE", "DemoLogin", "load_current_user", "no_user"]

DEMO_COOKIE = "terra_demo_user"
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_SALT = "terra-auth.demo-login"


class DemoLogin:
    """Sign and read the demo login cookie. Only for demo mode."""

    def __init__(self, key: Secret, *, max_age: int = 12 * 3600) -> None:
        from itsdangerous import URLSafeTimedSerializer

        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(key.reveal(), salt=_SALT)

    @staticmethod
    def check_username(name: str) -> str:
        """A valid demo user name, or :class:`InvalidRequestError` saying what is allowed."""
        name = name.strip()
        if not _USERNAME.match(name):
            raise InvalidRequestError(
                "the demo user name must be 1 to 64 letters, digits or . _ - @",
                hint="pick a simple name such as alice",
            )
        return name

    def issue(self, username: str) -> str:
        """The cookie value for ``username``."""
        return str(self._serializer.dumps(self.check_username(username)))

    def read(self, value: str | None) -> str | None:
        """The user name in a cookie value, or ``None`` when absent, forged or expired."""
        if not value:
            return None
        from itsdangerous import BadSignature

        try:
            name = self._serializer.loads(value, max_age=self.max_age)
        except BadSignature:
            return None
        return name if isinstance(name, str) and _USERNAME.match(name) else None

    def cookie_options(self, *, secure: bool) -> dict[str, Any]:
        """Keyword arguments for ``response.set_cookie`` (FastAPI and Flask agree on these)."""
        return {
            "max_age": self.max_age,
            "httponly": True,
            "samesite": "lax",
            "secure": secure,
            "path": "/",
        }


def no_user() -> None:
    """The default ``current_user``: nobody is logged in, so user endpoints answer 401."""
    return None


def load_current_user(path: str) -> Callable[..., Any]:
    """Import ``package.module:function`` (``TERRA_SERVICE_CURRENT_USER``)."""
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"cannot import the current-user function {path!r} ({type(exc).__name__})",
            hint="check TERRA_SERVICE_CURRENT_USER and that the module is on PYTHONPATH",
        ) from None
    if not callable(target):
        raise ConfigurationError(
            f"{path!r} is not callable", hint="point TERRA_SERVICE_CURRENT_USER at a function"
        )
    return target  # type: ignore[no-any-return]
