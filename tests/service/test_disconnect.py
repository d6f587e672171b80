"""Disconnecting a connection Terra no longer knows (the emulator answers 404).

Terra deletes a user at once on ``deauthenticateUser``, and the ``deauth`` webhook follows
asynchronously; if that webhook never reaches the service (lost, or sent while the service was
elsewhere), the row would stay "connected" forever, and Terra answers 404 to every later
deauthentication. The service then marks the connection disconnected itself, records that as a
local action (never as a webhook event) and answers 200 ``disconnected``.
"""

from __future__ import annotations

import httpx

from .conftest import as_user, connect_via_emulator


def forget_user_on_terra(emulator, user_id: str) -> None:
    """Delete the user on the emulator's side, its deauth webhook going nowhere (lost)."""
    with httpx.Client(base_url=emulator.url, timeout=10.0) as control:
        cleared = control.post("/_emulator/webhook-url", json={"environment": "testing", "url": None})
        assert cleared.status_code == 200
        gone = control.post(
            "/_emulator/trigger", json={"environment": "testing", "user_id": user_id, "event": "deauth"}
        )
        assert gone.status_code == 200, gone.text


def deauth_answers(emulator) -> list[int]:
    return [r.status for r in emulator.requests if "deauthenticateUser" in r.path]


def test_disconnect_of_a_user_terra_no_longer_knows_marks_it_disconnected_here(service, emulator):
    user = connect_via_emulator(emulator, service, "alice")
    uid = user["user_id"]
    events_before = service.store.count_events()
    forget_user_on_terra(emulator, uid)
    listed = service.http.get("/terra/connections", headers=as_user("alice")).json()
    assert [c["status"] for c in listed] == ["connected"]  # no webhook came: still "connected"

    answer = service.http.delete(f"/terra/connections/{uid}", headers=as_user("alice"))

    assert deauth_answers(emulator) == [404]  # Terra (the emulator) no longer knows the user
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"user_id": uid, "status": "disconnected"}
    assert service.http.get("/terra/connections", headers=as_user("alice")).json() == []
    history = service.http.get(
        "/terra/connections", params={"include_disconnected": "true"}, headers=as_user("alice")
    ).json()
    assert [(c["user_id"], c["status"]) for c in history] == [(uid, "disconnected")]
    # the raw-event history stays honest: no invented webhook, one local action instead
    assert service.store.count_events() == events_before
    assert [e.type for e in service.store.events()] == ["auth"]
    [action] = service.store.local_actions(terra_user_id=uid)
    assert (action.action, action.reason, action.environment) == (
        "disconnected", "terra_user_not_found", "testing",
    )
    assert action.after_event_id == service.store.events()[-1].id

    # again: nothing left to disconnect, nothing recorded twice
    again = service.http.delete(f"/terra/connections/{uid}", headers=as_user("alice"))
    assert again.status_code == 404
    assert len(service.store.local_actions()) == 1
    # a replay of the stored history keeps the local disconnect
    service.store.replay_events()
    assert service.store.get_connection(uid).status == "disconnected"


def test_a_user_terra_still_knows_is_only_requested_and_the_webhook_confirms(service, emulator):
    user = connect_via_emulator(emulator, service, "bob")
    before = len([d for d in emulator.deliveries if d.delivered])
    answer = service.http.delete(f"/terra/connections/{user['user_id']}", headers=as_user("bob"))
    assert answer.status_code == 202 and answer.json()["status"] == "disconnect_requested"
    emulator.wait_for_deliveries(before + 1, timeout=10.0)
    assert service.http.get("/terra/connections", headers=as_user("bob")).json() == []
    assert service.store.local_actions() == []  # Terra's deauth webhook did it
    assert [e.type for e in service.store.events()] == ["auth", "deauth"]
