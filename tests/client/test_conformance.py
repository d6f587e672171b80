"""Conformance with Terra's published OpenAPI files (read from ../shared, never copied here).

Requests: bodies validate against ``WidgetSessionParams`` and every parameter the spec puts in the
query is sent in the query. Answers: an instance built from each 200 schema's examples parses
into our models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from terra_auth.client import RetryPolicy, TerraClient
from terra_auth.environments import Environment, TerraCredentials
from terra_auth.secret import Secret

yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")

BASE = "https://terra.test/api/v2"
WIDGET = "https://terra.test/api/widget/session"
OK = "https://app.example.com/ok"


@pytest.fixture(scope="module")
def v2(terra_openapi_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((terra_openapi_dir / "v2-bundled.yaml").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def widget_spec(terra_openapi_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((terra_openapi_dir / "widget-bundled.yaml").read_text())  # type: ignore[no-any-return]


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def example(spec: dict[str, Any], schema: dict[str, Any], prefer_array: bool = False) -> Any:
    """An instance of ``schema`` made from its examples."""
    schema = resolve(spec, schema)
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [resolve(spec, s) for s in schema[key]]
            arrays = [o for o in options if o.get("type") == "array"]
            return example(spec, (arrays or options)[0] if prefer_array else options[0])
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(example(spec, part))
        return merged
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object" or "properties" in schema:
        return {k: example(spec, v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(spec, schema.get("items", {}))]
    return {"string": "x", "integer": 1, "number": 1.0, "boolean": True}.get(kind or "", None)


def answer(spec: dict[str, Any], path: str, method: str, prefer_array: bool = False) -> Any:
    content = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    if "examples" in content:
        return next(iter(content["examples"].values()))["value"]
    return example(spec, content["schema"], prefer_array)


def query_parameters(spec: dict[str, Any], path: str, method: str) -> set[str]:
    params = spec["paths"][path][method].get("parameters", [])
    return {p["name"] for p in (resolve(spec, p) for p in params) if p["in"] == "query"}


@pytest.fixture
def client(fake_secret) -> Any:
    creds = TerraCredentials(
        environment=Environment.STAGING,
        dev_id="acme-staging-1",
        api_key=Secret(fake_secret("key")),
        api_base_url=BASE,
        widget_session_url=WIDGET,
    )
    with TerraClient(creds, retry=RetryPolicy.off()) as c:
        yield c


@respx.mock
def test_widget_session_requests_and_answers(client, v2, widget_spec) -> None:
    new = widget_spec["paths"]["/widget/api/session"]["post"]
    new_answer = answer(widget_spec, "/widget/api/session", "post")
    route = respx.post(WIDGET).respond(json=new_answer)
    session = client.generate_widget_session(
        "user123@email.com", OK, OK, providers=["garmin", "fitbit"], language="en"
    )
    assert session.url == new_answer["url"] and session.expires_in == new_answer["expires_in"]
    body = json.loads(route.calls[0].request.content)
    for spec, op in ((widget_spec, new), (v2, v2["paths"]["/auth/generateWidgetSession"]["post"])):
        schema = resolve(spec, op["requestBody"]["content"]["application/json"]["schema"])
        jsonschema.validate(body, schema)
        assert set(body) <= set(schema["properties"])


@respx.mock
def test_query_parameters_where_the_spec_puts_them(client, v2) -> None:
    assert query_parameters(v2, "/auth/authenticateUser", "post") >= {"resource"}
    assert query_parameters(v2, "/auth/deauthenticateUser", "delete") == {"user_id"}
    auth = respx.post(f"{BASE}/auth/authenticateUser").respond(
        json=answer(v2, "/auth/authenticateUser", "post")
    )
    deauth = respx.delete(f"{BASE}/auth/deauthenticateUser").respond(
        json=answer(v2, "/auth/deauthenticateUser", "delete")
    )
    link = client.authenticate_user("FITBIT", "user-1", OK, OK)
    assert link.auth_url and link.user_id
    client.deauthenticate_user("user-1")
    assert set(auth.calls[0].request.url.params) == {"resource"}
    assert set(deauth.calls[0].request.url.params) == {"user_id"}


@respx.mock
def test_token_integrations_and_users_answers_parse(client, v2) -> None:
    respx.post(f"{BASE}/auth/generateAuthToken").respond(
        json=answer(v2, "/auth/generateAuthToken", "post")
    )
    respx.get(f"{BASE}/integrations").respond(json=answer(v2, "/integrations", "get"))
    respx.get(f"{BASE}/integrations/detailed").respond(
        json=answer(v2, "/integrations/detailed", "get")
    )
    respx.get(f"{BASE}/userInfo", params={"user_id": "u1"}).respond(
        json=answer(v2, "/userInfo", "get")
    )
    respx.get(f"{BASE}/userInfo", params={"reference_id": "r"}).respond(
        json=answer(v2, "/userInfo", "get", prefer_array=True)
    )
    respx.post(f"{BASE}/bulkUserInfo").respond(json=answer(v2, "/bulkUserInfo", "post"))
    token = client.generate_mobile_token()
    assert token.expires_in == 180 and len(token.token) == 64
    assert client.list_integrations() and client.list_integrations(detailed=True)[0].icon
    assert client.get_user("u1").user_id
    assert client.find_users("r")[0].provider
    assert client.bulk_user_info(["u1"])[0].user_id
