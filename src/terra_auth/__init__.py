"""terra-auth: Terra credentials, connection flows and signed webhooks, safely.

The public API is imported lazily, so ``import terra_auth`` (and the CLI) start fast:

    >>> import terra_auth
    >>> creds = terra_auth.load_credentials("staging")          # doctest: +SKIP
    >>> client = terra_auth.get_terra_client("staging")         # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "TerraAuthError": "terra_auth.errors",
    "ConfigurationError": "terra_auth.errors",
    "InvalidRequestError": "terra_auth.errors",
    "TerraApiError": "terra_auth.errors",
    "AuthenticationError": "terra_auth.errors",
    "NotFoundError": "terra_auth.errors",
    "GoneError": "terra_auth.errors",
    "RateLimitedError": "terra_auth.errors",
    "ServerError": "terra_auth.errors",
    "TransportError": "terra_auth.errors",
    "WebhookVerificationError": "terra_auth.errors",
    # secrets
    "Secret": "terra_auth.secret",
    # environments and credentials
    "Environment": "terra_auth.environments",
    "SigningSecret": "terra_auth.environments",
    "TerraCredentials": "terra_auth.environments",
    "load_credentials": "terra_auth.environments",
    "load_all_environments": "terra_auth.environments",
    # the client (terra_auth.client) and its wire models (terra_auth.models)
    "TerraClient": "terra_auth.client",
    "AsyncTerraClient": "terra_auth.client",
    "RetryPolicy": "terra_auth.client",
    "get_terra_client": "terra_auth.client",
    "get_async_terra_client": "terra_auth.client",
    "WidgetSession": "terra_auth.models",
    "MobileToken": "terra_auth.models",
    "AuthLink": "terra_auth.models",
    "Integration": "terra_auth.models",
    "TerraUser": "terra_auth.models",
    "StreamingToken": "terra_auth.models",
    "CheckResult": "terra_auth.models",
    # webhooks: signature, typed events, the lifecycle reducer
    "verify_webhook": "terra_auth.webhooks",
    "sign_webhook": "terra_auth.webhooks",
    "VerifiedWebhook": "terra_auth.webhooks",
    "parse_event": "terra_auth.webhooks",
    "ConnectionState": "terra_auth.webhooks",
    "ConnectionChange": "terra_auth.webhooks",
    "reduce_event": "terra_auth.webhooks",
}

__all__ = [
    "AsyncTerraClient",
    "AuthLink",
    "AuthenticationError",
    "CheckResult",
    "ConfigurationError",
    "ConnectionChange",
    "ConnectionState",
    "Environment",
    "GoneError",
    "Integration",
    "InvalidRequestError",
    "MobileToken",
    "NotFoundError",
    "RateLimitedError",
    "RetryPolicy",
    "Secret",
    "ServerError",
    "SigningSecret",
    "StreamingToken",
    "TerraApiError",
    "TerraAuthError",
    "TerraClient",
    "TerraCredentials",
    "TerraUser",
    "TransportError",
    "VerifiedWebhook",
    "WebhookVerificationError",
    "WidgetSession",
    "__version__",
    "get_async_terra_client",
    "get_terra_client",
    "load_all_environments",
    "load_credentials",
    "parse_event",
    "reduce_event",
    "sign_webhook",
    "verify_webhook",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'terra_auth' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from terra_auth.client import (
        AsyncTerraClient,
        RetryPolicy,
        TerraClient,
        get_async_terra_client,
        get_terra_client,
    )
    from terra_auth.environments import (
        Environment,
        SigningSecret,
        TerraCredentials,
        load_all_environments,
        load_credentials,
    )
    from terra_auth.errors import (
        AuthenticationError,
        ConfigurationError,
        GoneError,
        InvalidRequestError,
        NotFoundError,
        RateLimitedError,
        ServerError,
        TerraApiError,
        TerraAuthError,
        TransportError,
        WebhookVerificationError,
    )
    from terra_auth.models import (
        AuthLink,
        CheckResult,
        Integration,
        MobileToken,
        StreamingToken,
        TerraUser,
        WidgetSession,
    )
    from terra_auth.secret import Secret
    from terra_auth.webhooks import (
        ConnectionChange,
        ConnectionState,
        VerifiedWebhook,
        parse_event,
        reduce_event,
        sign_webhook,
        verify_webhook,
    )
