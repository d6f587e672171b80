"""Argument checks and the :class:`~terra_auth._request.Call` of every client operation.

Both clients build their requests here, so sync and async send byte-identical requests. Every
check runs before any request is sent and raises :class:`~terra_auth.errors.InvalidRequestError`
with a hint.

Example:
    >>> providers_csv(["fitbit", " Garmin"])
    'FITBIT,GARMIN'
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

import httpx

from terra_auth._request import Call, read_json
from terra_auth.environments import Environment, TerraCredentials
from terra_auth.errors import InvalidRequestError, TerraApiError
from terra_auth.models import (
    AuthLink,
    Integration,
    MobileToken,
    StreamingToken,
    TerraUser,
    WidgetSession,
)

_PROVIDER = re.compile(r"^[A-Z0-9_]{2,40}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
_ID = re.compile(r"^[^\s\x00-\x1f\x7f]{1,256}$")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + path


# ---------------------------------------------------------------- argument checks


def providers_csv(providers: Iterable[str] | str | None) -> str | None:
    """Validate provider codes, upper-case them and join them as Terra expects (``A,B``)."""
    if providers is None:
        return None
    items = providers.split(",") if isinstance(providers, str) else list(providers)
    codes: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise InvalidRequestError(
                f"providers must be strings, got {type(item).__name__}",
                hint="pass provider codes such as ['FITBIT', 'GARMIN']",
            )
        code = item.strip().upper()
        if not _PROVIDER.match(code):
            raise InvalidRequestError(
                f"{item.strip()!r} is not a Terra provider code",
                hint="use codes such as FITBIT, GARMIN or OURA (terra-auth list-integrations "
                "shows them)",
            )
        if code not in codes:
            codes.append(code)
    if not codes:
        raise InvalidRequestError(
            "the providers list is empty",
            hint="leave providers out to show the providers enabled in Terra's dashboard",
        )
    return ",".join(codes)


def check_id(name: str, value: object) -> str:
    """A non-empty identifier without whitespace or control characters."""
    if not isinstance(value, str) or not _ID.match(value):
        shown = repr(value)[:60]
        raise InvalidRequestError(
            f"{name} {shown} is not a valid id",
            hint=f"{name} must be 1 to 256 characters, without spaces or control characters",
        )
    return value


def check_language(language: str | None) -> str | None:
    """A language tag such as ``en`` or ``pt-BR`` (or None for the browser's language)."""
    if language is None:
        return None
    if not isinstance(language, str) or not _LANGUAGE.match(language):
        raise InvalidRequestError(
            f"{language!r} is not a language tag",
            hint="use a language tag such as 'en', 'de' or 'pt-BR', or leave it out",
        )
    return language


def _host_allowed(host: str, port: int | None, allowed: Iterable[str]) -> bool:
    for raw in allowed:
        entry = raw.strip().lower()
        if not entry:
            continue
        if ":" in entry and not entry.startswith("["):
            name, _, entry_port = entry.rpartition(":")
            if host == name and str(port) == entry_port:
                return True
            continue
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def check_redirect_url(name: str, url: object, credentials: TerraCredentials) -> str:
    """Check a redirect URL: http(s), https outside testing (localhost exempt), allowlisted."""
    example = "https://app.example.com/terra/done"
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequestError(
            f"{name} is empty", hint=f"pass an absolute URL such as {example}"
        )
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidRequestError(
            f"{name} must be an http(s) URL, not {scheme + ':' if scheme else 'a relative URL'}",
            hint=f"pass an absolute URL such as {example}",
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidRequestError(f"{name} has no host", hint=f"pass a URL such as {example}")
    env = credentials.environment
    local = host in _LOCAL_HOSTS or host.endswith(".localhost")
    if scheme == "http" and env != Environment.TESTING and not local:
        raise InvalidRequestError(
            f"{name} must use https in the '{env}' environment (got http://{host})",
            hint="use an https URL; plain http is accepted only in 'testing' or for localhost",
        )
    allowed = credentials.allowed_redirect_hosts
    if allowed and not _host_allowed(host, parts.port, allowed):
        raise InvalidRequestError(
            f"{name} points at {host}, which is not an allowed redirect host",
            hint=f"add it to TERRA_ALLOWED_REDIRECT_HOSTS (now: {', '.join(allowed)})",
        )
    return url.strip()


# ---------------------------------------------------------------- parsers


def _obj(response: httpx.Response, call: Call[Any]) -> dict[str, Any]:
    data = read_json(response, call)
    if not isinstance(data, dict):
        raise _shape_error(response, call, "an object")
    return data


def _shape_error(response: httpx.Response, call: Call[Any], expected: str) -> TerraApiError:
    return TerraApiError(
        f"Terra's answer to {call.operation} was not {expected}",
        status_code=response.status_code,
        trace_id=response.headers.get("x-terra-trace-id"),
        method=call.method,
        path=response.request.url.path,
        hint="check TERRA_API_BASE_URL points at Terra's data API (…/api/v2)",
    )


def _users(response: httpx.Response, call: Call[Any]) -> list[TerraUser]:
    data = read_json(response, call)
    if isinstance(data, dict):  # tolerated: {"users": [...]} and {"user": {...}}
        if isinstance(data.get("users"), list):
            data = data["users"]
        elif isinstance(data.get("user"), dict):
            data = [data["user"]]
    if not isinstance(data, list):
        raise _shape_error(response, call, "a list of users")
    return [TerraUser.model_validate(item) for item in data if isinstance(item, dict)]


# ---------------------------------------------------------------- calls


def list_integrations(
    creds: TerraCredentials, detailed: bool, sdk: bool | None
) -> Call[list[Integration]]:
    """``GET /integrations`` (codes) or ``GET /integrations/detailed`` (names, icons)."""
    if detailed:

        def parse_detailed(response: httpx.Response) -> list[Integration]:
            data = _obj(response, call)
            items = data.get("providers") or []
            return [Integration.model_validate(item) for item in items if isinstance(item, dict)]

        params = None if sdk is None else {"sdk": "true" if sdk else "false"}
        call: Call[list[Integration]] = Call(
            "list_integrations",
            "GET",
            _join(creds.api_base_url, "/integrations/detailed"),
            parse_detailed,
            params=params,
        )
        return call

    def parse_basic(response: httpx.Response) -> list[Integration]:
        data = _obj(response, basic)
        providers = [p for p in data.get("providers") or [] if isinstance(p, str)]
        sdk_names = data.get("sdk_providers")
        if sdk_names is None:
            sdk_names = data.get("sdk_resource")  # the 2025 name
        out = [Integration(provider=p) for p in providers]
        if sdk is not False:
            out += [
                Integration(provider=p, sdk_only=True)
                for p in sdk_names or []
                if isinstance(p, str) and p not in providers
            ]
        return out

    basic = Call(
        "list_integrations", "GET", _join(creds.api_base_url, "/integrations"), parse_basic
    )
    return basic


def widget_session(
    creds: TerraCredentials,
    *,
    legacy: bool,
    reference_id: str,
    success_url: str,
    failure_url: str,
    providers: Iterable[str] | str | None = None,
    language: str | None = None,
    show_disconnect: bool | None = None,
    use_terra_avengers_app: bool | None = None,
    samsung_app_url: str | None = None,
) -> Call[WidgetSession]:
    """The widget session on the new endpoint, or on ``/auth/generateWidgetSession``."""
    body: dict[str, Any] = {
        "reference_id": check_id("reference_id", reference_id),
        "auth_success_redirect_url": check_redirect_url("success_url", success_url, creds),
        "auth_failure_redirect_url": check_redirect_url("failure_url", failure_url, creds),
    }
    csv = providers_csv(providers)
    if csv is not None:
        body["providers"] = csv
    if language is not None:
        body["language"] = check_language(language)
    if show_disconnect is not None:
        body["show_disconnect"] = bool(show_disconnect)
    if use_terra_avengers_app is not None:
        body["use_terra_avengers_app"] = bool(use_terra_avengers_app)
    if samsung_app_url is not None:
        body["samsung_app_url"] = check_redirect_url("samsung_app_url", samsung_app_url, creds)

    def parse(response: httpx.Response) -> WidgetSession:
        data = _obj(response, call)
        if not isinstance(data.get("url"), str):
            raise _shape_error(response, call, "a widget session (no url)")
        return WidgetSession.from_wire(data)

    if legacy:
        url = _join(creds.api_base_url, "/auth/generateWidgetSession")
        call = Call("widget_session_legacy", "POST", url, parse, body=body)
    else:
        call = Call(
            "widget_session", "POST", creds.widget_session_url, parse, body=body, host="widget"
        )
    return call


def mobile_token(creds: TerraCredentials, reference_id: str | None) -> Call[MobileToken]:
    """``POST /auth/generateAuthToken``, or ``POST /auth/tokens?reference_id=`` to bind a user.

    The reference id goes in the query: Terra ignores it in a body and returns an unbound token.
    """

    def parse(response: httpx.Response) -> MobileToken:
        data = _obj(response, call)
        if not isinstance(data.get("token"), str):
            raise _shape_error(response, call, "a token")
        return MobileToken.from_wire(data, reference_id=reference_id)

    if reference_id is None:
        call = Call(
            "mobile_token", "POST", _join(creds.api_base_url, "/auth/generateAuthToken"), parse
        )
    else:
        params = {"reference_id": check_id("reference_id", reference_id)}
        url = _join(creds.api_base_url, "/auth/tokens")
        call = Call("mobile_token", "POST", url, parse, params=params)
    return call


def authenticate_user(
    creds: TerraCredentials,
    *,
    resource: str,
    reference_id: str,
    success_url: str,
    failure_url: str,
    language: str | None,
) -> Call[AuthLink]:
    """``POST /auth/authenticateUser?resource=`` with the redirect URLs in the body."""
    code = providers_csv([resource]) if isinstance(resource, str) else None
    if code is None or "," in code:
        raise InvalidRequestError(
            f"resource {resource!r} is not one provider code",
            hint="pass one provider code such as FITBIT",
        )
    body: dict[str, Any] = {
        "reference_id": check_id("reference_id", reference_id),
        "auth_success_redirect_url": check_redirect_url("success_url", success_url, creds),
        "auth_failure_redirect_url": check_redirect_url("failure_url", failure_url, creds),
    }
    if language is not None:
        body["language"] = check_language(language)

    def parse(response: httpx.Response) -> AuthLink:
        return AuthLink.model_validate(_obj(response, call))

    url = _join(creds.api_base_url, "/auth/authenticateUser")
    call = Call("authenticate_user", "POST", url, parse, params={"resource": code}, body=body)
    return call


def deauthenticate_user(creds: TerraCredentials, user_id: str) -> Call[None]:
    """``DELETE /auth/deauthenticateUser?user_id=`` (a query, not a body)."""

    def parse(response: httpx.Response) -> None:
        return None

    params = {"user_id": check_id("user_id", user_id)}
    url = _join(creds.api_base_url, "/auth/deauthenticateUser")
    return Call(
        "deauthenticate_user", "DELETE", url, parse, params=params, missing_ok_after_retry=True
    )


def get_user(creds: TerraCredentials, user_id: str) -> Call[TerraUser]:
    """``GET /userInfo?user_id=`` -> the ``user`` object."""

    def parse(response: httpx.Response) -> TerraUser:
        data = _obj(response, call)
        user = data.get("user", data)
        if not isinstance(user, dict):
            raise _shape_error(response, call, "a user")
        return TerraUser.model_validate(user)

    params = {"user_id": check_id("user_id", user_id)}
    call = Call("get_user", "GET", _join(creds.api_base_url, "/userInfo"), parse, params=params)
    return call


def find_users(creds: TerraCredentials, reference_id: str) -> Call[list[TerraUser]]:
    """``GET /userInfo?reference_id=`` -> a bare array, one user per connection."""
    params = {"reference_id": check_id("reference_id", reference_id)}
    url = _join(creds.api_base_url, "/userInfo")
    call: Call[list[TerraUser]] = Call(
        "find_users", "GET", url, lambda r: _users(r, call), params=params
    )
    return call


def users_page(
    creds: TerraCredentials, page: int, per_page: int
) -> Call[tuple[list[TerraUser], int | None]]:
    """``GET /subscriptions?page=&per_page=`` -> (users, next page or None)."""

    def parse(response: httpx.Response) -> tuple[list[TerraUser], int | None]:
        data = _obj(response, call)
        inner = data.get("data")
        if isinstance(inner, dict):
            results = inner.get("results") or []
            nxt = inner.get("next")
            users = [TerraUser.model_validate(u) for u in results if isinstance(u, dict)]
            return users, nxt if isinstance(nxt, int) and nxt > page else None
        legacy = data.get("users")  # the unpaginated shape: everything at once
        if isinstance(legacy, list):
            return [TerraUser.model_validate(u) for u in legacy if isinstance(u, dict)], None
        raise _shape_error(response, call, "a page of users")

    params = {"page": str(page), "per_page": str(per_page)}
    url = _join(creds.api_base_url, "/subscriptions")
    call = Call("iter_users", "GET", url, parse, params=params)
    return call


def bulk_user_info(creds: TerraCredentials, user_ids: Iterable[str]) -> Call[list[TerraUser]]:
    """``POST /bulkUserInfo`` with a bare JSON array of user ids."""
    if isinstance(user_ids, str):
        raise InvalidRequestError(
            "user_ids must be a list of ids, not one string", hint="pass ['id1', 'id2']"
        )
    ids = [check_id("user_id", u) for u in user_ids]
    url = _join(creds.api_base_url, "/bulkUserInfo")
    call: Call[list[TerraUser]] = Call(
        "bulk_user_info", "POST", url, lambda r: _users(r, call), body=ids
    )
    return call


def streaming_token(creds: TerraCredentials, user_id: str | None) -> Call[StreamingToken]:
    """``POST <streaming>/auth/user?id=`` or ``POST <streaming>/auth/developer``."""

    def parse(response: httpx.Response) -> StreamingToken:
        data = _obj(response, call)
        if not isinstance(data.get("token"), str):
            raise _shape_error(response, call, "a token")
        kind = "developer" if user_id is None else "user"
        return StreamingToken(token=data["token"], kind=kind, user_id=user_id)

    if user_id is None:
        url = _join(creds.streaming_url, "/auth/developer")
        call = Call("developer_token", "POST", url, parse, host="streaming")
    else:
        params = {"id": check_id("user_id", user_id)}
        url = _join(creds.streaming_url, "/auth/user")
        call = Call("streaming_token", "POST", url, parse, params=params, host="streaming")
    return call


def check(creds: TerraCredentials) -> Call[None]:
    """A read-only authenticated request: one page of one user from ``/subscriptions``."""

    def parse(response: httpx.Response) -> None:
        data = _obj(response, call)
        if not ("data" in data or "users" in data or "status" in data):
            raise _shape_error(response, call, "Terra's /subscriptions answer")

    params = {"page": "0", "per_page": "1"}
    url = _join(creds.api_base_url, "/subscriptions")
    call = Call("check", "GET", url, parse, params=params, retry=False)
    return call
