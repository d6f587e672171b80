"""The examples in the emulator's docstrings run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "terra_auth.emulator.accounts",
    "terra_auth.emulator.state",
    "terra_auth.emulator.faults",
    "terra_auth.emulator.payloads",
    "terra_auth.emulator.responses",
    "terra_auth.emulator.webhooks",
    "terra_auth.emulator.widget",
    "terra_auth.emulator.core",
    "terra_auth.emulator.api",
    "terra_auth.emulator.app",
    "terra_auth.testing",
    "terra_auth.testing.signing",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
