"""A corpus of leaked and harmless Terra credentials, generated at run time.

No value here is committed: every dev-id, key, secret and token is random per test run, so the
repository itself scans clean. ``Leak`` records what the scanner must report for each value.
"""

from __future__ import annotations

import secrets
import string
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from terra_auth.scan.rules import is_placeholder

ALNUM = string.ascii_letters + string.digits
KEY_CHARS = ALNUM + "_-"


def _random(alphabet: str, size: int) -> str:
    """Random characters; redrawn in the rare case they spell a placeholder word."""
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(size))
        if not is_placeholder(value):
            return value


def fake_dev_id(env: str = "testing", slug: str | None = None) -> str:
    """``<slug>-<env>-<10 chars>`` with upper, lower and digit in the suffix (Terra's shape)."""
    slug = slug or "q" + _random(string.ascii_lowercase, 7)
    middle = _random(ALNUM, 7)
    return f"{slug}-{env}-{secrets.choice('ABCDEFGHJK')}{secrets.choice('mnpqrs')}{middle}{secrets.choice('23456789')}"


def fake_api_key(size: int = 32) -> str:
    """A random key like Terra's (base64url characters), with a letter and a digit."""
    return secrets.choice("ABCDEFGH") + _random(KEY_CHARS, size - 2) + secrets.choice("23456789")


def fake_signing_secret() -> str:
    return secrets.choice("abcdef") + _random(ALNUM, 38) + secrets.choice("23456789")


def fake_token(prefix: str) -> str:
    return prefix + fake_api_key(40)


@dataclass(frozen=True)
class Leak:
    """A value the scanner must report: file, 1-based line, kind, environment."""

    path: str
    line: int
    kind: str
    environment: str | None
    value: str = field(repr=False)


@dataclass
class Corpus:
    root: Path
    leaks: list[Leak] = field(default_factory=list)
    values: list[str] = field(default_factory=list)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def leak(self, relative: str, text: str, *expected: tuple[str, str, str | None]) -> None:
        """Write ``text`` and expect each (value, kind, environment) on the line holding it."""
        self.write(relative, text)
        lines = text.splitlines()
        for value, kind, env in expected:
            hits = [i + 1 for i, line in enumerate(lines) if value in line]
            assert hits, f"corpus bug: {kind} not in {relative}"
            for line in hits:
                self.leaks.append(Leak(relative, line, kind, env, value))
            self.values.append(value)


def build_leaks(root: Path) -> Corpus:
    """True positives in every format the issue names."""
    c = Corpus(root)
    dev_t, dev_s, dev_p = fake_dev_id("testing"), fake_dev_id("staging"), fake_dev_id("prod")

    key = fake_api_key()
    whsec = fake_signing_secret()
    c.leak(
        ".env.terra.staging",
        f"TERRA_DEV_ID={dev_s}\nTERRA_API_KEY={key}\nTERRA_WEBHOOK_SECRET={whsec}\n",
        (dev_s, "dev-id", "staging"),
        (key, "api-key", "staging"),
        (whsec, "signing-secret", "staging"),
    )
    key = fake_api_key()
    c.leak(
        "deploy/.env",
        f"# Terra production\nexport TERRA_DEV_ID='{dev_p}'\nexport API_KEY=\"{key}\"\n",
        (dev_p, "dev-id", "production"),
        (key, "api-key", "production"),
    )
    key, key2 = fake_api_key(), fake_api_key()
    c.leak(
        "app/terra_client.py",
        "from terra import Terra\n\n"
        "client = Terra(\n"
        f'    dev_id="{dev_t}",\n'
        f'    api_key="{key}",\n'
        ")\n\n"
        "def headers():\n"
        f'    return {{"dev-id": "{dev_t}", "x-api-key": \'{key2}\'}}\n',
        (dev_t, "dev-id", "testing"),
        (key, "api-key", "testing"),
        (key2, "api-key", "testing"),
    )
    key = fake_api_key()
    c.leak(
        "app/settings.py",
        f'DEBUG = False\nTERRA_API_KEY_PRODUCTION = "{key}"\n',
        (key, "api-key", "production"),
    )
    key = fake_api_key()
    dev = fake_dev_id("staging")
    c.leak(
        "web/terra.js",
        "import { TerraClient } from 'terra-api';\n"
        f"const client = new TerraClient({{ devId: '{dev}', apiKey: `{key}` }});\n",
        (dev, "dev-id", "staging"),
        (key, "api-key", "staging"),
    )
    key = fake_api_key()
    c.leak(
        "web/api.ts",
        "export async function integrations(): Promise<Response> {\n"
        "  const headers = {\n"
        "    'Content-Type': 'application/json',\n"
        f"    'x-api-key': '{key}',\n"
        "  };\n"
        "  return fetch('https://access.tryterra.co/api/v2/integrations/detailed', { headers });\n"
        "}\n",
        (key, "api-key", None),
    )
    key, key2 = fake_api_key(), fake_api_key()
    dev = fake_dev_id("testing")
    c.leak(
        "ios/TerraService.swift",
        "import Foundation\n\n"
        f'let terraApiKey = "{key}"\n\n'
        "func makeRequest() -> URLRequest {\n"
        '    var request = URLRequest(url: URL(string: "https://api.tryterra.co/v2/auth/generateAuthToken")!)\n'
        f'    request.setValue("{dev}", forHTTPHeaderField: "dev-id")\n'
        f'    request.setValue("{key2}", forHTTPHeaderField: "x-api-key")\n'
        "    return request\n"
        "}\n",
        (key, "api-key", "testing"),
        (dev, "dev-id", "testing"),
        (key2, "api-key", "testing"),
    )
    key, whsec = fake_api_key(), fake_signing_secret()
    dev = fake_dev_id("prod")
    c.leak(
        "config/terra.yaml",
        f'terra:\n  dev_id: {dev}\n  api_key: {key}\n  webhook_secret: "{whsec}"\n',
        (dev, "dev-id", "production"),
        (key, "api-key", "production"),
        (whsec, "signing-secret", "production"),
    )
    key = fake_api_key()
    dev = fake_dev_id("testing")
    c.leak(
        "config/settings.json",
        f'{{\n  "terra": {{\n    "devId": "{dev}",\n    "apiKey": "{key}"\n  }}\n}}\n',
        (dev, "dev-id", "testing"),
        (key, "api-key", "testing"),
    )
    key, key2 = fake_api_key(), fake_api_key()
    dev = fake_dev_id("staging")
    c.leak(
        "docs/setup.md",
        "# Setup\n\nPut this in your shell:\n\n```bash\n"
        f"export TERRA_API_KEY={key}\n```\n\nThen call Terra:\n\n```bash\n"
        "curl https://api.tryterra.co/v2/integrations/detailed \\\n"
        f'  -H "dev-id: {dev}" \\\n'
        f'  -H "x-api-key: {key2}"\n```\n',
        (key, "api-key", "staging"),
        (dev, "dev-id", "staging"),
        (key2, "api-key", "staging"),
    )
    key = fake_api_key()
    dev = fake_dev_id("prod")
    c.leak(
        "scripts/widget.sh",
        "#!/bin/sh\n"
        "curl -X POST https://api.tryterra.co/v2/auth/generateWidgetSession \\\n"
        f"  --header 'dev-id: {dev}' \\\n"
        f"  --header 'X-API-Key: {key}' \\\n"
        '  --data \'{"reference_id": "user-1"}\'\n',
        (dev, "dev-id", "production"),
        (key, "api-key", "production"),
    )
    admin, data = fake_token("terra_at_"), fake_token("terra_dt_")
    c.leak(
        "ops/tokens.txt",
        f"admin: {admin}\nsome notes\nthe data token is {data}\n",
        (admin, "admin-token", None),
        (data, "data-token", None),
    )
    dev = fake_dev_id("staging")
    c.leak(
        "logs/request.log",
        f"2026-01-01T00:00:00Z POST /auth/generateWidgetSession developer {dev} ok\n",
        (dev, "dev-id", "staging"),
    )
    return c


def build_harmless(root: Path) -> Corpus:
    """Placeholders, environment look-ups, documentation examples, UUIDs, hashes, lockfiles."""
    c = Corpus(root)
    sha256 = secrets.token_hex(32)
    sha1 = secrets.token_hex(20)
    u1, u2 = uuid.uuid4(), uuid.uuid4()
    integrity = "sha512-" + secrets.token_urlsafe(64)
    c.write(
        ".env.terra.example",
        "TERRA_ENV=staging\n"
        "TERRA_DEV_ID=<your-dev-id>\n"
        "TERRA_API_KEY=<YOUR_API_KEY>\n"
        "TERRA_WEBHOOK_SECRET=xxx\n"
        "TERRA_API_KEY_STAGING=${TERRA_API_KEY}\n"
        "TERRA_API_KEY_PRODUCTION=changeme\n"
        "TERRA_API_KEY_TESTING=your-api-key\n"
        "TERRA_WEBHOOK_SECRET_PREVIOUS=...\n",
    )
    c.write(
        "app/config.py",
        "import os\nfrom terra import Terra\n\n"
        'api_key = os.getenv("TERRA_API_KEY")\n'
        'dev_id = os.environ["TERRA_DEV_ID"]\n'
        'secret = os.environ.get("TERRA_WEBHOOK_SECRET", "")\n'
        "client = Terra(dev_id=settings.TERRA_DEV_ID, api_key=settings.TERRA_API_KEY)\n"
        "client2 = Terra(dev_id=dev_id, api_key=api_key)\n"
        f'TERRA_API_KEY_FINGERPRINT = "{secrets.token_hex(8)}"\n'
        f'user_id = "{u1}"\n'
        f'reference_id = "{u2}"\n'
        f'checksum = "{sha256}"\n'
        'headers = {"dev-id": creds.dev_id, "x-api-key": creds.api_key.reveal()}\n',
    )
    c.write(
        "web/client.ts",
        "const client = new TerraClient({\n"
        "  devId: process.env.TERRA_DEV_ID!,\n"
        "  apiKey: process.env.TERRA_API_KEY,\n"
        "});\n"
        "const apiKey = config.terraApiKey;\n",
    )
    c.write(
        "docs/quickstart.md",
        "```bash\n"
        "curl https://api.tryterra.co/v2/integrations \\\n"
        '  -H "dev-id: YOUR_DEV_ID" \\\n'
        '  -H "x-api-key: <YOUR_API_KEY>"\n'
        "export TERRA_API_KEY=your_terra_api_key_here\n"
        "```\n"
        "Admin tokens look like `terra_at_…`; data tokens like `terra_dt_...`.\n"
        "Set `dev-id: <developer id>` and `x-api-key: <API key>` on every request.\n"
        "Dev-ids look like `yourapp-testing-EXAMPLE123`.\n",
    )
    c.write(
        ".github/workflows/ci.yml",
        "env:\n"
        "  TERRA_API_KEY: ${{ secrets.TERRA_API_KEY }}\n"
        "  TERRA_DEV_ID: ${{ vars.TERRA_DEV_ID }}\n"
        f"  CACHE_KEY: terra-{sha256}\n"
        f"  TERRA_CACHE_KEY: {sha256}\n",
    )
    c.write(
        "package-lock.json",
        "{\n"
        '  "packages": {\n'
        '    "node_modules/terra-api": {\n'
        '      "version": "2.1.0",\n'
        '      "resolved": "https://registry.npmjs.org/terra-api/-/terra-api-2.1.0.tgz",\n'
        f'      "integrity": "{integrity}"\n'
        "    }\n"
        "  }\n"
        "}\n",
    )
    c.write(
        "notes/history.txt",
        f"commit {sha1}\ntrace {u1}\nsha256 {sha256}\n"
        f"pod web-staging-{secrets.token_hex(5)} restarted\n",
    )
    c.write(
        "ios/Config.swift",
        'let apiKey = ProcessInfo.processInfo.environment["TERRA_API_KEY"] ?? ""\n'
        'request.setValue(apiKey, forHTTPHeaderField: "x-api-key")\n',
    )
    # an API key-looking value far from anything Terra: not a Terra credential
    c.write(
        "other/stripe.py", f'STRIPE_API_KEY = "{fake_api_key()}"\napi_key = "{fake_api_key()}"\n'
    )
    return c


@pytest.fixture
def leak_corpus(tmp_path: Path) -> Corpus:
    return build_leaks(tmp_path / "leaks")


@pytest.fixture
def harmless_corpus(tmp_path: Path) -> Corpus:
    return build_harmless(tmp_path / "harmless")


CliRun = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def terra_auth_cli() -> CliRun:
    """Run ``python -m terra_auth ARGS`` (the real entry point) and capture its output."""

    def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "terra_auth", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
