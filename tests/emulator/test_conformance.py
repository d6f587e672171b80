"""Every response of every endpoint, in each error style, validates against Terra's OpenAPI files;
every webhook payload validates against its event schema (terra-openapi/schemas, legacy/)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from terra_auth.emulator import Emulator

BASE = "https://terra-openapi.local/"
STYLES = ["problem", "legacy", "forbidden"]


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


@pytest.fixture(scope="module")
def specs(terra_openapi_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = {}
    for rel in ["v2-bundled.yaml", "widget-bundled.yaml", "legacy/v5-bundled.yaml"]:
        loaded[rel] = yaml.safe_load((terra_openapi_dir / rel).read_text())
    for folder in ["schemas/core", "legacy"]:
        for file in sorted((terra_openapi_dir / folder).glob("*.yaml")):
            if file.name != "v5-bundled.yaml":
                loaded[f"{folder}/{file.name}"] = yaml.safe_load(file.read_text())
    # legacy/*.yaml refer to TerraUser.yaml and WebhookEvent.yaml beside them, which live in core/
    for name in ["TerraUser.yaml", "WebhookEvent.yaml"]:
        loaded.setdefault(f"legacy/{name}", loaded[f"schemas/core/{name}"])
    return loaded


@pytest.fixture(scope="module")
def registry(specs: dict[str, Any]) -> Registry:
    return Registry().with_resources(
        (BASE + rel, Resource.from_contents(doc, default_specification=DRAFT202012))
        for rel, doc in specs.items()
    )


@pytest.fixture(scope="module")
def validate(registry: Registry) -> Callable[[Any, str], None]:
    def check(instance: Any, ref: str) -> None:
        validator = Draft202012Validator({"$ref": BASE + ref}, registry=registry)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        # The spec's /subscriptions answer is a oneOf of two objects with no `required`, so any
        # object matches both branches; read such an ambiguous oneOf as anyOf (noted in the docs).
        errors = [
            e for e in errors if not (e.validator == "oneOf" and "valid under each of" in e.message)
        ]
        assert not errors, f"{ref}: " + "; ".join(e.message for e in errors[:5])

    return check


def _resolve_response(spec: dict[str, Any], rel: str, pointer: list[str]) -> str | None:
    node: Any = spec
    for key in pointer:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    if isinstance(node, dict) and "$ref" in node:
        return rel + node["$ref"]
    return rel + "#/" + "/".join(_escape(p) for p in pointer)


def response_ref(
    specs: dict[str, Any], rel: str, path: str, method: str, status: int, media: str
) -> str | None:
    """JSON-pointer ref of the documented schema for one answer, or None when undocumented."""
    spec = specs[rel]
    responses = spec["paths"].get(path, {}).get(method, {}).get("responses", {})
    entry = responses.get(str(status))
    if entry is None:
        return None
    base = _resolve_response(spec, rel, ["paths", path, method, "responses", str(status)])
    assert base is not None
    if "$ref" in entry:  # components/responses/X
        name = entry["$ref"].rsplit("/", 1)[1]
        component = spec["components"]["responses"][name]
        media = next(iter(component["content"]))
        return f"{rel}#/components/responses/{name}/content/{_escape(media)}/schema"
    content = entry.get("content", {})
    media = media if media in content else next(iter(content))
    return f"{base}/content/{_escape(media)}/schema"


PROBLEM_BY_STATUS = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 403: "Forbidden"}


def check_response(
    specs: dict[str, Any],
    validate: Callable[[Any, str], None],
    response: httpx.Response,
    *,
    path: str,
    method: str,
    style: str,
    widget: bool = False,
) -> str:
    """Validate one answer; returns the ref used (so the test proves it checked something)."""
    status = response.status_code
    body = response.json()
    media = response.headers["content-type"].split(";")[0]
    if widget:
        ref = response_ref(specs, "widget-bundled.yaml", "/widget/api/session", "post", status, media)
        if ref is None and status >= 500:  # undocumented 5xx: the documented error shape
            ref = response_ref(specs, "widget-bundled.yaml", "/widget/api/session", "post", 400, media)
        assert ref is not None, f"widget answered an undocumented {status}"
        if status >= 400:
            assert set(body) == {"status", "message"} and body["status"] == "error"
        validate(body, ref)
        return ref
    if status < 400:
        ref = response_ref(specs, "v2-bundled.yaml", path, method, status, media)
        assert ref is not None, f"{method} {path} answered an undocumented {status}"
        validate(body, ref)
        return ref
    if style == "problem":
        assert media == "application/problem+json"
        ref = response_ref(specs, "v2-bundled.yaml", path, method, status, media)
        if ref is None:
            name = PROBLEM_BY_STATUS.get(status)
            ref = (
                f"v2-bundled.yaml#/components/responses/{name}/content/"
                f"{_escape(next(iter(specs['v2-bundled.yaml']['components']['responses'][name]['content'])))}/schema"
                if name
                else "v2-bundled.yaml#/components/schemas/Problem"
            )
        assert body["instance"].startswith("/") and body["title"] == body["title"].lower()
        validate(body, ref)
        return ref
    # legacy and forbidden styles: the pre-2026 {status, message} shape from v5-bundled.yaml
    assert media == "application/json"
    assert set(body) == {"status", "message"} and body["status"] == "error"
    ref = response_ref(specs, "legacy/v5-bundled.yaml", path, method, status, media)
    if ref is None:
        ref = response_ref(specs, "legacy/v5-bundled.yaml", "/auth/authenticateUser", "post", 400, media)
    assert ref is not None
    validate(body, ref)
    return ref


@pytest.fixture(params=STYLES)
def styled(request: pytest.FixtureRequest) -> Iterator[tuple[Emulator, str]]:
    with Emulator(seed=5, error_style=request.param, time_scale=0.001, deauth_delay=0) as emu:
        yield emu, request.param


def test_every_endpoint_validates_in_each_error_style(
    styled: tuple[Emulator, str], specs, validate
) -> None:
    emu, style = styled
    account = emu.environments["testing"]
    good = {"dev-id": account.dev_id, "x-api-key": account.api_key}
    bad = {"dev-id": account.dev_id, "x-api-key": "wrong-key"}
    users = [emu.connect("testing", provider="FITBIT", reference_id="ref") for _ in range(1)]
    users.append(emu.connect("testing", provider="GARMIN", reference_id="ref"))
    uid = users[0]["user_id"]
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/integrations", {}),
        ("GET", "/integrations/detailed", {"params": {"sdk": "true"}}),
        ("GET", "/integrations/detailed", {"headers": {"dev-id": account.dev_id}}),
        ("POST", "/auth/generateWidgetSession", {"json": {"reference_id": "r", "providers": "FITBIT"}}),
        ("POST", "/auth/generateWidgetSession", {"json": {"providers": "NOPE"}}),
        ("POST", "/auth/generateWidgetSession", {"content": b"{not json"}),
        ("POST", "/auth/authenticateUser", {"params": {"resource": "FITBIT"}, "json": {"reference_id": "r"}}),
        ("POST", "/auth/authenticateUser", {"params": {"resource": "NOPE"}}),
        ("POST", "/auth/authenticateUser", {}),
        ("POST", "/auth/generateAuthToken", {}),
        ("GET", "/userInfo", {"params": {"user_id": uid}}),
        ("GET", "/userInfo", {"params": {"reference_id": "ref"}}),
        ("GET", "/userInfo", {"params": {"user_id": "missing"}}),
        ("GET", "/userInfo", {}),
        ("GET", "/subscriptions", {}),
        ("GET", "/subscriptions", {"params": {"page": 0, "per_page": 1}}),
        ("GET", "/subscriptions", {"params": {"page": "x"}}),
        ("POST", "/bulkUserInfo", {"json": [uid]}),
        ("POST", "/bulkUserInfo", {"json": {"no": 1}}),
        ("POST", "/bulkUserInfo", {"json": ["missing"]}),
        ("DELETE", "/auth/deauthenticateUser", {"params": {"user_id": users[1]["user_id"]}}),
        ("DELETE", "/auth/deauthenticateUser", {"params": {"user_id": "missing"}}),
    ]
    checked = 0
    with httpx.Client(base_url=emu.url) as http:
        for prefix in ("/v2", "/api/v2"):
            for method, path, kwargs in calls:
                if path == "/auth/deauthenticateUser" and prefix == "/api/v2" and "missing" not in str(kwargs):
                    continue  # already deleted through /v2
                kw = dict(kwargs)
                extra = kw.pop("headers", {})
                headers = extra if path.startswith("/integrations") else {**good, **extra}
                r = http.request(method, prefix + path, headers=headers, **kw)
                check_response(specs, validate, r, path=path, method=method.lower(), style=style)
                checked += 1
            for method, path, _ in calls:
                if path.startswith("/integrations"):
                    continue
                for creds in ({}, bad):
                    r = http.request(method, prefix + path, headers=creds, json={})
                    assert r.status_code == (403 if style == "forbidden" else 401)
                    check_response(specs, validate, r, path=path, method=method.lower(), style=style)
                    checked += 1
            emu.environments["testing"].legacy_widget_gone = True
            r = http.post(prefix + "/auth/generateWidgetSession", headers=good, json={})
            assert r.status_code == 410
            check_response(specs, validate, r, path="/auth/generateWidgetSession", method="post", style=style)
            emu.environments["testing"].legacy_widget_gone = False
    assert checked > 80


def test_faults_validate_in_each_error_style(styled: tuple[Emulator, str], specs, validate) -> None:
    emu, style = styled
    account = emu.environments["testing"]
    emu.inject_fault("/userInfo", kind="status", status=503, count=1)
    emu.inject_fault("/userInfo", kind="rate_limit", count=1)
    with httpx.Client(base_url=emu.url) as http:
        for status in (503, 429):
            r = http.get("/api/v2/userInfo?user_id=x", headers={"dev-id": account.dev_id, "x-api-key": account.api_key})
            assert r.status_code == status
            check_response(specs, validate, r, path="/userInfo", method="get", style=style)


@pytest.mark.parametrize("path", ["/api/widget/session", "/widget/api/session"])
def test_new_widget_endpoint_validates(emu: Emulator, specs, validate, path: str) -> None:
    account = emu.environments["testing"]
    good = {"dev-id": account.dev_id, "x-api-key": account.api_key}
    with httpx.Client(base_url=emu.url) as http:
        answers = [
            http.post(path, headers=good, json={"reference_id": "r", "providers": "FITBIT,OURA"}),
            http.post(path, headers=good, json={"providers": 3}),
            http.post(path, headers=good, content=b"[]"),
            http.post(path, headers={}, json={}),
            http.post(path, headers={**good, "x-api-key": "x"}, json={}),
        ]
        emu.inject_fault(path, kind="status", status=503, count=1)
        answers.append(http.post(path, headers=good, json={}))
    assert [a.status_code for a in answers] == [200, 400, 400, 403, 403, 503]
    for answer in answers:
        check_response(specs, validate, answer, path=path, method="post", style="legacy", widget=True)


WEBHOOK_SCHEMA = {
    "auth": "schemas/core/AuthSuccessEvent.yaml",
    "auth_cancelled": "schemas/core/AuthErrorEvent.yaml",
    "deauth": "schemas/core/DeauthEvent.yaml",
    "user_reauth": "schemas/core/UserReauthEvent.yaml",
    "access_revoked": "schemas/core/AccessRevokedEvent.yaml",
    "connection_error": "schemas/core/ConnectionErrorEvent.yaml",
    "permission_change": "schemas/core/PermissionChangeEvent.yaml",
}
WEBHOOK_SECTION = {
    "auth": "auth",
    "auth_cancelled": "auth",
    "deauth": "deauth",
    "user_reauth": "user_reauth",
    "access_revoked": "access_revoked",
    "connection_error": "connection_error",
    "permission_change": "permission_change",
}


def _all_events(emu: Emulator) -> list[dict[str, Any]]:
    a = emu.connect("testing", provider="FITBIT", reference_id="r")
    emu.connect("testing", provider="FITBIT", reference_id="r")  # user_reauth
    b = emu.connect("testing", provider="OURA")
    for event in ("connection_error", "access_revoked", "auth", "auth_cancelled"):
        emu.trigger("testing", b["user_id"], event)
    emu.trigger("testing", b["user_id"], "permission_change", scopes_added="x", scopes_removed="")
    emu.trigger("testing", b["user_id"], "user_reauth")
    emu.trigger("testing", emu.users[-1]["user_id"], "deauth")
    emu.engine.fail_connection("testing", provider="GARMIN", reference_id=None, reason="access_denied")
    assert a
    return [json.loads(d.body) for d in emu.deliveries]


def test_every_webhook_payload_validates_against_its_event_schema(specs, validate) -> None:
    with Emulator(seed=9, time_scale=0.001, deauth_delay=0) as emu:
        payloads = _all_events(emu)
    types = {p["type"] for p in payloads}
    assert types == set(WEBHOOK_SCHEMA)
    webhooks = specs["v2-bundled.yaml"]["webhooks"]
    for payload in payloads:
        validate(payload, WEBHOOK_SCHEMA[payload["type"]])
        section = WEBHOOK_SECTION[payload["type"]]
        if section in webhooks:
            validate(
                payload,
                f"v2-bundled.yaml#/webhooks/{section}/post/requestBody/content/application~1json/schema",
            )


def test_legacy_failed_auth_validates_against_the_legacy_schema(specs, validate) -> None:
    with Emulator(seed=9, legacy_auth_error=True) as emu:
        emu.engine.fail_connection("testing", provider="GARMIN", reference_id=None, reason="auth_cancelled")
        user = emu.connect("testing", provider="FITBIT", reference_id="r")
        emu.connect("testing", provider="FITBIT", reference_id="r")
        payloads = [json.loads(d.body) for d in emu.deliveries]
    legacy_error, reauth = payloads[0], payloads[-1]
    assert legacy_error["type"] == "auth" and legacy_error["status"] == "error"
    validate(legacy_error, "legacy/AuthErrorEvent.yaml")
    validate(reauth, "legacy/UserReauthEvent.yaml")
    assert reauth["old_user"]["user_id"] == user["user_id"]


def test_the_validator_rejects_a_wrong_payload(validate) -> None:
    with pytest.raises(AssertionError):
        validate({"type": "deauth", "status": "success"}, "schemas/core/DeauthEvent.yaml")
    with pytest.raises(AssertionError):
        validate({"title": "x"}, "v2-bundled.yaml#/components/schemas/Problem")


def test_endpoints_outside_the_2026_spec_validate_against_their_documented_shapes(
    styled: tuple[Emulator, str], specs, validate
) -> None:
    """/auth/tokens answers like generateAuthToken; PATCH /users/{id} as in the v5 spec."""
    emu, style = styled
    account = emu.environments["testing"]
    good = {"dev-id": account.dev_id, "x-api-key": account.api_key}
    user = emu.connect("testing", provider="FITBIT", reference_id="p")
    with httpx.Client(base_url=emu.url) as http:
        for prefix in ("/v2", "/api/v2"):
            token = http.post(f"{prefix}/auth/tokens?reference_id=p", headers=good)
            assert token.status_code == 200
            check_response(specs, validate, token, path="/auth/generateAuthToken", method="post", style=style)
            patched = http.patch(f"{prefix}/users/{user['user_id']}", headers=good, json={"active": False})
            assert patched.status_code == 200 and patched.json()["user"]["active"] is False
            ref = response_ref(specs, "legacy/v5-bundled.yaml", "/users/{user_id}", "patch", 200, "application/json")
            assert ref is not None
            validate(patched.json(), ref)
            missing = http.patch(f"{prefix}/users/nope", headers=good, json={})
            assert missing.status_code == 404
            check_response(specs, validate, missing, path="/userInfo", method="get", style=style)
