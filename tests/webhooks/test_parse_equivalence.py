"""parse_event's fast path (one pydantic-core validator per class, chosen in Python, and the
raw dict kept in ``__pydantic_private__``) gives what validating the discriminated union
``WebhookEvent`` gives, for valid and invalid events alike."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from terra_auth.errors import WebhookVerificationError
from terra_auth.webhooks import DataEvent, WebhookEvent, parse_event

from ._helpers import AUTH_EVENT, USER
from .test_events import _examples

REFERENCE: TypeAdapter[WebhookEvent] = TypeAdapter(WebhookEvent)

VALID: list[dict[str, Any]] = [
    AUTH_EVENT,
    {"type": "auth", "status": "error", "reason": "cancelled", "reference_id": "r"},
    {"type": "auth", "status": "processing"},
    {"type": "auth_cancelled", "status": "error", "flow_id": "f", "extra": [1]},
    {"type": "deauth", "status": "success", "user": USER, "message": "bye"},
    {"type": "access_revoked", "user": USER},
    {"type": "connection_error", "user": USER},
    {"type": "google_no_datasource", "user": USER},
    {"type": "permission_change", "user": USER, "scopes_added": "a,b", "scopes_removed": ""},
    {"type": "user_reauth", "new_user": USER, "old_user": None},
    {"type": "healthcheck", "creation_timestamp": "2026", "trend_percentage": 1},
    {"type": "large_request_processing", "reference": "x"},
    {"type": "large_request_sending", "expected_payloads": 3},
    {"type": "s3_payload", "url": "https://example.invalid/x", "expires_in": 60},
    {"type": "activity", "user": USER, "version": "2022-03-16", "data": [{"a": {"b": [1]}}]},
    {"type": "sleep", "data": []},
    {"type": "lab_report.completed", "user": None},
    {"type": "brand_new", "status": "x", "whatever": {"nested": True}},
    {"type": ""},
]

INVALID: list[dict[str, Any]] = [
    {"type": "auth", "status": "success"},
    {"type": "auth", "status": "success", "user": {"user_id": "u"}},
    {"type": "deauth", "user": {"user_id": "", "provider": "X"}},
    {"type": "user_reauth"},
    {"type": "s3_payload", "url": 5},
    {"type": "activity", "user": {"provider": "X"}},
    {"type": "sleep", "version": 7},
    {"type": "brand_new", "status": 1},
    {"type": "healthcheck", "sent_webhooks_last_hour": "many"},
]


def _same(event: Any, reference: Any) -> None:
    assert type(event) is type(reference)
    assert event.__dict__ == reference.__dict__  # == would also compare the kept raw dict
    assert event.model_dump() == reference.model_dump()
    assert event.model_fields_set == reference.model_fields_set
    assert event.model_extra == reference.model_extra


@pytest.mark.parametrize("data", VALID, ids=lambda d: d["type"] or "empty")
def test_every_type_parses_as_the_discriminated_union_does(data: dict[str, Any]) -> None:
    event = parse_event(json.dumps(data).encode())
    _same(event, REFERENCE.validate_python(copy.deepcopy(data)))
    assert event.raw == data
    assert parse_event(data).raw is data  # a dict is kept as it is, not copied


def test_every_openapi_example_parses_as_the_union_does(terra_openapi_dir: Path) -> None:
    for _name, example in _examples(terra_openapi_dir):
        _same(parse_event(json.dumps(example)), REFERENCE.validate_python(example))


@pytest.mark.parametrize("data", INVALID, ids=lambda d: d["type"])
def test_what_the_union_refuses_is_invalid_body_naming_the_same_fields(
    data: dict[str, Any],
) -> None:
    with pytest.raises(ValidationError) as refused:
        REFERENCE.validate_python(data)
    fields = sorted({".".join(str(p) for p in e["loc"][1:]) for e in refused.value.errors()})
    with pytest.raises(WebhookVerificationError) as caught:
        parse_event(json.dumps(data).encode())
    assert caught.value.reason == "invalid_body"
    assert str(caught.value).endswith("for: " + ", ".join(fields))


def test_raw_survives_copy_pickle_and_takes_part_in_equality() -> None:
    data = {"type": "sleep", "user": USER, "data": [{"deep": 1}]}
    event = parse_event(json.dumps(data))
    assert isinstance(event, DataEvent)
    assert event.model_copy().raw == data
    assert copy.deepcopy(event).raw == data
    assert pickle.loads(pickle.dumps(event)).raw == data
    assert parse_event(json.dumps(data)) == event
    assert "deep" not in repr(event.user)
