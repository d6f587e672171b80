"""Error bodies in each of Terra's styles, and small request helpers.

Styles: ``problem`` (RFC 9457, ``application/problem+json``, lowercase status text as title,
path+query as instance), ``legacy`` (``{"status": "error", "message": ...}``) and ``forbidden``
(the legacy body, with credential failures answered 403 as in Terra's oldest docs).

Example:
    >>> error_body("problem", 401, "no key", "/v2/userInfo")[1]["title"]
    'unauthorized'
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from terra_auth.secret import mask

__all__ = [
    "STYLE_HEADER",
    "BadRequest",
    "error_body",
    "error_response",
    "instance_of",
    "json_response",
    "read_json",
    "status_title",
]

#: a request header choosing the error style of one request (``problem|legacy|forbidden``)
STYLE_HEADER = "x-emulator-error-style"


class BadRequest(Exception):
    """Raised inside a handler to answer an error in the request's style."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        credentials: bool = False,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.credentials = credentials
        self.headers = headers


def status_title(status: int) -> str:
    """The lowercase HTTP status text, e.g. ``unauthorized``."""
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def instance_of(path: str, query: bytes | str) -> str:
    """Request path plus query string, as RFC 9457 ``instance``."""
    q = query.decode("latin-1") if isinstance(query, bytes) else query
    return f"{path}?{q}" if q else path


def error_body(
    style: str, status: int, detail: str, instance: str, *, credentials: bool = False
) -> tuple[int, dict[str, Any], str]:
    """``(status, body, content type)`` for an error in ``style`` (any loaded secret masked)."""
    detail, instance = mask(detail), mask(instance)
    if style == "problem":
        body = {
            "type": "about:blank",
            "title": status_title(status),
            "instance": instance,
            "detail": detail,
        }
        return status, body, "application/problem+json"
    if style == "forbidden" and credentials:
        status = 403
    return status, {"status": "error", "message": detail}, "application/json"


def error_response(
    style: str,
    status: int,
    detail: str,
    instance: str,
    *,
    credentials: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    """An error response in ``style``."""
    code, body, media = error_body(style, status, detail, instance, credentials=credentials)
    return Response(json.dumps(body).encode(), status_code=code, media_type=media, headers=headers)


def json_response(body: Any, status: int = 200) -> Response:
    """A compact JSON response."""
    return JSONResponse(body, status_code=status)


async def read_json(request: Request, *, required: bool) -> Any:
    """The parsed JSON body; None when empty and not required; 400 when malformed."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise BadRequest(400, "a JSON request body is required (send at least {})")
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest(400, "the request body is not valid JSON") from None
