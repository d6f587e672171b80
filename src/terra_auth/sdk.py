"""Terra's official Python SDK (``terra-python``), configured from terra-auth credentials.

Code written for the official SDK runs unchanged on our credentials, against Terra or the
emulator. Needs the extra: ``pip install 'terra-auth[sdk]'``.

Example:
    >>> terra = official_client("staging")                              # doctest: +SKIP
    >>> terra.integrations.fetch().providers                            # doctest: +SKIP
    ['FITBIT', 'GARMIN', ...]
"""

from __future__ import annotations

from typing import Any

from terra_auth.environments import Environment, TerraCredentials
from terra_auth.errors import ConfigurationError

__all__ = ["official_client"]


def official_client(
    env_or_credentials: TerraCredentials | Environment | str | None = None, **kw: Any
) -> Any:
    """A ``terra.Terra`` with the dev-id, key, base URL and timeout of the credentials.

    ``kw`` goes to ``terra.Terra`` (e.g. ``httpx_client=``); ``directory`` and ``environ`` go
    to ``load_credentials`` when an environment name is given.
    """
    try:
        from terra import Terra
    except ImportError:
        raise ConfigurationError(
            "terra-python (Terra's official SDK) is not installed",
            hint="install the extra: pip install 'terra-auth[sdk]'",
        ) from None
    if isinstance(env_or_credentials, TerraCredentials):
        creds = env_or_credentials
    else:
        from terra_auth.environments import load_credentials

        load_kw = {k: kw.pop(k) for k in ("directory", "environ") if k in kw}
        creds = load_credentials(env_or_credentials, **load_kw)
    kw.setdefault("timeout", creds.timeout)
    return Terra(
        dev_id=creds.dev_id,
        api_key=creds.api_key.reveal(),
        base_url=creds.api_base_url,
        **kw,
    )
