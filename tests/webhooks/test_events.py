"""Typed events against Terra's own OpenAPI files: every example event parses to its class,
and so does an instance of every 2026 and legacy event schema."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from terra_auth.errors import WebhookVerificationError
from terra_auth.webhooks import (
    AccessRevokedEvent,
    AuthCancelledEvent,
    AuthSuccessEvent,
    ConnectionErrorEvent,
    DataEvent,
    DeauthEvent,
    GenericEvent,
    GoogleNoDatasourceEvent,
    HealthcheckEvent,
    LargeRequestProcessingEvent,
    LargeRequestSendingEvent,
    LegacyAuthErrorEvent,
    PermissionChangeEvent,
    S3PayloadEvent,
    UserReauthEvent,
    parse_event,
)

BY_TYPE: dict[str, type] = {
    "auth": AuthSuccessEvent,
    "auth_cancelled": AuthCancelledEvent,
    "deauth": DeauthEvent,
    "user_reauth": UserReauthEvent,
    "access_revoked": AccessRevokedEvent,
    "permission_change": PermissionChangeEvent,
    "connection_error": ConnectionErrorEvent,
    "large_request_sending": LargeRequestSendingEvent,
    "large_request_processing": LargeRequestProcessingEvent,
    "s3_payload": S3PayloadEvent,
    "healthcheck": HealthcheckEvent,
    "google_no_datasource": GoogleNoDatasourceEvent,
}

# schema file -> class its instances must parse to
SCHEMAS: dict[str, type] = {
    "schemas/core/AccessRevokedEvent.yaml": AccessRevokedEvent,
    "schemas/core/AuthErrorEvent.yaml": AuthCancelledEvent,
    "schemas/core/AuthSuccessEvent.yaml": AuthSuccessEvent,
    "schemas/core/ConnectionErrorEvent.yaml": ConnectionErrorEvent,
    "schemas/core/DeauthEvent.yaml": DeauthEvent,
    "schemas/core/LargeRequestProcessingEvent.yaml": LargeRequestProcessingEvent,
    "schemas/core/LargeRequestSendingEvent.yaml": LargeRequestSendingEvent,
    "schemas/core/PermissionChangeEvent.yaml": PermissionChangeEvent,
    "schemas/core/S3PayloadEvent.yaml": S3PayloadEvent,
    "schemas/core/UserReauthEvent.yaml": UserReauthEvent,
    "legacy/AuthErrorEvent.yaml": LegacyAuthErrorEvent,
    "legacy/AuthSuccessEvent.yaml": AuthSuccessEvent,
    "legacy/GoogleNoDatasourceEvent.yaml": GoogleNoDatasourceEvent,
    "legacy/HealthcheckEvent.yaml": HealthcheckEvent,
    "legacy/ProcessingEvent.yaml": GenericEvent,
    "legacy/RateLimitHitEvent.yaml": GenericEvent,
    "legacy/UserReauthEvent.yaml": UserReauthEvent,
}


def _examples(openapi_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    spec = yaml.safe_load((openapi_dir / "v2-bundled.yaml").read_text(encoding="utf-8"))
    found: list[tuple[str, dict[str, Any]]] = []
    for name, item in spec["webhooks"].items():
        for operation in item.values():
            content = operation["requestBody"]["content"]["application/json"]
            if "example" in content:
                found.append((name, content["example"]))
            for key, example in (content.get("examples") or {}).items():
                found.append((f"{name}/{key}", example["value"]))
    return found


def test_every_openapi_example_event_parses_to_its_type(terra_openapi_dir: Path) -> None:
    examples = _examples(terra_openapi_dir)
    assert len(examples) >= 17  # auth (2), lifecycle, informational, data, lab reports
    seen: set[str] = set()
    for name, example in examples:
        event = parse_event(json.dumps(example).encode())
        expected = BY_TYPE.get(example["type"], DataEvent)
        assert type(event) is expected, name
        assert event.type == example["type"]
        assert event.raw == example, name  # nothing lost, nothing changed
        seen.add(type(event).__name__)
    assert {"AuthSuccessEvent", "AuthCancelledEvent", "UserReauthEvent", "DataEvent"} <= seen


class _Instances:
    """Builds an instance of a JSON Schema (required fields, or every field) from the schema
    itself: consts, first examples, first non-null alternative of anyOf."""

    def __init__(self, openapi_dir: Path) -> None:
        self.dir = openapi_dir

    def load(self, relative: str, base: Path) -> tuple[dict[str, Any], Path]:
        for folder in (base, self.dir / "schemas" / "core"):
            path = folder / relative
            if path.exists():
                return yaml.safe_load(path.read_text(encoding="utf-8")), path.parent
        raise FileNotFoundError(relative)

    def build(self, schema: dict[str, Any], base: Path, every: bool) -> Any:
        if "$ref" in schema:
            target, folder = self.load(schema["$ref"], base)
            return self.build(target, folder, every)
        if "const" in schema:
            return schema["const"]
        if "anyOf" in schema:
            options = [o for o in schema["anyOf"] if o.get("type") != "null"]
            return self.build(options[0], base, every)
        kind = schema.get("type")
        if kind == "object" or "properties" in schema or "allOf" in schema:
            value: dict[str, Any] = {}
            for part in schema.get("allOf", []):
                value.update(self.build(part, base, every))
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                if every or name in required:
                    value[name] = self.build(prop, base, every)
            return value
        if "examples" in schema:  # YAML reads 2022-03-16 as a date: keep strings strings
            example = schema["examples"][0]
            return str(example) if kind == "string" else example
        return {"string": "x", "integer": 3, "number": 1.5, "boolean": True, "array": []}[kind]


@pytest.mark.parametrize("every", [False, True], ids=["required-fields", "all-fields"])
@pytest.mark.parametrize("relative", sorted(SCHEMAS))
def test_instances_of_every_event_schema_parse_to_their_class(
    terra_openapi_dir: Path, relative: str, every: bool
) -> None:
    import jsonschema
    from referencing import Registry, Resource

    schema_path = terra_openapi_dir / relative
    schema = yaml.safe_load(schema_path.read_text(encoding="utf-8"))
    instances = _Instances(terra_openapi_dir)
    value = instances.build(schema, schema_path.parent, every)

    def retrieve(uri: str) -> Resource:  # type: ignore[type-arg]
        target, _ = instances.load(uri.rsplit("/", 1)[-1], schema_path.parent)
        return Resource.from_contents(target)

    # the instance is valid for Terra's schema, so this tests our models, not the generator
    jsonschema.Draft202012Validator(schema, registry=Registry(retrieve=retrieve)).validate(value)
    event = parse_event(value)
    assert type(event) is SCHEMAS[relative]
    assert event.raw == value


def test_terra_api_md_examples_and_the_legacy_failed_auth() -> None:
    legacy = {
        "type": "auth",
        "status": "error",
        "user": {"user_id": "u-9", "provider": "FITBIT", "reference_id": "r-1"},
        "provider": "FITBIT",
        "message": "User failed to authenticate and has been deleted",
        "reason": "auth_cancelled",
        "reference_id": "r-1",
        "widget_session_id": "w-1",
    }
    event = parse_event(legacy)
    assert isinstance(event, LegacyAuthErrorEvent)
    assert event.reason == "auth_cancelled"
    assert isinstance(parse_event({"type": "auth", "status": "error"}), LegacyAuthErrorEvent)
    cancelled = parse_event(
        b'{"type":"auth_cancelled","status":"error","flow_id":"f","reason":"access_denied",'
        b'"reference_id":"your-user-123"}'
    )
    assert isinstance(cancelled, AuthCancelledEvent)
    assert cancelled.reason == "access_denied"


def test_permission_change_deltas_and_scope_sets() -> None:
    event = parse_event(
        {
            "type": "permission_change",
            "status": "warning",
            "message": "m",
            "version": "2022-03-16",
            "scopes_added": "BODY_EXPORT, SLEEP_EXPORT",
            "scopes_removed": "",
            "user": {"user_id": "u", "provider": "GARMIN", "scopes": "A,B"},
        }
    )
    assert isinstance(event, PermissionChangeEvent)
    assert event.added == {"BODY_EXPORT", "SLEEP_EXPORT"}
    assert event.removed == frozenset()
    assert event.user.scope_set == {"A", "B"}


@pytest.mark.parametrize(
    "data",
    [
        {"type": "brand_new_event", "anything": [1, 2]},
        {"type": "auth", "status": "processing"},
        {"type": "processing", "status": "success"},
        {"type": ""},
        {"type": "deauth2"},
    ],
)
def test_unknown_types_are_generic_never_errors(data: dict[str, Any]) -> None:
    event = parse_event(data)
    assert type(event) is GenericEvent
    assert event.type == data["type"]
    assert event.raw == data


def test_data_events_pass_through_untouched() -> None:
    data = {
        "type": "sleep",
        "version": "2022-03-16",
        "user": {"user_id": "u", "provider": "OURA"},
        "data": [{"metadata": {"start_time": "2026-01-01T00:00:00+00:00"}, "deep": {"x": [1]}}],
    }
    original = copy.deepcopy(data)
    event = parse_event(json.dumps(data))
    assert isinstance(event, DataEvent)
    assert event.raw == original
    assert event.model_dump(mode="json")["data"] == original["data"]


@pytest.mark.parametrize(
    ("data", "word"),
    [
        (b"[]", "object"),
        (b"nope", "JSON"),
        ({"no_type": 1}, "type"),
        ({"type": "user_reauth", "status": "warning"}, "new_user"),
        ({"type": "s3_payload"}, "url"),
        ({"type": "deauth", "user": {"user_id": "", "provider": "X"}}, "user.user_id"),
    ],
)
def test_parse_errors_name_the_field_not_the_value(data: Any, word: str) -> None:
    with pytest.raises(WebhookVerificationError) as caught:
        parse_event(data)
    assert caught.value.reason == "invalid_body"
    assert word in str(caught.value)


def test_raw_of_an_event_built_in_code_is_its_json_form() -> None:
    event = DeauthEvent(type="deauth", user={"user_id": "u", "provider": "OURA"})  # type: ignore[arg-type]
    assert event.raw["user"]["user_id"] == "u"
    assert event.raw["type"] == "deauth"
