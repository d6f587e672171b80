"""HTML of the demo page and the widget landing pages, plus their script and style.

Pages are plain strings with every dynamic value escaped; the script is served from the same
origin (``/terra/assets/app.js``) so a strict Content-Security-Policy holds (no inline script).
Nothing here ever receives a key: the browser talks only to the service's own endpoints.

Example:
    >>> "Log in" in demo_page(None, demo_login=True)
    True
"""

from __future__ import annotations

from html import escape

from terra_auth.service.core import Landing

__all__ = [
    "APP_CSS",
    "APP_JS",
    "PAGE_HEADERS",
    "demo_page",
    "landing_page",
    "message_page",
]

#: headers for every HTML page: no inline script, no framing, no referrer to Terra
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _page(title: str, body: str, *, prefix: str = "/terra") -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel=stylesheet href="{escape(prefix)}/assets/app.css">'
        f'<script src="{escape(prefix)}/assets/app.js" defer></script>'
        f'</head><body data-prefix="{escape(prefix)}"><main>{body}</main></body></html>\n'
    )


_CONNECTIONS = (
    "<section><h2>Your connections</h2>"
    "<p id=empty class=muted>No wearable connected yet.</p>"
    "<ul id=connections data-poll=1000></ul>"
    "<p id=status role=status aria-live=polite></p></section>"
)


def demo_page(user: str | None, *, demo_login: bool, prefix: str = "/terra") -> str:
    """The demo's main page: a login form, or the connect button and the live connection list."""
    if user is None:
        login = (
            '<form method=post action="/demo/login" id=login>'
            "<label for=username>Demo user name</label> "
            '<input id=username name=username required maxlength=64 pattern="[A-Za-z0-9_.@\\-]+" '
            "autocomplete=username value=alice> "
            "<button type=submit>Log in</button></form>"
            if demo_login
            else "<p>Log in to your application to connect a wearable.</p>"
        )
        return _page(
            "terra-auth demo",
            "<h1>terra-auth demo</h1><p>Connect a wearable through the local Terra emulator."
            f"</p>{login}",
            prefix=prefix,
        )
    logout = (
        '<form method=post action="/demo/logout" class=inline>'
        "<button type=submit id=logout>Log out</button></form>"
        if demo_login
        else ""
    )
    return _page(
        "terra-auth demo",
        f"<h1>terra-auth demo</h1><p>Logged in as <strong id=user>{escape(user)}</strong> "
        f"{logout}</p>"
        "<p><button id=connect type=button>Connect a wearable</button></p>" + _CONNECTIONS,
        prefix=prefix,
    )


def landing_page(landing: Landing, *, home_url: str, prefix: str = "/terra") -> str:
    """The success/failure page after the widget, showing only what Terra confirmed."""
    back = f'<p><a id=home href="{escape(home_url)}">Back</a></p>'
    if not landing.logged_in:
        return _page(
            "Log in",
            "<h1>Please log in</h1><p>Log in again to see your connections.</p>" + back,
            prefix=prefix,
        )
    if landing.outcome != "success":
        return _page(
            "Not connected",
            "<h1 id=outcome data-outcome=failure>The wearable was not connected</h1>"
            "<p>The login at the provider was cancelled or failed. You can try again.</p>" + back,
            prefix=prefix,
        )
    if landing.confirmed_provider:
        head = (
            "<h1 id=outcome data-outcome=confirmed>Connected "
            f"<span id=provider>{escape(landing.confirmed_provider)}</span></h1>"
            "<p>Terra confirmed the connection. It appears below once Terra's signed webhook "
            "has arrived.</p>"
        )
    elif landing.problem:
        head = (
            "<h1 id=outcome data-outcome=unknown>Checking your connection</h1>"
            f"<p>{escape(landing.problem)}</p>"
        )
    else:
        head = (
            "<h1 id=outcome data-outcome=unconfirmed>Connection not confirmed</h1>"
            "<p>Terra does not list this connection for your account.</p>"
        )
    return _page("Connection", head + _CONNECTIONS + back, prefix=prefix)


def message_page(title: str, text: str, *, home_url: str = "/", prefix: str = "/terra") -> str:
    """A small page with a message (errors in the browser flow)."""
    return _page(
        title,
        f"<h1>{escape(title)}</h1><p id=message>{escape(text)}</p>"
        f'<p><a id=home href="{escape(home_url)}">Back</a></p>',
        prefix=prefix,
    )


APP_CSS = """\
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
main{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:12px;
box-shadow:0 1px 4px #0002}
button{font:inherit;padding:.4rem 1rem;border-radius:6px;border:1px solid #3359d1;
background:#3359d1;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#3359d1}
form.inline{display:inline}
ul#connections{list-style:none;padding:0}
ul#connections li{display:flex;gap:1rem;align-items:center;padding:.5rem 0;
border-bottom:1px solid #eee}
.muted{color:#6b7280}
.status-connected{color:#15803d}.status-degraded,.status-revoked{color:#b45309}
"""

APP_JS = """\
"use strict";
(function () {
  const prefix = document.body.dataset.prefix || "/terra";
  const list = document.getElementById("connections");
  const statusLine = document.getElementById("status");
  const empty = document.getElementById("empty");
  const say = (text) => { if (statusLine) statusLine.textContent = text; };
  const api = (method, path) => fetch(prefix + path, {
    method, credentials: "same-origin",
    headers: {"Accept": "application/json", "X-Requested-With": "terra-auth"},
  });

  function render(rows) {
    list.replaceChildren();
    for (const row of rows) {
      const li = document.createElement("li");
      li.dataset.userId = row.user_id;
      li.dataset.provider = row.provider || "";
      li.dataset.status = row.status;
      const name = document.createElement("strong");
      name.className = "provider";
      name.textContent = row.provider || "unknown provider";
      const state = document.createElement("span");
      state.className = "status status-" + row.status;
      state.textContent = row.status;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary disconnect";
      button.textContent = "Disconnect";
      button.addEventListener("click", () => disconnect(row.user_id, button));
      li.append(name, state, button);
      list.append(li);
    }
    if (empty) empty.hidden = rows.length > 0;
    list.dataset.count = String(rows.length);
  }

  async function refresh() {
    try {
      const answer = await api("GET", "/connections");
      if (answer.status === 401) { say("Please log in."); return; }
      if (!answer.ok) { say("Could not load connections (" + answer.status + ")."); return; }
      render(await answer.json());
      list.dataset.loaded = "1";
    } catch (err) { say("The service is not reachable."); }
  }

  async function disconnect(userId, button) {
    button.disabled = true;
    say("Disconnecting...");
    const answer = await api("DELETE", "/connections/" + encodeURIComponent(userId));
    if (answer.status === 200) { say("Disconnected (Terra no longer knew this connection)."); }
    else if (answer.ok) { say("Disconnect requested; waiting for Terra's confirmation."); }
    else { button.disabled = false; say("Could not disconnect (" + answer.status + ")."); }
    refresh();
  }

  const connect = document.getElementById("connect");
  if (connect) {
    connect.addEventListener("click", async () => {
      connect.disabled = true;
      say("Opening the Terra widget...");
      const answer = await api("POST", "/widget-session");
      if (!answer.ok) {
        connect.disabled = false;
        say("Could not start (" + answer.status + ").");
        return;
      }
      const session = await answer.json();
      window.location.assign(session.url);
    });
  }
  if (list) {
    refresh();
    setInterval(refresh, Number(list.dataset.poll) || 1000);
  }
})();
"""
