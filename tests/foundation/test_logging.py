"""terra-auth's loggers mask loaded secret values (defence in depth)."""

from __future__ import annotations

import io
import logging

import pytest

from terra_auth.environments import load_credentials


def test_caplog_sees_masked_secrets(config, caplog: pytest.LogCaptureFixture) -> None:
    acct = config.add("testing")
    caplog.set_level(logging.DEBUG, logger="terra_auth")
    creds = load_credentials("testing", directory=config.directory, environ={})
    logger = logging.getLogger("terra_auth")
    logger.warning("oops, the key is %s", creds.api_key.reveal())
    logger.error(f"and the secret is {acct.webhook_secret} inline")
    text = caplog.text
    assert "oops, the key is **********" in text
    assert "and the secret is ********** inline" in text
    assert acct.api_key not in text and acct.webhook_secret not in text
    # the loader's own debug line names the environment and fingerprint, nothing secret
    assert f"key {creds.key_fingerprint}" in text


def test_a_real_handler_on_a_child_logger(config) -> None:
    acct = config.add("staging")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger("terra_auth")
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        load_credentials("staging", directory=config.directory, environ={})
        from terra_auth.secret import get_logger

        get_logger("terra_auth.client").info("sending x-api-key=%s", acct.api_key)
        try:
            raise RuntimeError(f"boom {acct.api_key}")
        except RuntimeError:
            root.exception("failed")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    out = stream.getvalue()
    assert "terra_auth.client INFO sending x-api-key=**********" in out
    assert "loaded staging credentials" in out
    assert "RuntimeError: boom **********" in out  # the traceback is masked too
    assert acct.api_key not in out
