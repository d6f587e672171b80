"""The examples in the webhook modules' docstrings run and stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "terra_auth.webhooks",
        "terra_auth.webhooks.signature",
        "terra_auth.webhooks.events",
        "terra_auth.webhooks.lifecycle",
    ],
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
