"""The connection service: endpoints for logged-in users, webhooks, landing pages, the demo.

Names are imported lazily, so the Flask adapter never imports FastAPI and vice versa.

Example:
    >>> from terra_auth.service import create_app, ServiceSettings     # doctest: +SKIP
    >>> app = create_app(ServiceSettings.from_env(), current_user=my_dependency)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "DemoLogin",
    "ServiceCore",
    "ServiceSettings",
    "create_app",
    "reference_id_for",
    "run_demo",
    "terra_blueprint",
    "terra_router",
]

_EXPORTS: dict[str, str] = {
    "ServiceSettings": "terra_auth.service.settings",
    "ServiceCore": "terra_auth.service.core",
    "reference_id_for": "terra_auth.service.core",
    "DemoLogin": "terra_auth.service.auth",
    "create_app": "terra_auth.service.fastapi_app",
    "terra_router": "terra_auth.service.fastapi_app",
    "terra_blueprint": "terra_auth.service.flask_blueprint",
    "run_demo": "terra_auth.service.demo",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'terra_auth.service' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from terra_auth.service.auth import DemoLogin
    from terra_auth.service.core import ServiceCore, reference_id_for
    from terra_auth.service.demo import run_demo
    from terra_auth.service.fastapi_app import create_app, terra_router
    from terra_auth.service.flask_blueprint import terra_blueprint
    from terra_auth.service.settings import ServiceSettings
