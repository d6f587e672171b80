"""One secret type for the whole package, and log masking.

A :class:`Secret` hides its value from ``repr``, ``str``, f-strings, pickling and pydantic
validation errors. The value is read with :meth:`Secret.reveal` at exactly two boundaries: the
HTTP request headers and the HMAC signer/verifier. A :attr:`Secret.fingerprint` identifies a key
without revealing it.

Example:
    >>> key = Secret("an-api-key-value")
    >>> key
    Secret('**********')
    >>> key.fingerprint == Secret("an-api-key-value").fingerprint
    True
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from typing import Any, NoReturn

__all__ = ["SECRET_MASK", "Secret", "SecretMaskingFilter", "install_log_masking", "mask"]

SECRET_MASK = "**********"  # noqa: S105 (the mask, not a secret)
_MIN_MASKABLE = 6  # shorter values would mask ordinary words in log lines

_registry_lock = threading.Lock()
_registered: set[str] = set()
_registered_sorted: tuple[str, ...] = ()


def _register(value: str) -> None:
    global _registered_sorted
    if len(value) < _MIN_MASKABLE or value in _registered:
        return
    with _registry_lock:
        _registered.add(value)
        # longest first, so a secret that contains another is masked whole
        _registered_sorted = tuple(sorted(_registered, key=len, reverse=True))


def mask(text: str) -> str:
    """Replace every secret value loaded in this process by ``**********``.

    >>> s = Secret("s3cr3t-value-123")
    >>> mask("header was s3cr3t-value-123")
    'header was **********'
    """
    for value in _registered_sorted:
        if value in text:
            text = text.replace(value, SECRET_MASK)
    return text


class Secret:
    """A string that never shows itself. Compare in constant time with ``==``."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("Secret() takes a str")
        object.__setattr__(self, "_value", value)
        _register(value)

    def reveal(self) -> str:
        """The secret value. Call it only where the value leaves the process on purpose."""
        return self._value

    @property
    def fingerprint(self) -> str:
        """A short, stable identifier: the first 8 hex digits of the value's SHA-256."""
        return hashlib.sha256(self._value.encode("utf-8")).hexdigest()[:8]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"Secret('{SECRET_MASK}')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other._value.encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("terra_auth.Secret", self._value))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "a terra_auth Secret cannot be pickled; pass the environment name and load "
            "the credentials again in the other process"
        )

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        """Let pydantic models hold a Secret; invalid input is never echoed in errors."""
        from pydantic_core import PydanticCustomError, core_schema

        def validate(value: Any) -> Secret:
            if isinstance(value, Secret):
                return value
            if isinstance(value, str):
                return cls(value)
            raise PydanticCustomError("secret_type", "a secret must be a string")

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: SECRET_MASK, when_used="always"
            ),
        )


class SecretMaskingFilter(logging.Filter):
    """A logging filter that masks every loaded secret value in a record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _registered_sorted:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual
            return True
        masked = mask(message)
        if masked != message or record.args:
            record.msg = masked
            record.args = None
        if record.exc_info and not record.exc_text:  # format the traceback now, to mask it
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


_installed = False


def install_log_masking(logger_name: str = "terra_auth") -> None:
    """Attach :class:`SecretMaskingFilter` to terra-auth's logger (idempotent).

    Filters on a logger apply to records logged on that logger itself; child loggers
    (``terra_auth.client`` ...) are covered because :func:`get_logger` adds the filter to
    each of them as well.
    """
    global _installed
    if _installed:
        return
    logging.getLogger(logger_name).addFilter(SecretMaskingFilter())
    _installed = True


def get_logger(name: str) -> logging.Logger:
    """A terra-auth logger whose records never carry a loaded secret value."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, SecretMaskingFilter) for f in logger.filters):
        logger.addFilter(SecretMaskingFilter())
    return logger
