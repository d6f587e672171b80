"""The package's public surface: every exported name resolves, and importing stays light."""

from __future__ import annotations

import subprocess
import sys

import terra_auth


def test_every_exported_name_resolves_to_the_object_its_module_defines() -> None:
    for name in terra_auth.__all__:
        value = getattr(terra_auth, name)
        assert value is not None, name
    assert terra_auth.__version__
    assert sorted(dir(terra_auth)) == sorted(terra_auth.__all__)


def test_unknown_attribute_is_a_clear_attribute_error() -> None:
    try:
        terra_auth.no_such_thing  # noqa: B018
    except AttributeError as exc:
        assert "no_such_thing" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_importing_the_package_loads_no_http_or_validation_library() -> None:
    code = (
        "import sys, terra_auth; "
        "heavy = [m for m in ('httpx', 'pydantic', 'fastapi', 'sqlalchemy', 'rich') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_one_error_tree() -> None:
    from terra_auth import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.TerraAuthError)


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "terra_auth", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert terra_auth.__version__ in out.stdout
