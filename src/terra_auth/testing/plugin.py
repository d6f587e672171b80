"""pytest plugin for users' own test suites (registered as the ``pytest11`` entry point).

Fixtures:
    ``terra_emulator``: a running :class:`terra_auth.emulator.Emulator` (seed 0, fast retries);
        options through ``@pytest.mark.terra_emulator(error_style="legacy", ...)``.
    ``terra_credentials``: ``TerraCredentials`` of its ``testing`` environment.
    ``sign_terra_webhook``: the :func:`terra_auth.testing.sign_terra_webhook` helper.

Example:
    def test_connect(terra_emulator, terra_credentials):
        user = terra_emulator.connect("testing", provider="FITBIT", reference_id="u1")
        assert user["reference_id"] == "u1"
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from terra_auth.emulator import Emulator
    from terra_auth.environments import TerraCredentials

__all__ = ["sign_terra_webhook", "terra_credentials", "terra_emulator"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "terra_emulator(**options): options for the terra_emulator fixture "
        "(seed, error_style, time_scale, webhook_url, legacy_auth_error, ...)",
    )


@pytest.fixture
def terra_emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh local Terra on a free port, stopped after the test."""
    try:
        from terra_auth.emulator import Emulator
    except ModuleNotFoundError as exc:  # the emulator runs on FastAPI + uvicorn
        pytest.fail(
            f"the terra_emulator fixture needs {exc.name!r}: "
            "pip install 'terra-auth[emulator]' in your test environment",
            pytrace=False,
        )

    options: dict[str, Any] = {"seed": 0, "time_scale": 0.001, "deauth_delay": 0.0}
    marker = request.node.get_closest_marker("terra_emulator")
    if marker is not None:
        options.update(marker.kwargs)
    with Emulator(**options) as emulator:
        yield emulator


@pytest.fixture
def terra_credentials(terra_emulator: Emulator) -> TerraCredentials:
    """Credentials of the emulator's ``testing`` environment."""
    return terra_emulator.credentials("testing")


@pytest.fixture
def sign_terra_webhook() -> Callable[..., dict[str, str]]:
    """``sign_terra_webhook(body, secret, timestamp=None) -> headers``."""
    from terra_auth.testing.signing import sign_terra_webhook as sign

    return sign
