"""Environment names and hosts, credential loading, guards.

Configuration knows nothing of HTTP: this module reads files and variables, never the network.

Precedence for one environment ``E`` and one variable ``NAME`` (first found wins):
the process environment (``NAME_E``, then ``NAME``), ``.env.terra.E`` (``NAME_E``, then
``NAME``), ``.env.terra`` (``NAME_E``, then ``NAME``). Unsuffixed *credential* variables
(dev-id, API key, signing secrets) from the process environment or ``.env.terra`` belong to one
environment only: the one ``TERRA_ENV`` names (when it is unset: the one ``load_credentials``
is asked for, and ``testing`` for ``load_all_environments``). Unsuffixed settings (URLs,
timeouts, redirect hosts) apply to every environment.

Example:
    >>> Environment.parse("prod")
    <Environment.PRODUCTION: 'production'>
    >>> creds = load_credentials("staging", directory="config")     # doctest: +SKIP
    >>> creds.key_fingerprint                                       # doctest: +SKIP
    '3f9a12c0'
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from terra_auth.errors import ConfigurationError
from terra_auth.secret import Secret

__all__ = [
    "CREDENTIAL_VARIABLES",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_STREAMING_URL",
    "DEFAULT_WIDGET_SESSION_URL",
    "SHARED_FILE",
    "VARIABLES",
    "Environment",
    "EnvironmentStatus",
    "SigningSecret",
    "TerraCredentials",
    "environment_file",
    "inspect_environments",
    "load_all_environments",
    "load_credentials",
]

#: Terra's data API v2 on the new host (backward compatible with api.tryterra.co/v2).
DEFAULT_API_BASE_URL = "https://access.tryterra.co/api/v2"
#: The new widget-session endpoint, as Terra's docs give it (the OpenAPI file says
#: /widget/api/session; both are served by the emulator, and the URL is configurable).
DEFAULT_WIDGET_SESSION_URL = "https://access.tryterra.co/api/widget/session"
#: The streaming host's token endpoints (/auth/user?id=, /auth/developer).
DEFAULT_STREAMING_URL = "https://ws.tryterra.co"


class Environment(enum.StrEnum):
    """One of Terra's three environments."""

    TESTING = "testing"
    STAGING = "staging"
    PRODUCTION = "production"

    @classmethod
    def parse(cls, name: str | Environment) -> Environment:
        """Normalise a name or alias (``test``, ``stage``, ``prod``), case-insensitively."""
        if isinstance(name, Environment):
            return name
        key = str(name).strip().lower()
        found = _ALIASES.get(key)
        if found is None:
            valid = ", ".join(e.value for e in cls)
            raise ConfigurationError(
                f"unknown Terra environment {name!r}",
                hint=f"use one of: {valid} (aliases: test, stage, prod)",
            )
        return found

    @property
    def suffix(self) -> str:
        """The suffix of per-environment variables, e.g. ``STAGING`` in ``TERRA_DEV_ID_STAGING``."""
        return self.value.upper()


_ALIASES: dict[str, Environment] = {
    "testing": Environment.TESTING,
    "test": Environment.TESTING,
    "staging": Environment.STAGING,
    "stage": Environment.STAGING,
    "production": Environment.PRODUCTION,
    "prod": Environment.PRODUCTION,
}


@dataclass(frozen=True, slots=True)
class SigningSecret:
    """A webhook signing secret, optionally accepted only until ``not_after`` (rotation)."""

    value: Secret
    not_after: datetime | None = None

    def is_valid_at(self, moment: datetime) -> bool:
        """Whether this secret may still verify a webhook signed at ``moment``."""
        return self.not_after is None or moment <= self.not_after


@dataclass(frozen=True, slots=True)
class TerraCredentials:
    """Everything needed to talk to one Terra environment. Immutable; never shows a secret.

    ``sources`` names the files and variables the values came from (for error messages
    and ``terra-auth environments``), never the values.
    """

    environment: Environment
    dev_id: str
    api_key: Secret
    webhook_secrets: tuple[SigningSecret, ...] = ()
    api_base_url: str = DEFAULT_API_BASE_URL
    widget_session_url: str = DEFAULT_WIDGET_SESSION_URL
    streaming_url: str = DEFAULT_STREAMING_URL
    allowed_redirect_hosts: tuple[str, ...] = ()
    timeout: float = 30.0
    connect_timeout: float = 10.0
    use_legacy_widget: bool = False
    sources: tuple[str, ...] = field(default=(), compare=False)
    #: the credential files that existed when these were loaded (``.env.terra.<env>``, ...)
    files: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key_fingerprint(self) -> str:
        """The API key's fingerprint (8 hex digits), safe to print."""
        return self.api_key.fingerprint

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description without any secret (fingerprints only).

        >>> TerraCredentials(Environment.TESTING, "acme-testing", Secret("k-123456")).summary()[
        ...     "key_fingerprint"] == Secret("k-123456").fingerprint
        True
        """
        return {
            "environment": self.environment.value,
            "dev_id": self.dev_id,
            "key_fingerprint": self.key_fingerprint,
            "webhook_secrets": [
                {
                    "fingerprint": s.value.fingerprint,
                    "not_after": s.not_after.isoformat() if s.not_after else None,
                }
                for s in self.webhook_secrets
            ],
            "api_base_url": self.api_base_url,
            "widget_session_url": self.widget_session_url,
            "streaming_url": self.streaming_url,
            "allowed_redirect_hosts": list(self.allowed_redirect_hosts),
            "timeout": self.timeout,
            "connect_timeout": self.connect_timeout,
            "use_legacy_widget": self.use_legacy_widget,
            "files": list(self.files),
            "sources": list(self.sources),
        }

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError(
            "TerraCredentials cannot be pickled (they hold secrets); pass the environment "
            "name and call load_credentials() in the other process"
        )

    def __copy__(self) -> TerraCredentials:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> TerraCredentials:
        return self


# --- loading ------------------------------------------------------------------------------------

#: The shared file of non-secret defaults, read after ``.env.terra.<env>``.
SHARED_FILE = ".env.terra"
#: Variables that identify an environment's account; unsuffixed, they belong to one environment.
CREDENTIAL_VARIABLES = (
    "TERRA_DEV_ID",
    "TERRA_API_KEY",
    "TERRA_WEBHOOK_SECRET",
    "TERRA_WEBHOOK_SECRET_PREVIOUS",
    "TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER",
)
#: Every variable read per environment (each also as ``<NAME>_<ENV>``).
VARIABLES = (
    *CREDENTIAL_VARIABLES,
    "TERRA_API_BASE_URL",
    "TERRA_WIDGET_SESSION_URL",
    "TERRA_STREAMING_URL",
    "TERRA_ALLOWED_REDIRECT_HOSTS",
    "TERRA_TIMEOUT",
    "TERRA_CONNECT_TIMEOUT",
    "TERRA_USE_LEGACY_WIDGET",
)
_REQUIRED = ("TERRA_DEV_ID", "TERRA_API_KEY")
_PROCESS = "process environment"


def environment_file(environment: str | Environment) -> str:
    """The file name of one environment's credentials.

    >>> environment_file("prod")
    '.env.terra.production'
    """
    return f"{SHARED_FILE}.{Environment.parse(environment).value}"


@dataclass(frozen=True, slots=True)
class _Found:
    variable: str
    value: str
    origin: str


def _invalid(variable: str, found: _Found, problem: str, hint: str) -> ConfigurationError:
    return ConfigurationError(
        f"{variable} ({found.origin}) {problem}", hint=hint, guard="invalid_value"
    )


class _Sources:
    """The process environment and the credential files of one directory, each read once."""

    def __init__(self, directory: str | Path, environ: Mapping[str, str]) -> None:
        self.directory = Path(directory)
        self.environ = environ
        self._files: dict[str, dict[str, tuple[str, int]] | None] = {}

    def path(self, name: str) -> Path:
        return self.directory / name

    def file(self, name: str) -> dict[str, tuple[str, int]] | None:
        """A file's variables (value, line), or None when it does not exist."""
        if name not in self._files:
            from terra_auth.dotenv import read_dotenv

            path = self.path(name)
            if not path.exists() and not path.is_symlink():
                self._files[name] = None
            else:
                self._files[name] = {e.key: (e.value, e.line) for e in read_dotenv(path)}
        return self._files[name]

    def declared(self) -> Environment | None:
        """The environment ``TERRA_ENV`` declares, if any."""
        raw = self.environ.get("TERRA_ENV", "").strip()
        if not raw:
            return None
        try:
            return Environment.parse(raw)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"TERRA_ENV ({_PROCESS}): {exc.message}", hint=exc.hint, guard="invalid_value"
            ) from None

    def candidates(self, env: Environment, name: str, ambient: bool) -> list[tuple[str, str]]:
        """(where, variable) pairs in precedence order; where is "" for the process."""
        own = name not in CREDENTIAL_VARIABLES or ambient
        suffixed = f"{name}_{env.suffix}"
        pairs = [("", suffixed)]
        if own:
            pairs.append(("", name))
        pairs += [(environment_file(env), suffixed), (environment_file(env), name)]
        pairs.append((SHARED_FILE, suffixed))
        if own:
            pairs.append((SHARED_FILE, name))
        return pairs

    def lookup(self, env: Environment, name: str, ambient: bool) -> _Found | None:
        for where, variable in self.candidates(env, name, ambient):
            if not where:
                if variable in self.environ:
                    return _Found(variable, self.environ[variable], f"{_PROCESS} ${variable}")
                continue
            values = self.file(where)
            if values and variable in values:
                value, line = values[variable]
                origin = f"{self.path(where)}:{line}"
                if variable != name:
                    origin += f" {variable}"
                return _Found(variable, value, origin)
        return None

    def consulted(self, env: Environment, names: list[str], ambient: bool) -> list[str]:
        """Where ``names`` were looked for: process variables, then each file."""
        variables = [v for n in names for w, v in self.candidates(env, n, ambient) if not w]
        places = [f"the {_PROCESS} ({', '.join(variables)})"]
        for file_name in (environment_file(env), SHARED_FILE):
            exists = self.file(file_name) is not None
            places.append(f"{self.path(file_name)}{'' if exists else ' (not found)'}")
        return places

    def existing_files(self, env: Environment) -> tuple[str, ...]:
        names = (environment_file(env), SHARED_FILE)
        return tuple(str(self.path(n)) for n in names if self.file(n) is not None)

    def configured(self, env: Environment, ambient: bool) -> bool:
        if self.file(environment_file(env)) is not None:
            return True
        return any(self.lookup(env, n, ambient) for n in CREDENTIAL_VARIABLES[:3])

    def build(
        self, env: Environment, opt_outs: Any, *, ambient: bool, declared: Environment | None
    ) -> TerraCredentials:
        from terra_auth import guards

        guards.check_production_mismatch(env.value, declared and declared.value, opt_outs)
        used: list[_Found] = []

        def find(name: str) -> _Found | None:
            found = self.lookup(env, name, ambient)
            if found is not None:
                used.append(found)
            return found

        required: dict[str, _Found] = {}
        absent = [name for name in _REQUIRED if self.lookup(env, name, ambient) is None]
        if absent:
            places = self.consulted(env, absent, ambient)
            raise guards.missing_variable(" and ".join(absent), env.value, places)
        for name in _REQUIRED:
            found = find(name)
            assert found is not None
            if not found.value:
                raise guards.missing_variable(name, env.value, [], empty_in=found.origin)
            guards.check_value(name, found.value, env.value, origin=found.origin, opt_outs=opt_outs)
            required[name] = found
        dev_id = required["TERRA_DEV_ID"]
        guards.check_dev_id(dev_id.value, env.value, origin=dev_id.origin, opt_outs=opt_outs)

        secrets = self._signing_secrets(env, find, opt_outs)
        timeout = _seconds(find("TERRA_TIMEOUT"), 30.0)
        connect_timeout = _seconds(find("TERRA_CONNECT_TIMEOUT"), 10.0)
        legacy = find("TERRA_USE_LEGACY_WIDGET")
        return TerraCredentials(
            environment=env,
            dev_id=dev_id.value,
            api_key=Secret(required["TERRA_API_KEY"].value),
            webhook_secrets=secrets,
            api_base_url=_url(find("TERRA_API_BASE_URL"), DEFAULT_API_BASE_URL),
            widget_session_url=_url(find("TERRA_WIDGET_SESSION_URL"), DEFAULT_WIDGET_SESSION_URL),
            streaming_url=_url(find("TERRA_STREAMING_URL"), DEFAULT_STREAMING_URL),
            allowed_redirect_hosts=_hosts(find("TERRA_ALLOWED_REDIRECT_HOSTS")),
            timeout=timeout,
            connect_timeout=connect_timeout,
            use_legacy_widget=_flag(legacy),
            sources=tuple(f"{f.variable} from {f.origin}" for f in used),
            files=self.existing_files(env),
        )

    def _signing_secrets(
        self, env: Environment, find: Any, opt_outs: Any
    ) -> tuple[SigningSecret, ...]:
        from terra_auth import guards

        current: _Found | None = find("TERRA_WEBHOOK_SECRET")
        previous: _Found | None = find("TERRA_WEBHOOK_SECRET_PREVIOUS")
        if previous is not None and not previous.value:
            previous = None
        if current is None or not current.value:
            if previous is not None:
                raise _invalid(
                    "TERRA_WEBHOOK_SECRET_PREVIOUS",
                    previous,
                    f"is set but TERRA_WEBHOOK_SECRET is not, for {env.value!r}",
                    "set TERRA_WEBHOOK_SECRET to the new secret; the previous one is only "
                    "accepted next to it during a rotation",
                )
            return ()
        out: list[SigningSecret] = []
        for found in (current, previous):
            if found is not None:
                guards.check_value(
                    found.variable.removesuffix(f"_{env.suffix}"),
                    found.value,
                    env.value,
                    origin=found.origin,
                    opt_outs=opt_outs,
                )
        out.append(SigningSecret(Secret(current.value)))
        if previous is not None:
            deadline: _Found | None = find("TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER")
            if deadline is None or not deadline.value:
                raise _invalid(
                    "TERRA_WEBHOOK_SECRET_PREVIOUS",
                    previous,
                    f"has no expiry for {env.value!r}",
                    "set TERRA_WEBHOOK_SECRET_PREVIOUS_NOT_AFTER to an ISO-8601 time (e.g. "
                    "2026-12-31T00:00:00Z) after which the old secret is refused",
                )
            out.append(SigningSecret(Secret(previous.value), _timestamp(deadline)))
        return tuple(out)


def _timestamp(found: _Found) -> datetime:
    try:
        moment = datetime.fromisoformat(found.value.strip())
    except ValueError:
        raise _invalid(
            found.variable,
            found,
            "is not an ISO-8601 date or time",
            "write it like 2026-12-31T00:00:00Z (no timezone means UTC)",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _url(found: _Found | None, default: str) -> str:
    if found is None or not found.value.strip():
        return default
    from urllib.parse import urlsplit

    value = found.value.strip()
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise _invalid(
            found.variable,
            found,
            "is not an http(s) URL",
            f"write a full URL such as {default}",
        )
    return value.rstrip("/")


def _hosts(found: _Found | None) -> tuple[str, ...]:
    if found is None:
        return ()
    hosts = tuple(h.strip().lower() for h in found.value.split(",") if h.strip())
    for host in hosts:
        if "/" in host or " " in host:
            raise _invalid(
                found.variable,
                found,
                "must list host names only",
                "separate hosts with commas, without scheme or path: app.example.com,localhost",
            )
    return hosts


def _seconds(found: _Found | None, default: float) -> float:
    if found is None or not found.value.strip():
        return default
    try:
        value = float(found.value)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise _invalid(
            found.variable, found, "is not a positive number of seconds", "write e.g. 30 or 2.5"
        )
    return value


def _flag(found: _Found | None) -> bool:
    if found is None:
        return False
    from terra_auth.guards import parse_flag

    try:
        return parse_flag(found.variable, found.value)
    except ConfigurationError as exc:
        raise _invalid(found.variable, found, "is not a boolean", exc.hint or "") from None


def _opt_outs(environ: Mapping[str, str], keywords: dict[str, bool]) -> Any:
    from terra_auth.guards import OptOuts

    return OptOuts.resolve(environ, **keywords)


def _loaded(creds: TerraCredentials) -> None:
    from terra_auth.secret import get_logger, install_log_masking

    install_log_masking()
    get_logger("terra_auth.environments").debug(
        "loaded %s credentials (dev-id %s, key %s, %d signing secret(s)) from %s",
        creds.environment.value,
        creds.dev_id,
        creds.key_fingerprint,
        len(creds.webhook_secrets),
        ", ".join(creds.files) or _PROCESS,
    )


def load_credentials(
    env: str | Environment | None = None,
    *,
    directory: str | Path = ".",
    environ: Mapping[str, str] | None = None,
    allow_dev_id_mismatch: bool = False,
    allow_production_mismatch: bool = False,
    allow_placeholders: bool = False,
    allow_malformed_values: bool = False,
) -> TerraCredentials:
    """Load one environment's credentials (``env`` defaults to ``TERRA_ENV``, else testing).

    Raises :class:`ConfigurationError` (with ``guard`` and ``hint``) when a variable is
    missing or a guard refuses the configuration; the ``allow_*`` keywords are the opt-outs.

    >>> load_credentials("stage", environ={"TERRA_DEV_ID": "acme-staging-1",
    ...                  "TERRA_API_KEY": "k-9f8e7d6c5b4a"}, directory="/nonexistent").dev_id
    'acme-staging-1'
    """
    environ = os.environ if environ is None else environ
    opt_outs = _opt_outs(
        environ,
        {
            "allow_dev_id_mismatch": allow_dev_id_mismatch,
            "allow_production_mismatch": allow_production_mismatch,
            "allow_placeholders": allow_placeholders,
            "allow_malformed_values": allow_malformed_values,
        },
    )
    sources = _Sources(directory, environ)
    declared = sources.declared()
    target = Environment.parse(env) if env is not None else (declared or Environment.TESTING)
    ambient = target == (declared or target)
    creds = sources.build(target, opt_outs, ambient=ambient, declared=declared)
    _loaded(creds)
    return creds


@dataclass(frozen=True, slots=True)
class EnvironmentStatus:
    """What :func:`inspect_environments` found for one environment (never a secret)."""

    environment: Environment
    configured: bool
    credentials: TerraCredentials | None = None
    error: ConfigurationError | None = None
    files: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.configured and self.error is None


def inspect_environments(
    *,
    directory: str | Path = ".",
    environ: Mapping[str, str] | None = None,
    **opt_outs: bool,
) -> list[EnvironmentStatus]:
    """Every environment's status, without raising for one environment's problem.

    Used by ``terra-auth environments`` and ``doctor``; :func:`load_all_environments` raises
    the first error instead. The ``shared_credentials`` guard marks both environments.
    """
    environ = os.environ if environ is None else environ
    resolved = _opt_outs(environ, opt_outs)
    sources = _Sources(directory, environ)
    declared = sources.declared()
    ambient_env = declared or Environment.TESTING
    statuses: list[EnvironmentStatus] = []
    for env in Environment:
        ambient = env == ambient_env
        files: tuple[str, ...] = ()
        try:
            if not sources.configured(env, ambient):
                statuses.append(EnvironmentStatus(env, False, files=sources.existing_files(env)))
                continue
            files = sources.existing_files(env)
            creds = sources.build(env, resolved, ambient=ambient, declared=declared)
        except ConfigurationError as exc:
            statuses.append(EnvironmentStatus(env, True, error=exc, files=files))
            continue
        statuses.append(EnvironmentStatus(env, True, creds, files=creds.files))
    if any(s.credentials is not None for s in statuses):
        from terra_auth.secret import install_log_masking

        install_log_masking()
    return _check_shared(statuses, resolved)


def _check_shared(statuses: list[EnvironmentStatus], opt_outs: Any) -> list[EnvironmentStatus]:
    from dataclasses import replace

    from terra_auth.guards import check_shared_credentials

    def secrets(creds: TerraCredentials) -> list[tuple[str, object]]:
        items: list[tuple[str, object]] = [("API key", creds.api_key)]
        items += [("signing secret", s.value) for s in creds.webhook_secrets]
        return items

    out = list(statuses)
    loaded = [(i, s) for i, s in enumerate(out) if s.credentials is not None]
    for a, (i, first) in enumerate(loaded):
        for j, second in loaded[a + 1 :]:
            assert first.credentials is not None and second.credentials is not None
            try:
                check_shared_credentials(
                    {
                        first.environment.value: secrets(first.credentials),
                        second.environment.value: secrets(second.credentials),
                    },
                    opt_outs,
                )
            except ConfigurationError as exc:
                for k in (i, j):
                    if out[k].error is None:
                        out[k] = replace(out[k], error=exc)
    return out


def load_all_environments(
    *,
    directory: str | Path = ".",
    environ: Mapping[str, str] | None = None,
    allow_dev_id_mismatch: bool = False,
    allow_shared_credentials: bool = False,
    allow_production_mismatch: bool = False,
    allow_placeholders: bool = False,
    allow_malformed_values: bool = False,
) -> dict[Environment, TerraCredentials]:
    """Every configured environment's credentials, e.g. for a webhook receiver serving all.

    An environment is configured when its file ``.env.terra.<env>`` exists or one of its
    credential variables is set. Raises the first environment's error; raises when none is
    configured.
    """
    statuses = inspect_environments(
        directory=directory,
        environ=environ,
        allow_dev_id_mismatch=allow_dev_id_mismatch,
        allow_shared_credentials=allow_shared_credentials,
        allow_production_mismatch=allow_production_mismatch,
        allow_placeholders=allow_placeholders,
        allow_malformed_values=allow_malformed_values,
    )
    for status in statuses:
        if status.error is not None:
            raise status.error
    loaded = {s.environment: s.credentials for s in statuses if s.credentials is not None}
    if not loaded:
        folder = Path(directory)
        raise ConfigurationError(
            "no Terra environment is configured: no credential variables in the process "
            f"environment and no {folder / (SHARED_FILE + '.<env>')} file",
            hint="run `terra-auth setup-environment testing` (or staging, production), or set "
            "TERRA_DEV_ID_<ENV> and TERRA_API_KEY_<ENV>",
            guard="missing_variable",
        )
    for creds in loaded.values():
        _loaded(creds)
    return loaded
