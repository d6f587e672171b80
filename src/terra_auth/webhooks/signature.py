"""Sign and verify Terra webhooks: ``terra-signature: t=<unix>,v1=<hex>``.

One job, one error: every failure raises :class:`~terra_auth.errors.WebhookVerificationError`
with a machine-readable ``reason`` (see ``docs/webhooks.md``) and never a secret value.
The HMAC-SHA256 covers ``t + "." + raw body``; JSON is parsed only after the signature passed.

Example:
    >>> body = b'{"type":"auth","status":"success"}'
    >>> header = sign_webhook(body, "whsec_test", timestamp=1723808700)
    >>> header
    't=1723808700,v1=da461831d52bbcc2cebeb4a2048a56e013726c049d784421bd4b27686f469964'
    >>> verify_signature(body, header, "whsec_test", now=1723808701).timestamp
    1723808700
    >>> verify_webhook(body, header, "whsec_test", now=1723808701)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    terra_auth.errors.WebhookVerificationError: the 'auth' event is missing ... for: user
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeAlias

from terra_auth.environments import Environment, SigningSecret, TerraCredentials
from terra_auth.errors import ConfigurationError, WebhookVerificationError
from terra_auth.secret import Secret
from terra_auth.webhooks.events import WebhookEvent, parse_event

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADERS",
    "TRACE_ID_HEADER",
    "SecretsArg",
    "VerifiedSignature",
    "VerifiedWebhook",
    "sign_webhook",
    "verify_signature",
    "verify_webhook",
]

#: Seconds a signature stays acceptable, in both directions (Terra's SDKs use 300 too).
DEFAULT_TOLERANCE = 300
#: Header names looked up, case-insensitively (Terra sends both with the same value).
SIGNATURE_HEADERS = ("terra-signature", "x-terra-signature")
#: The delivery id header; stable across retries, ``<id>:chunk:<n>`` for chunks.
TRACE_ID_HEADER = "x-terra-trace-id"
_NAME_LENGTHS = frozenset(
    len(p + n) for n in (*SIGNATURE_HEADERS, TRACE_ID_HEADER) for p in ("", "http_")
)

_MAX_HEADER_CHARS = 4096  # a real header is ~80 characters; anything huge is refused unread
_MAX_TRACE_ID_CHARS = 256
_MAX_T_DIGITS = 20
_SECONDS_LIMIT = 10**11  # year 5138: a larger t is not a time in seconds
_MS_LIMIT = 10**14  # a millisecond timestamp of the years 2001..5138 lies below this
_MAX_CACHED_KEYS = 256

OneSecret: TypeAlias = str | Secret | SigningSecret
SecretsArg: TypeAlias = (
    OneSecret
    | TerraCredentials
    | Iterable[OneSecret]
    | Mapping[Environment | str, OneSecret | TerraCredentials | Iterable[OneSecret]]
)
HeadersArg: TypeAlias = (
    str | bytes | Mapping[str, str] | Mapping[bytes, bytes] | Iterable[tuple[Any, Any]] | None
)


class VerifiedSignature(NamedTuple):
    """The result of :func:`verify_signature`: who signed, when (``timestamp``, unix seconds,
    and ``signed_at``), and the raw bytes. Immutable."""

    environment: Environment | None
    trace_id: str | None
    timestamp: int
    body: bytes

    @property
    def signed_at(self) -> datetime:
        """``t=`` as a UTC datetime."""
        return datetime.fromtimestamp(self.timestamp, UTC)


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    """A webhook whose signature checked out.

    ``environment`` names the environment whose secret matched (``None`` when ``secrets`` was
    not a mapping); ``body`` is the raw signed bytes, to store or re-verify later.
    """

    environment: Environment | None
    event: WebhookEvent
    trace_id: str | None
    signed_at: datetime
    body: bytes


class _Key(NamedTuple):
    environment: Environment | None
    template: Any  # hmac.HMAC keyed with the secret, copied per message
    not_after: float | None


_template_cache: dict[str, Any] = {}


def _template(value: str) -> Any:
    """An HMAC object keyed with ``value``; cached, so the key schedule is done once."""
    found = _template_cache.get(value)
    if found is None:
        if len(_template_cache) >= _MAX_CACHED_KEYS:
            _template_cache.clear()
        found = _new_hmac(value.encode("utf-8"))
        _template_cache[value] = found
    return found


def _new_hmac(key: bytes) -> Any:
    """A keyed HMAC-SHA256 object to ``copy()`` per message.

    OpenSSL's own HMAC object (what :mod:`hmac` wraps in CPython) is used when present: its
    ``copy``/``update``/``hexdigest`` are C calls, about 0.5 µs less per verification than
    the pure-Python wrapper's. Anything else falls back to :func:`hmac.new`.
    """
    try:
        import _hashlib

        return _hashlib.hmac_new(key, digestmod="sha256")
    except (ImportError, AttributeError, TypeError, ValueError):  # another build or Python
        return hmac.new(key, digestmod=hashlib.sha256)


def _fail(reason: str, message: str, hint: str | None = None) -> WebhookVerificationError:
    error = WebhookVerificationError(reason, message)
    error.hint = hint
    return error


def sign_webhook(body: bytes | str, secret: str | Secret, timestamp: int | None = None) -> str:
    """The ``terra-signature`` header value Terra would send for ``body`` (for tests).

    >>> sign_webhook("{}", "whsec_test", timestamp=1).startswith("t=1,v1=")
    True
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if not isinstance(value, str) or not value:
        raise ConfigurationError(
            "sign_webhook() needs a non-empty signing secret (str or Secret)",
            hint="pass the environment's TERRA_WEBHOOK_SECRET",
        )
    t = int(time.time()) if timestamp is None else int(timestamp)
    mac = _template(value).copy()
    mac.update(f"{t}.".encode("ascii"))
    mac.update(raw)
    return f"t={t},v1={mac.hexdigest()}"


def _to_epoch(moment: datetime | float | None, what: str) -> float:
    if type(moment) is int:
        return moment
    if moment is None:
        return time.time()
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ConfigurationError(
                f"{what} is a naive datetime",
                hint="pass an aware datetime, e.g. datetime.now(timezone.utc), or unix seconds",
            )
        return moment.timestamp()
    if isinstance(moment, int | float) and not isinstance(moment, bool) and math.isfinite(moment):
        return float(moment)
    raise ConfigurationError(
        f"{what} must be a datetime or (finite) unix seconds, not {type(moment).__name__}",
        hint="pass datetime.now(timezone.utc) or time.time()",
    )


def _not_after(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # foundation parses ISO-8601; a naive value is taken as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


#: slot -> (item, its keys, the one key when there is exactly one that never expires)
_item_cache: dict[tuple[Any, Any], tuple[Any, tuple[_Key, ...], _Key | None]] = {}


def _slot(item: Any, tag: Any) -> tuple[Any, Any]:
    """Cache slot of a secret item: a str by value, anything else by identity. ``tag`` is the
    mapping key the item came under (a str, or an Environment member by identity: hashing an
    Enum member runs Python code), so the hot loop needs one lookup per entry; for nested
    items the environment's plain value, or ``None``."""
    return (item, tag) if type(item) is str else (id(item), tag)


def _tag(environment: Environment | None) -> str | None:
    return None if environment is None else environment._value_


def _expand(item: Any, environment: Environment | None, tag: Any = None) -> tuple[_Key, ...]:
    """The keys of one secret item; cached for immutable items (str, Secret, SigningSecret,
    TerraCredentials), so a call costs one dict lookup per item."""
    slot = _slot(item, tag if tag is not None else _tag(environment))
    found = _item_cache.get(slot)
    if found is not None and (found[0] is item or type(item) is str):
        return found[1]
    keys: tuple[_Key, ...]
    if isinstance(item, str):
        keys = (_Key(environment, _template(item), None),) if item else ()
    elif isinstance(item, Secret):
        keys = (_Key(environment, _template(item.reveal()), None),) if item else ()
    elif isinstance(item, SigningSecret):
        value = item.value.reveal() if isinstance(item.value, Secret) else str(item.value)
        keys = (_Key(environment, _template(value), _not_after(item.not_after)),) if value else ()
    elif isinstance(item, TerraCredentials):
        env = environment or item.environment
        keys = tuple(k for s in item.webhook_secrets for k in _expand(s, env))
    elif isinstance(item, Iterable) and not isinstance(item, bytes | bytearray | Mapping):
        parts: list[_Key] = []
        for secret in item:  # a list may change between calls: never cached
            if not isinstance(secret, str | Secret | SigningSecret):
                raise _bad_secrets(secret)
            parts.extend(_expand(secret, environment))
        return tuple(parts)
    else:
        raise _bad_secrets(item)
    if len(_item_cache) >= _MAX_CACHED_KEYS:
        _item_cache.clear()
    only = keys[0] if len(keys) == 1 and keys[0].not_after is None else None
    _item_cache[slot] = (item, keys, only)  # holding the item keeps its id from reuse
    return keys


def _bad_secrets(item: object) -> ConfigurationError:
    return ConfigurationError(
        f"webhook secrets of type {type(item).__name__} are not understood",
        hint="pass a str or Secret, a SigningSecret, a list of them, TerraCredentials, or a "
        "mapping of environment name to any of these",
    )


def _no_secret() -> WebhookVerificationError:
    return _fail(
        "no_secret",
        "no webhook signing secret is configured, so nothing can be verified",
        hint="set TERRA_WEBHOOK_SECRET (or TERRA_WEBHOOK_SECRET_<ENV>) from Terra's dashboard",
    )


_env_cache: dict[Any, Environment] = {}


def _environment(name: Any) -> Environment:
    found = _env_cache.get(name)
    if found is None:
        found = Environment.parse(name)
        if len(_env_cache) < _MAX_CACHED_KEYS:
            _env_cache[name] = found
    return found


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")  # HTTP header bytes, as ASGI and WSGI give them
    return None


def _lookup(headers: Any) -> tuple[str | None, str | None]:
    """(signature header, trace id) from a mapping, a list of pairs, or a bare signature."""
    text = _text(headers)
    if text is not None:
        return text, None
    if headers is None:
        return None, None
    items = headers.items() if hasattr(headers, "items") else headers
    signatures: list[str] = []
    trace_id: str | None = None
    try:
        for pair in items:
            name, value = pair
            if type(name) is not str:
                name = _text(name)
                if name is None:
                    continue
            if len(name) not in _NAME_LENGTHS:  # most headers are skipped on their length
                continue
            key = name.lower()
            if key.startswith("http_"):  # a WSGI environ / Django request.META
                key = key[5:].replace("_", "-")
            if key in SIGNATURE_HEADERS:
                found = _text(value)
                if found is None:
                    raise _fail("malformed_header", "the signature header is not text")
                signatures.append(found)
            elif key == TRACE_ID_HEADER:
                trace_id = _text(value)
    except (TypeError, ValueError) as exc:
        raise _fail(
            "malformed_header",
            "headers must be a mapping, a list of (name, value) pairs, or the signature string",
        ) from exc
    if not signatures:
        return None, trace_id
    first = signatures[0]
    for other in signatures[1:]:
        if other != first and other.strip() != first.strip():
            raise _fail(
                "malformed_header",
                "the request carries different values for terra-signature and X-Terra-Signature",
                hint="Terra sends the same value under both names; something altered one of them",
            )
    return first, trace_id


def _clean_trace_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_TRACE_ID_CHARS or not value.isascii():
        return None
    if not value.isprintable():
        return None
    return value


_CANONICAL = re.compile(r"t=([0-9]{1,11}),v1=([0-9a-f]{64})")


def _parse_header(header: str) -> tuple[str, list[bytes]]:
    """Strictly parse ``t=<digits>,v1=<hex>[,v1=...][,v0=...]`` into (t, v1 values)."""
    if len(header) > _MAX_HEADER_CHARS:
        raise _fail(
            "malformed_header",
            f"the signature header is longer than {_MAX_HEADER_CHARS} characters",
        )
    if not header.isascii():
        raise _fail("malformed_header", "the signature header holds non-ASCII characters")
    t: str | None = None
    v1: list[bytes] = []
    for part in header.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        value = value.strip()
        if not sep or not key or not value:
            raise _fail(
                "malformed_header",
                "the signature header must be comma-separated key=value pairs "
                "such as t=<unix seconds>,v1=<hex>",
            )
        if key == "t":
            if t is not None:
                raise _fail("malformed_header", "the signature header has more than one t=")
            t = value
        elif key == "v1":
            v1.append(value.encode("ascii"))
    if t is None:
        raise _fail("malformed_header", "the signature header has no timestamp (t=)")
    if not (t.isdigit() and len(t) <= _MAX_T_DIGITS):
        raise _fail("malformed_header", "the signature timestamp t= is not a whole number")
    if not v1:
        raise _fail(
            "no_v1",
            "the signature header has no v1 signature (other schemes are ignored)",
            hint="only the v1 scheme (HMAC-SHA256) is accepted",
        )
    return t, v1


def _try(keys: tuple[_Key, ...], msg: bytes, raw: bytes, v1: list[bytes], now: float) -> int:
    """Index of the first valid key whose HMAC matches a v1 (``-1`` none, ``-2`` expired only)."""
    result = -1
    for index, key in enumerate(keys):
        mac = key.template.copy()
        mac.update(msg)
        mac.update(raw)
        expected = mac.hexdigest().encode()
        matched = False
        for candidate in v1:  # every candidate is compared: no early exit on a match
            matched |= hmac.compare_digest(candidate, expected)
        if matched:
            if key.not_after is None or now <= key.not_after:
                return index
            result = -2
    return result


def _fast_item(item: Any, t: str, raw: bytes, signature: bytes) -> _Key | None:
    """The key of ``item`` (a ``Secret``, ``SigningSecret`` or ``TerraCredentials`` seen
    before, holding one never-expiring key) when it matches; ``None`` means: take the full
    check (lists are never cached, so they always take it)."""
    entry = _item_cache.get(_slot(item, None))
    if entry is None or entry[2] is None or entry[0] is not item:
        return None
    mac = entry[2].template.copy()
    mac.update(t.encode() + b".")
    mac.update(raw)
    return entry[2] if hmac.compare_digest(signature, mac.hexdigest().encode()) else None


_Entry: TypeAlias = tuple[Any, Any, Any, Environment | None]  # name, item, HMAC, environment
#: the first entry's four fields flat (read by one unpacking), the live ``items()`` view,
#: every entry, the dict's length then, and the dict itself
_Snapshot: TypeAlias = tuple[
    Any, Any, Any, Environment | None, Any, tuple[_Entry, ...], int, dict[Any, Any]
]
_NO_ENTRY = object()  # the first name and item when the first entry is not snapshotted

#: id(dict) -> its snapshot; see :func:`_remember_map`
_map_cache: dict[int, _Snapshot] = {}
_IMMUTABLE = frozenset({str, Secret, SigningSecret, TerraCredentials})
_NO_MAP: dict[Any, Any] = {}
#: the snapshot used last, tried before ``_map_cache`` (most services have one map)
_last_map: _Snapshot = (_NO_ENTRY, _NO_ENTRY, None, None, _NO_MAP.items(), (), 0, _NO_MAP)


def _remember_map(secrets: dict[Any, Any]) -> _Snapshot:
    """Snapshot an environment map once: ``(name, item, keyed HMAC, environment)`` for each
    leading entry that is an immutable item with one never-expiring key (stopping at the
    first list, rotation or unknown name: the full check handles those). Later calls compare
    each entry's name and item with the snapshot by identity before using it, so a changed
    dict is never served from it, and no name is hashed (an Enum member hashes in Python).

    The cache holds the dict, which keeps its ``id`` from being reused while cached.
    """
    entries: list[_Entry] = []
    for name, item in secrets.items():
        if type(item) not in _IMMUTABLE:
            break
        try:
            environment = _environment(name)
            keys = _expand(item, environment, name if type(name) is str else id(environment))
        except ConfigurationError:  # raised again, when reached, by the full check
            break
        if len(keys) != 1 or keys[0].not_after is not None:
            break
        entries.append((name, item, keys[0].template, keys[0].environment))
    first = entries[0] if entries else (_NO_ENTRY, _NO_ENTRY, None, None)
    snapshot = (*first, secrets.items(), tuple(entries), len(secrets), secrets)
    if len(_map_cache) >= _MAX_CACHED_KEYS:
        _map_cache.clear()
    _map_cache[id(secrets)] = snapshot
    global _last_map
    _last_map = snapshot
    return snapshot


def _walk_map(
    secrets: dict[Any, Any], snapshot: _Snapshot, msg: bytes, raw: bytes, signature: bytes
) -> Environment | None:
    """Try the entries after the first (already tried): the environment of the first whose
    key matches, or ``None`` (no match, or the dict changed: then the full check decides)."""
    entries = snapshot[5]
    for index, pair in enumerate(secrets.items()):
        if index == 0:
            continue  # already tried
        if index >= len(entries):
            return None
        entry = entries[index]
        if pair[0] is not entry[0] or pair[1] is not entry[1]:
            _remember_map(secrets)  # the dict changed: snapshot it again
            return None
        mac = entry[2].copy()
        mac.update(msg)
        mac.update(raw)
        if hmac.compare_digest(signature, mac.hexdigest().encode()):
            return entry[3]
    return None


def _check_signature(secrets: Any, t: str, raw: bytes, v1: list[bytes], now: float) -> _Key:
    """The key that signed; secrets are tried in order and expanded only when reached."""
    msg = t.encode() + b"."
    expired = tried = False
    if type(secrets) is str:  # one plain secret
        keys = _expand(secrets, None)
        found = _try(keys, msg, raw, v1, now)
        if found >= 0:
            return keys[found]
        tried = bool(keys)
    elif isinstance(secrets, Mapping):
        for name, item in secrets.items():
            environment = _environment(name)  # a str name, or an Environment (by identity)
            keys = _expand(item, environment, name if type(name) is str else id(environment))
            found = _try(keys, msg, raw, v1, now)
            if found >= 0:
                return keys[found]
            expired |= found == -2
            tried |= bool(keys)
    else:
        keys = _expand(secrets, None)
        found = _try(keys, msg, raw, v1, now)
        if found >= 0:
            return keys[found]
        expired, tried = found == -2, bool(keys)
    if not tried:
        raise _no_secret()
    if expired:
        raise _fail(
            "expired_secret",
            "the signature matches only a rotated-out secret (past its not-after time)",
            hint="Terra now signs with the new secret; drop the old one or extend its not-after",
        )
    upper = any(c != c.lower() for c in v1)
    raise _fail(
        "bad_signature",
        "no v1 signature matches the body"
        + (" (upper-case hex never matches: Terra signs with lower-case hex)" if upper else ""),
        hint="verify the raw request bytes (not re-serialised JSON) with this environment's "
        "signing secret",
    )


def _check_time(t: str, now: float, tolerance: float | None) -> int:
    stamp = int(t)
    if stamp >= _SECONDS_LIMIT:
        if stamp < _MS_LIMIT:
            raise _fail(
                "timestamp_in_milliseconds",
                "the signature timestamp is in milliseconds; Terra signs with unix seconds",
                hint="the sender must use seconds (an old docs sample used milliseconds)",
            )
        raise _fail("malformed_header", "the signature timestamp is not a plausible unix time")
    if tolerance is not None:
        age = now - stamp
        if age > tolerance:
            raise _fail(
                "too_old",
                f"the signature is {int(age)} s old, more than the tolerance of {tolerance:g} s",
                hint="a replay, or a delivery that waited: pass now= the time it was received",
            )
        if -age > tolerance:
            raise _fail(
                "too_new",
                f"the signature is {int(-age)} s in the future, more than the tolerance "
                f"of {tolerance:g} s",
                hint="check this machine's clock (NTP)",
            )
    return stamp


def _body_bytes(body: Any) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _fail("invalid_body", "the body is a str that is not valid Unicode") from exc
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise _fail(
        "invalid_body",
        f"the body must be the raw request bytes (or str), not {type(body).__name__}",
        hint="pass request.body() / request.get_data(), never the parsed JSON",
    )


def _check_tolerance(tolerance: Any) -> float | None:
    if tolerance is None or (type(tolerance) is int and tolerance >= 0):
        return tolerance
    if isinstance(tolerance, int | float) and not isinstance(tolerance, bool) and tolerance >= 0:
        return float(tolerance)
    raise ConfigurationError(
        "tolerance must be a number of seconds >= 0, or None",
        hint="the default, 300, matches Terra's SDKs",
    )


def verify_signature(
    body: bytes | str,
    headers_or_signature: HeadersArg,
    secrets: SecretsArg,
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: datetime | float | None = None,
) -> VerifiedSignature:
    """Check the signature and the timestamp only; the body is not parsed.

    Same arguments and failures as :func:`verify_webhook`, minus ``invalid_body`` for JSON.
    Use it to accept a delivery fast and parse later (like stripe's ``verify_header``).

    >>> header = sign_webhook(b"not even json", "whsec_test", timestamp=5)
    >>> verify_signature(b"not even json", header, "whsec_test", now=5).signed_at.year
    1970
    """
    global _last_map
    limit = tolerance if type(tolerance) is int and tolerance >= 0 else _check_tolerance(tolerance)
    moment = time.time() if now is None else now if type(now) is int else _to_epoch(now, "now")
    if not secrets:
        raise _no_secret()
    raw = body if type(body) is bytes else _body_bytes(body)
    header: str | None
    trace_id: str | None
    if type(headers_or_signature) is str:
        header, trace_id = headers_or_signature, None
    else:
        header, trace_id = _lookup(headers_or_signature)
    environment: Environment | None = None
    canonical = _CANONICAL.fullmatch(header) if header else None
    if canonical is not None:  # what Terra sends, parsed in one step
        t, hex_signature = canonical.groups()
        signature = hex_signature.encode()
        if type(secrets) is dict:  # an environment map: its snapshot, checked by identity
            snapshot = _last_map
            if snapshot[7] is not secrets:
                snapshot = _map_cache.get(id(secrets)) or _remember_map(secrets)
                _last_map = snapshot
            name0, item0, template0, environment0, view, entries, size, _ = snapshot
            for name, item in view:  # noqa: B007 (the first entry, its name not hashed)
                break
            matched = False
            if name is name0 and item is item0:
                msg = t.encode() + b"."
                mac = template0.copy()
                mac.update(msg)
                mac.update(raw)
                if hmac.compare_digest(signature, mac.hexdigest().encode()):
                    environment, matched = environment0, True
                elif len(entries) > 1:
                    environment = _walk_map(secrets, snapshot, msg, raw, signature)
                    matched = environment is not None
                if not matched and len(secrets) != size:
                    _remember_map(secrets)  # entries were added: snapshot again
            elif name0 is not _NO_ENTRY or len(secrets) != size:
                _remember_map(secrets)  # the dict changed: snapshot it again
        elif type(secrets) is str and (template := _template_cache.get(secrets)) is not None:
            mac = template.copy()  # one plain secret already keyed: the common case, inline
            mac.update(t.encode() + b".")
            mac.update(raw)
            matched = hmac.compare_digest(signature, mac.hexdigest().encode())
        else:
            key = _fast_item(secrets, t, raw, signature)
            matched = key is not None
            environment = None if key is None else key.environment
        if not matched:  # a miss, rotation, or keys not cached yet: the full check says why
            environment = _check_signature(secrets, t, raw, [signature], moment).environment
    elif header is None or not header.strip():
        raise _fail(
            "missing_header",
            "the request has no terra-signature (or X-Terra-Signature) header",
            hint="make sure your proxy forwards the terra-signature header",
        )
    else:
        t, v1 = _parse_header(header)  # several v1, other schemes, spaces: the full check
        environment = _check_signature(secrets, t, raw, v1, moment).environment
    stamp = int(t)
    if stamp >= _SECONDS_LIMIT or (limit is not None and abs(moment - stamp) > limit):
        _check_time(t, moment, limit)  # raises with the reason
    return _new_result(
        VerifiedSignature,
        (environment, None if trace_id is None else _clean_trace_id(trace_id), stamp, raw),
    )


_new_result = tuple.__new__  # a NamedTuple built without its keyword-handling __new__


def verify_webhook(
    body: bytes | str,
    headers_or_signature: HeadersArg,
    secrets: SecretsArg,
    *,
    tolerance: float | None = DEFAULT_TOLERANCE,
    now: datetime | float | None = None,
) -> VerifiedWebhook:
    """Check a webhook's signature and timestamp, then parse its event.

    ``headers_or_signature`` is the request's headers (a mapping or (name, value) pairs, the
    signature looked up case-insensitively as ``terra-signature`` or ``X-Terra-Signature``)
    or the signature string itself. ``secrets`` is one secret, a list (rotation), or a mapping
    of environment to secret(s); the result names the environment whose secret matched.
    JSON is parsed only after the signature and the time passed (``invalid_body`` if bad).

    >>> verify_webhook(b"{}", "t=1,v1=00", "whsec_test", now=1)
    Traceback (most recent call last):
    terra_auth.errors.WebhookVerificationError: no v1 signature matches the body
    """
    environment, trace_id, stamp, raw = verify_signature(
        body, headers_or_signature, secrets, tolerance=tolerance, now=now
    )
    event = parse_event(raw)  # only now, and still inside: invalid_body is raised from here
    webhook = _new_webhook(VerifiedWebhook)  # the frozen dataclass, its slots set directly
    _set_environment(webhook, environment)
    _set_event(webhook, event)
    _set_trace_id(webhook, trace_id)
    _set_signed_at(webhook, datetime.fromtimestamp(stamp, UTC))
    _set_body(webhook, raw)
    return webhook


_new_webhook = object.__new__
# the slot descriptors of VerifiedWebhook: half the cost of its frozen __init__'s setattr calls
_set_environment, _set_event, _set_trace_id, _set_signed_at, _set_body = (
    VerifiedWebhook.__dict__[name].__set__
    for name in ("environment", "event", "trace_id", "signed_at", "body")
)
