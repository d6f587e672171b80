"""Sign a webhook body the way Terra (and the emulator) does, for tests of receivers.

Example:
    >>> sign_terra_webhook("{}", "s3cret-value", timestamp=1)["X-Terra-Signature"][:8]
    't=1,v1=3'
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from terra_auth.secret import Secret

__all__ = ["sign_terra_webhook"]


def sign_terra_webhook(
    body: bytes | str | Mapping[str, Any],
    secret: str | Secret,
    *,
    timestamp: int | None = None,
    trace_id: str | None = None,
) -> dict[str, str]:
    """Headers for a signed delivery: both signature spellings, trace id, content type.

    ``body`` may be a mapping (serialised compactly); send exactly the bytes you signed.
    """
    from terra_auth.emulator.webhooks import signature_header

    if isinstance(body, Mapping):
        body = json.dumps(body, separators=(",", ":"))
    t = int(time.time()) if timestamp is None else timestamp
    raw = body.encode() if isinstance(body, str) else body
    value = secret.reveal() if isinstance(secret, Secret) else secret
    signature = signature_header(raw, [value], timestamp=t)
    return {
        "content-type": "application/json",
        "terra-signature": signature,
        "X-Terra-Signature": signature,
        "X-Terra-Trace-Id": trace_id or str(uuid.uuid4()),
        "terra-reference": str(uuid.uuid4()),
    }
