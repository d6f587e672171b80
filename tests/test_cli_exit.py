"""The one place that turns errors into messages and exit codes (terra_auth.cli._exit)."""

from __future__ import annotations

import click
import pytest

from terra_auth.cli._exit import EXIT_CONFIG, EXIT_INTERNAL, EXIT_OK, EXIT_PROBLEMS, run_main


def _command(exc: BaseException | None = None, code: int | None = None) -> click.Command:
    @click.command()
    @click.pass_context
    def command(ctx: click.Context) -> None:
        if exc is not None:
            raise exc
        if code is not None:
            ctx.exit(code)

    return command


def _run(command: click.Command, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as stopped:
        run_main(command, [])
    return int(stopped.value.code or 0), capsys.readouterr().err


def test_a_missing_optional_package_names_the_extra_to_install(capsys) -> None:
    code, err = _run(_command(ModuleNotFoundError("No module named 'sqlalchemy'", name="sqlalchemy")), capsys)
    assert code == EXIT_CONFIG
    assert "'sqlalchemy'" in err and "pip install 'terra-auth[service]'" in err
    assert "Traceback" not in err


def test_an_unknown_missing_module_is_an_internal_error_without_traceback(capsys) -> None:
    code, err = _run(_command(ModuleNotFoundError("nope", name="not_ours")), capsys)
    assert code == EXIT_INTERNAL
    assert "internal error" in err and "Traceback" not in err


def test_ctx_exit_code_is_honoured(capsys) -> None:
    assert _run(_command(code=EXIT_PROBLEMS), capsys)[0] == EXIT_PROBLEMS
    assert _run(_command(), capsys)[0] == EXIT_OK
