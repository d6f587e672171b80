"""Test helpers for users' own suites: the pytest plugin and a webhook signer.

Example:
    >>> headers = sign_terra_webhook(b'{"type":"auth"}', "whsec_test", timestamp=1723808700)
    >>> headers["terra-signature"].startswith("t=1723808700,v1=")
    True
"""

from __future__ import annotations

from terra_auth.testing.signing import sign_terra_webhook

__all__ = ["sign_terra_webhook"]
