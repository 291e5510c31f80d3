"""Injector-wide defaults: filled from `VAULTINJECT_*` environment variables and command-line flags.

One setting, one environment variable (`VAULTINJECT_<NAME>`) and one flag (`--<name-with-dashes>`).
Agent settings also reach the agent containers as environment variables, so the agent re-parses the
pod's annotations with the same defaults the webhook used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from vaultinject import __version__
from vaultinject.records import Record
from vaultinject.spec import values
from vaultinject.spec.model import DEFAULT_TEMPLATES, Mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

ENV_PREFIX = "VAULTINJECT_"
DEFAULT_IMAGE = f"ghcr.io/vaultinject/vaultinject:{__version__}"
DEFAULT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"


class SettingsError(ValueError):
    """A bad injector setting; names the environment variable and the flag."""


class Settings(Record):
    """Injector defaults; annotations on a pod override them. `SETTINGS` documents each one."""

    vault_addr: str = ""
    vault_cacert_bytes: str = ""
    vault_namespace: str = ""
    auth_type: str = "kubernetes"
    auth_path: str = "auth/kubernetes"
    proxy_address: str = ""
    mode: Mode = Mode.NATIVE
    image: str = DEFAULT_IMAGE
    default_template: str = "map"
    revoke_on_shutdown: bool = False
    run_as_user: int = 100
    run_as_group: int = 1000
    run_as_same_user: bool = False
    set_security_context: bool = True
    cpu_request: str = "5m"
    cpu_limit: str = ""
    mem_request: str = "32Mi"
    mem_limit: str = "64Mi"
    ephemeral_request: str = ""
    ephemeral_limit: str = ""
    exit_on_retry_failure: bool = True
    static_secret_render_interval: str = ""
    max_connections_per_host: int = 0
    lease_renewal_threshold: str = ""
    auth_min_backoff: str = ""
    auth_max_backoff: str = ""
    disable_idle_connections: str = ""
    disable_keep_alives: str = ""
    log_level: str = "info"
    log_format: str = "standard"
    token_path: str = DEFAULT_TOKEN_PATH
    token_audience: str = ""
    token_expiration_seconds: int = 3600
    not_ready_after: str = "30s"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Settings:
        """Defaults, then `VAULTINJECT_*` variables, then explicit overrides (flags; None is skipped)."""
        raw: dict[str, Any] = {}
        for name in cls._fields:
            variable = env_name(name)
            if variable in environ:
                raw[name] = _convert(name, environ[variable])
        for name, value in overrides.items():
            if value is not None:
                raw[name] = _convert(name, value) if isinstance(value, str) else value
        return cls(**raw)

    def agent_environment(self) -> dict[str, str]:
        """`VAULTINJECT_*` variables for the agent: agent settings that differ from the defaults."""
        return {
            env_name(name): _render(value)
            for name, value in zip(self._fields, self, strict=True)
            if SETTINGS[name].agent and value != self._field_defaults[name]
        }


class SettingInfo(Record):
    """How a setting is parsed, explained, and whether the agent needs it."""

    help: str
    kind: str = "str"
    agent: bool = False


SETTINGS: dict[str, SettingInfo] = {
    "vault_addr": SettingInfo("Vault address, e.g. https://vault.vault.svc:8200", agent=True),
    "vault_cacert_bytes": SettingInfo("PEM CA bundle the agents trust for Vault", agent=True),
    "vault_namespace": SettingInfo("Vault Enterprise namespace", agent=True),
    "auth_type": SettingInfo("auth method: kubernetes, jwt or approle", agent=True),
    "auth_path": SettingInfo("auth mount path", agent=True),
    "proxy_address": SettingInfo("HTTPS proxy the agents use to reach Vault", agent=True),
    "mode": SettingInfo("injection mode: native, classic or init-only", "mode", agent=True),
    "image": SettingInfo("agent container image"),
    "default_template": SettingInfo("default template: map or json", "template", agent=True),
    "revoke_on_shutdown": SettingInfo("revoke the token and leases on shutdown", "bool", agent=True),
    "run_as_user": SettingInfo("agent user id", "int"),
    "run_as_group": SettingInfo("agent group id", "int"),
    "run_as_same_user": SettingInfo("run agents as the first app container's user", "bool"),
    "set_security_context": SettingInfo("give agents a restricted security context", "bool"),
    "cpu_request": SettingInfo("agent CPU request", "quantity"),
    "cpu_limit": SettingInfo("agent CPU limit (empty: none)", "quantity"),
    "mem_request": SettingInfo("agent memory request", "quantity"),
    "mem_limit": SettingInfo("agent memory limit", "quantity"),
    "ephemeral_request": SettingInfo("agent ephemeral-storage request (empty: none)", "quantity"),
    "ephemeral_limit": SettingInfo("agent ephemeral-storage limit (empty: none)", "quantity"),
    "exit_on_retry_failure": SettingInfo("stop when a render keeps failing", "bool", agent=True),
    "static_secret_render_interval": SettingInfo(
        "how often static secrets are re-read (5m)", "seconds", agent=True
    ),
    "max_connections_per_host": SettingInfo(
        "template connections per host (0: unlimited)", "int", agent=True
    ),
    "lease_renewal_threshold": SettingInfo(
        "fraction of a lease after which it is renewed", "fraction", agent=True
    ),
    "auth_min_backoff": SettingInfo("first retry delay after a failed login (1s)", "duration", agent=True),
    "auth_max_backoff": SettingInfo("longest retry delay after a failed login (5m)", "duration", agent=True),
    "disable_idle_connections": SettingInfo("comma list: auto-auth, caching, templating", agent=True),
    "disable_keep_alives": SettingInfo("comma list: auto-auth, caching, templating", agent=True),
    "log_level": SettingInfo("agent log level: trace, debug, info, warn, error", "log_level", agent=True),
    "log_format": SettingInfo("agent log format: standard or json", "log_format", agent=True),
    "token_path": SettingInfo("service-account token file the agent logs in with", agent=True),
    "token_audience": SettingInfo("audience of the projected token added when a pod mounts none"),
    "token_expiration_seconds": SettingInfo("lifetime of that projected token", "int"),
    "not_ready_after": SettingInfo(
        "how long renders may fail before the pod turns NotReady", "seconds", agent=True
    ),
}


def env_name(name: str) -> str:
    """The environment variable of a setting."""
    return ENV_PREFIX + name.upper()


def flag_name(name: str) -> str:
    """The command-line flag of a setting."""
    return "--" + name.replace("_", "-")


def _choice(allowed: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in allowed:
            raise ValueError(f"{raw!r} is not one of {', '.join(allowed)}")
        return raw.lower()

    return parse


def _checked(parser: Callable[[str], object]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw:
            parser(raw)
        return raw

    return parse


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "str": str,
    "int": values.parse_int,
    "bool": values.parse_bool,
    "mode": lambda raw: Mode(_choice(tuple(Mode))(raw)),
    "template": _choice(tuple(DEFAULT_TEMPLATES)),
    "quantity": _checked(values.parse_quantity),
    "duration": _checked(values.parse_duration),
    "seconds": _checked(values.parse_duration_or_seconds),
    "fraction": _checked(values.parse_float),
    "log_level": _choice(("trace", "debug", "info", "warn", "warning", "err", "error")),
    "log_format": _choice(("standard", "json")),
}


def _convert(name: str, raw: str) -> Any:
    if name not in SETTINGS:
        raise SettingsError(f"unknown setting {name!r}")
    try:
        return _CONVERTERS[SETTINGS[name].kind](raw)
    except ValueError as exc:
        raise SettingsError(f"{env_name(name)} / {flag_name(name)}: {exc}") from None


def _render(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
