"""The webhook receiver over real HTTP (uvicorn on 127.0.0.1, a free port)."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from terra_auth.service.ingest import create_webhook_app, handle_webhook
from terra_auth.store import Store

LIMIT = 64 * 1024


@pytest.fixture
def receiver(store, webhook_secrets, serve_app):
    """A receiver serving testing and staging (production is configured elsewhere)."""
    served = {env: webhook_secrets[env] for env in ("testing", "staging")}
    app = create_webhook_app(store, served, max_body_bytes=LIMIT, bare_endpoint=True)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10, trust_env=False) as client:
        yield client


def post(client, body, headers):
    return client.post("/terra/webhooks", content=body, headers=headers)


def test_a_signed_webhook_is_stored_and_applied(receiver, store, signer, make_event):
    body, headers = signer.delivery(make_event("auth", "u-1", "ref-1"))
    response = post(receiver, body, headers)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "duplicate": False}
    assert [c.status for c in store.connections_for("ref-1")] == ["connected"]
    assert store.events()[0].raw_body == body


def test_a_replayed_delivery_is_200_and_has_no_second_effect(receiver, store, signer, make_event):
    body, headers = signer.delivery(make_event("auth", "u-1"))
    assert post(receiver, body, headers).json()["duplicate"] is False
    assert post(receiver, body, headers).json() == {"status": "ok", "duplicate": True}
    assert store.count_events() == 1


def test_staging_webhooks_land_in_staging(receiver, store, signer, make_event):
    body, headers = signer.delivery(make_event("auth", "u-s", "ref-s"), environment="staging")
    assert post(receiver, body, headers).status_code == 200
    assert store.get_connection("u-s").environment.value == "staging"


@pytest.mark.parametrize(
    "case",
    ["forged", "tampered", "stale", "future", "wrong_environment", "unsigned", "garbage_header"],
)
def test_bad_webhooks_get_401_and_nothing_is_stored(
    case, receiver, store, signer, make_event, caplog
):
    payload = make_event("auth", "u-evil", "ref-evil")
    if case == "forged":
        body, headers = signer.delivery(payload, secret="not-the-secret-" + "x" * 20)
    elif case == "tampered":
        body, headers = signer.delivery(payload)
        body = body.replace(b"u-evil", b"u-evi1")
    elif case == "stale":
        body, headers = signer.delivery(payload, timestamp=int(time.time()) - 3600)
    elif case == "future":
        body, headers = signer.delivery(payload, timestamp=int(time.time()) + 3600)
    elif case == "wrong_environment":  # signed with production's secret, not served here
        body, headers = signer.delivery(payload, environment="production")
    elif case == "unsigned":
        body, headers = signer.delivery(payload)
        headers = {k: v for k, v in headers.items() if "signature" not in k.lower()}
    else:
        body, headers = signer.delivery(payload)
        headers["terra-signature"] = headers["X-Terra-Signature"] = "nonsense"
    with caplog.at_level(logging.WARNING, logger="terra_auth"):
        response = post(receiver, body, headers)
    assert response.status_code == 401
    reason = response.json()["error"]
    assert reason and isinstance(reason, str)
    assert any(reason in r.getMessage() for r in caplog.records)  # the reason is logged
    assert store.count_events() == 0 and store.all_connections() == []


def test_a_body_over_the_limit_gets_413_by_content_length(receiver, store, signer):
    body, headers = signer.delivery({"type": "activity", "data": "x" * (LIMIT + 10)})
    response = post(receiver, body, headers)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert store.count_events() == 0


def test_a_streamed_body_over_the_limit_gets_413_without_content_length(receiver, store, signer):
    body, headers = signer.delivery({"type": "activity", "data": "x" * (LIMIT + 10)})

    def chunks():
        for i in range(0, len(body), 8192):
            yield body[i : i + 8192]

    response = receiver.post("/terra/webhooks", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert store.count_events() == 0


def test_a_body_just_under_the_limit_is_accepted(receiver, store, signer):
    filler = LIMIT - 200
    body, headers = signer.delivery({"type": "activity", "data": "x" * filler})
    assert len(body) <= LIMIT
    assert post(receiver, body, headers).status_code == 200


def test_unknown_types_are_stored(receiver, store, signer):
    body, headers = signer.delivery({"type": "brand_new_event", "status": "success", "n": 1})
    assert post(receiver, body, headers).status_code == 200
    assert store.events()[0].type == "brand_new_event"


@pytest.mark.parametrize(
    "payload",
    [
        b"this is not json",
        b'["a", "list"]',
        {"type": "auth", "status": "success", "user": {"provider": "GARMIN"}},  # no user_id
    ],
    ids=["not-json", "not-an-object", "auth-without-user-id"],
)
def test_a_signed_body_that_does_not_parse_is_200_kept_and_never_retried(
    receiver, store, signer, payload, caplog
):
    body, headers = signer.delivery(payload)
    response = post(receiver, body, headers)
    # 200: Terra retries any non-2xx (up to 10 times, over about 8.5 hours), and these exact
    # signed bytes will never parse on a retry
    assert response.status_code == 200
    assert response.json() == {"status": "unparsed", "error": "invalid_body", "duplicate": False}
    [stored] = store.events()
    assert (stored.type, stored.raw_body) == ("invalid_body", body)  # kept for a later replay
    assert store.all_connections() == []  # applied to nothing
    again = post(receiver, body, headers)  # Terra retrying anyway: a duplicate, not stored twice
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert store.count_events() == 1
    assert "does not parse" in caplog.text and headers["X-Terra-Trace-Id"] in caplog.text
    assert store.replay_events().changes == 0  # replay skips it (until a newer parser reads it)


def test_an_unsigned_body_that_does_not_parse_is_still_401(receiver, store, signer):
    body, headers = signer.delivery(b"this is not json")
    bad = headers["terra-signature"][:-4] + "0000"
    forged = {**headers, "terra-signature": bad, "X-Terra-Signature": bad}
    response = post(receiver, body, forged)
    assert response.status_code == 401 and response.json()["error"] != "invalid_body"
    assert store.count_events() == 0


def test_the_bare_endpoint_answers_without_storing(receiver, store, signer, make_event):
    body, headers = signer.delivery(make_event("auth"))
    assert receiver.post("/bare", content=body, headers=headers).status_code == 200
    assert store.count_events() == 0


def test_an_unavailable_store_answers_503_with_retry_after(
    tmp_path, webhook_secrets, serve_app, signer, make_event
):
    broken = Store(f"sqlite:///{tmp_path / 'never-upgraded.db'}")  # no tables: unusable
    app = create_webhook_app(broken, {"testing": webhook_secrets["testing"]}, retry_after=7)
    body, headers = signer.delivery(make_event("auth"))
    with serve_app(app) as url:
        response = httpx.post(
            url + "/terra/webhooks", content=body, headers=headers, trust_env=False
        )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json() == {"error": "store_unavailable"}


def test_no_secret_ever_appears_in_answers_or_logs(
    receiver, store, signer, webhook_secrets, make_event, caplog
):
    """Canary: plant the signing secrets, run success and failure paths, look everywhere."""
    seen = []
    with caplog.at_level(logging.DEBUG):
        body, headers = signer.delivery(make_event("auth", "u-1"))
        seen.append(post(receiver, body, headers).text)
        seen.append(post(receiver, body, headers).text)
        forged, fheaders = signer.delivery(make_event("auth", "u-2"), environment="production")
        seen.append(post(receiver, forged, fheaders).text)
        seen.append(
            post(receiver, b"{}", {"terra-signature": "t=1,v1=" + webhook_secrets["testing"]}).text
        )
        big, bheaders = signer.delivery({"type": "x", "d": "y" * LIMIT})
        seen.append(post(receiver, big, bheaders).text)
    seen.extend(r.getMessage() for r in caplog.records)
    seen.extend(repr(e) for e in store.events())
    text = "\n".join(seen)
    for secret in webhook_secrets.values():
        assert secret not in text


def test_handle_webhook_core_without_http(store, signer, make_event):
    body, headers = signer.delivery(make_event("auth", "u-7", "ref-7"))
    status, answer, extra = handle_webhook(
        body,
        headers,
        secrets={"testing": signer.secrets["testing"]},
        store=store,
        max_body_bytes=LIMIT,
    )
    assert (status, answer) == (200, {"status": "ok", "duplicate": False})
    too_big = handle_webhook(
        body,
        {**headers, "Content-Length": str(LIMIT + 1)},
        secrets=signer.secrets,
        store=store,
        max_body_bytes=LIMIT,
    )
    assert too_big.status_code == 413
    bare_secret = handle_webhook(
        body, headers, secrets=signer.secrets["testing"], store=store, max_body_bytes=LIMIT
    )
    assert bare_secret.status_code == 401 and bare_secret.body == {"error": "no_environment"}


def test_a_captured_delivery_replayed_later_is_401_and_changes_nothing(
    receiver, store, signer, make_event
):
    """An attacker re-sends a genuine delivery (same body and signature) after the tolerance."""
    body, headers = signer.delivery(make_event("auth", "u-cap", "ref-cap"), trace_id="captured")
    assert post(receiver, body, headers).json()["duplicate"] is False
    headers["X-Terra-Trace-Id"] = "a-new-trace-id"  # even disguised as a new delivery
    later = handle_webhook(
        body,
        headers,
        secrets=signer.secrets,
        store=store,
        max_body_bytes=LIMIT,
        now=time.time() + 301,
    )
    assert later.status_code == 401 and later.body == {"error": "too_old"}
    assert store.count_events() == 1
    # inside the window the trace id (not covered by the signature) decides: a new id is a new
    # delivery and is stored, but the reducer is idempotent, so the connection does not change
    before = store.all_connections()
    assert post(receiver, body, headers).status_code == 200
    assert store.count_events() == 2
    assert store.all_connections() == before


def test_a_store_factory_is_asked_on_every_request(
    store, webhook_secrets, serve_app, signer, make_event
):
    from terra_auth.store import StoreUnavailable

    current = {"store": None}

    def factory():
        if current["store"] is None:
            raise StoreUnavailable("the store is not open yet")
        return current["store"]

    app = create_webhook_app(factory, {"testing": webhook_secrets["testing"]})
    with serve_app(app) as url:
        body, headers = signer.delivery(make_event("auth", "u-f", "ref-f"))
        first = httpx.post(url + "/terra/webhooks", content=body, headers=headers, trust_env=False)
        current["store"] = store
        second = httpx.post(url + "/terra/webhooks", content=body, headers=headers, trust_env=False)
    assert first.status_code == 503 and "retry-after" in first.headers
    assert second.status_code == 200 and second.json()["duplicate"] is False
    assert [c.terra_user_id for c in store.connections_for("ref-f")] == ["u-f"]


def test_the_openapi_document_lists_the_webhook_route(receiver):
    response = receiver.get("/openapi.json")
    assert response.status_code == 200
    assert "post" in response.json()["paths"]["/terra/webhooks"]
