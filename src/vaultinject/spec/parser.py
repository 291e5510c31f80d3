"""Pod annotations (plus injector settings) to a validated `InjectionSpec`.

The same code runs in the webhook at admission and in the agent at run time, so both always agree.
Accept/reject decisions follow the Vault Agent Injector (`reference/vault-agent-injector.md`), and are
stricter only where upstream is unsafe: paths that escape the secrets volume, files that overwrite each
other, values the agent could not use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping

from vaultinject.spec import paths, values
from vaultinject.spec.model import (
    DEFAULT_TEMPLATES,
    RESERVED_AGENT_PATHS,
    VAULT_PREFIX,
    VAULTINJECT_PREFIX,
    AuthSpec,
    CacheSpec,
    InjectionSpec,
    Mode,
    Resources,
    SecretSpec,
    SecuritySpec,
    SpecError,
    TemplateConfig,
    VaultConnection,
    frozen_mapping,
)
from vaultinject.spec.settings import Settings
from vaultinject.urls import split_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

# The three annotations that create a secret, in the order upstream tries them.
SECRET_PREFIXES = ("agent-inject-secret-", "agent-inject-template-file-", "agent-inject-template-")
PER_SECRET_PREFIXES = (
    "agent-inject-file-",
    "agent-inject-perms-",
    "agent-inject-command-",
    "agent-template-left-delim-",
    "agent-template-right-delim-",
    "error-on-missing-key-",
    "secret-volume-path-",
    "preserve-secret-case-",
)
FAMILY_PREFIXES = ("auth-config-", "agent-telemetry-")

KNOWN_KEYS = frozenset(
    {
        # 1.1 injection control
        "agent-inject", "agent-inject-status", "agent-pre-populate", "agent-pre-populate-only",
        "agent-init-first", "agent-inject-containers", "agent-configmap", "agent-image",
        "agent-request-namespace", "agent-native-sidecar",
        # 1.2 secrets
        "secret-volume-path", "preserve-secret-case", "agent-inject-default-template", "agent-inject-token",
        # 1.3 resources, identity, security
        "agent-limits-cpu", "agent-limits-mem", "agent-limits-ephemeral", "agent-requests-cpu",
        "agent-requests-mem", "agent-requests-ephemeral", "agent-run-as-user", "agent-run-as-group",
        "agent-run-as-same-user", "agent-set-security-context", "agent-share-process-namespace",
        "agent-copy-volume-mounts", "agent-extra-secret", "agent-service-account-token-volume-name",
        "agent-json-patch", "agent-init-json-patch", "go-max-procs",
        # 1.4 behaviour
        "agent-cache-enable", "agent-cache-use-auto-auth-token", "agent-cache-listener-port",
        "agent-cache-exit-on-err", "agent-enable-quit", "agent-revoke-on-shutdown", "agent-revoke-grace",
        "template-config-exit-on-retry-failure", "template-static-secret-render-interval",
        "template-max-connections-per-host", "template-lease-renewal-threshold",
        "agent-disable-idle-connections", "agent-disable-keep-alives", "agent-auto-auth-exit-on-err",
        "auth-min-backoff", "auth-max-backoff",
        # 1.5 connection and auth
        "service", "role", "auth-type", "auth-path", "namespace", "proxy-address", "tls-skip-verify",
        "tls-secret", "tls-server-name", "ca-cert", "ca-key", "client-cert", "client-key",
        "client-max-retries", "client-timeout", "log-level", "log-format",
    }
)  # fmt: skip
EXTENSION_KEYS = frozenset({"mode", "token-audience"})

# Accepted for compatibility, but they configure parts of Vault Agent our agent does not have.
INERT_KEYS = {
    "go-max-procs": "the agent is not a Go program",
    "agent-cache-use-auto-auth-token": "the agent runs no cache listener",
    "agent-cache-listener-port": "the agent runs no cache listener",
    "agent-disable-idle-connections": "the agent opens a connection per request",
    "agent-disable-keep-alives": "the agent opens a connection per request",
    "template-max-connections-per-host": "the agent opens a connection per request",
    "agent-cache-exit-on-err": "the agent keeps no persistent cache to restore",
    "agent-enable-quit": "the agent has no quit endpoint; give Jobs vaultinject.io/mode: init-only or native",
    "agent-revoke-grace": "the agent revokes at SIGTERM; in native mode that is after the app has stopped",
}
INERT_PREFIXES = {"agent-telemetry-": "the agent exports no telemetry"}

SUPPORTED_AUTH_TYPES = ("kubernetes", "jwt", "approle")
CONNECTION_FEATURES = ("auto-auth", "caching", "templating", "proxying")
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "err", "error")
LOG_FORMATS = ("standard", "json")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


_PARSED: dict[tuple[tuple[tuple[str, str], ...], Settings], InjectionSpec] = {}
_PARSED_MAX = 512


def parse(annotations: Mapping[str, str], settings: Settings | None = None) -> InjectionSpec:
    """Parse a pod's annotations; raise `SpecError` (holding every error in `.errors`) if any is invalid.

    A spec is immutable, so the pods of one rollout, which share their annotations, share one parse.
    """
    strings, errors = string_annotations(annotations)
    if not isinstance(annotations, Mapping):
        raise errors[0]
    settings = settings or Settings()
    key = (tuple(strings.items()), settings)
    spec = None if errors else _PARSED.get(key)
    if spec is None:
        spec = _parse(strings, errors, settings)
        if len(_PARSED) >= _PARSED_MAX:
            del _PARSED[next(iter(_PARSED))]
        _PARSED[key] = spec
    return spec


def _parse(strings: dict[str, str], errors: list[SpecError], settings: Settings) -> InjectionSpec:
    reader = _Reader(strings)
    reader.errors += errors
    reader.refused = {error.annotation for error in errors}
    spec = _build(reader, settings)
    if reader.errors:
        first = reader.errors[0]
        first.errors = tuple(reader.errors)
        raise first
    return spec


def string_annotations(annotations: object) -> tuple[dict[str, str], list[SpecError]]:
    """The annotations as strings, and an error for every key and value that is not one.

    Kubernetes annotations are strings; YAML turns an unquoted `1000` or `true` into a number or a
    boolean. A refused value stays in the result as the string it most likely meant, so it causes no
    second, misleading error (a missing role, say).
    """
    if not isinstance(annotations, Mapping):
        return {}, [SpecError(ANNOTATIONS_FIELD, "must be a mapping of annotation names to strings")]
    strings: dict[str, str] = {}
    errors: list[SpecError] = []
    for key, value in annotations.items():
        if not isinstance(key, str):
            errors.append(SpecError(ANNOTATIONS_FIELD, f"an annotation name {values.string_hint(key)}"))
        elif isinstance(value, str):
            strings[key] = value
        else:
            errors.append(SpecError(key or f'{ANNOTATIONS_FIELD}[""]', values.string_hint(value)))
            strings[key] = values.string_stand_in(value)
    return strings, errors


ANNOTATIONS_FIELD = "metadata.annotations"


class _Reader:
    """Typed access to the annotations that collects errors instead of stopping at the first."""

    def __init__(self, annotations: Mapping[str, str]) -> None:
        self.annotations = annotations
        self.sorted_keys = sorted(annotations)
        self.errors: list[SpecError] = []
        self.warnings: list[str] = []
        self.refused: set[str] = set()  # annotations already refused for not being strings

    def raw(self, suffix: str) -> str | None:
        return self.annotations.get(VAULT_PREFIX + suffix)

    def has(self, suffix: str) -> bool:
        return VAULT_PREFIX + suffix in self.annotations

    def fail(self, key: str, message: str) -> None:
        full = key if "/" in key else VAULT_PREFIX + key
        if full not in self.refused:
            self.errors.append(SpecError(full, message))

    def value(self, suffix: str, parser: Callable[[str], T], default: T) -> T:
        """The parsed annotation, or `default` when it is absent (or invalid, after recording why)."""
        raw = self.raw(suffix)
        if raw is None:
            return default
        return self.parse(suffix, raw, parser, default)

    def parse(self, key: str, raw: str, parser: Callable[[str], T], default: T) -> T:
        try:
            return parser(raw)
        except ValueError as exc:
            # parsers quote the value; a long one is shortened (a 5000-digit number helps nobody)
            self.fail(key, str(exc).replace(repr(raw), values.shown(raw)))
            return default

    def text(self, suffix: str, default: str | None = None) -> str | None:
        """A string annotation; empty means unset."""
        raw = self.raw(suffix)
        return (raw or None) if raw is not None else default

    def keys_with_prefix(self, prefix: str) -> Iterator[tuple[str, str, str]]:
        """(suffix, full key, value) of every annotation under `vault.hashicorp.com/<prefix>`."""
        full_prefix = VAULT_PREFIX + prefix
        for key in self.sorted_keys:
            if key.startswith(full_prefix):
                yield key[len(full_prefix) :], key, self.annotations[key]


def _build(reader: _Reader, settings: Settings) -> InjectionSpec:
    if reader.text("agent-configmap"):
        reader.fail(
            "agent-configmap",
            "a raw Vault Agent configuration cannot run on the vaultinject agent; express each file as "
            "agent-inject-secret-<name> and agent-inject-template-<name> annotations instead",
        )
    _check_unknown_keys(reader)
    if reader.raw("agent-request-namespace") == "":
        reader.fail("agent-request-namespace", "namespace missing from request; remove the empty annotation")
    mode, pre_populate = _mode(reader, settings)
    secret_volume_path = reader.value("secret-volume-path", _mount_path, "/vault/secrets")
    default_template = reader.value(
        "agent-inject-default-template", _default_template, settings.default_template
    )
    inject_token = reader.value("agent-inject-token", values.parse_bool, False)
    return InjectionSpec(
        mode=mode,
        image=reader.value("agent-image", _image, None) or settings.image,
        vault=_vault_connection(reader, settings),
        auth=_auth(reader, settings),
        secrets=_secrets(reader, secret_volume_path, default_template, inject_token),
        secret_volume_path=secret_volume_path,
        pre_populate=pre_populate,
        init_first=reader.value("agent-init-first", values.parse_bool, False),
        inject_containers=reader.value("agent-inject-containers", values.split_list, None),
        inject_token=inject_token,
        security=_security(reader, settings),
        resources=_resources(reader, settings),
        share_process_namespace=reader.value("agent-share-process-namespace", values.parse_bool, None),
        copy_volume_mounts=reader.text("agent-copy-volume-mounts"),
        extra_secret=reader.value("agent-extra-secret", _object_name, None),
        service_account_token_volume=reader.text("agent-service-account-token-volume-name"),
        token_audience=_extension(reader, "token-audience") or settings.token_audience or None,
        agent_json_patch=reader.value("agent-json-patch", values.parse_json_patch, ()),
        init_json_patch=reader.value("agent-init-json-patch", values.parse_json_patch, ()),
        cache=_cache(reader),
        enable_quit=reader.value("agent-enable-quit", values.parse_bool, False),
        revoke_on_shutdown=reader.value(
            "agent-revoke-on-shutdown", values.parse_bool, settings.revoke_on_shutdown
        ),
        revoke_grace=reader.value("agent-revoke-grace", values.parse_uint, 5),
        template_config=_template_config(reader, settings),
        telemetry=_telemetry(reader),
        disable_idle_connections=_features(
            reader, "agent-disable-idle-connections", settings.disable_idle_connections
        ),
        disable_keep_alives=_features(reader, "agent-disable-keep-alives", settings.disable_keep_alives),
        go_max_procs=reader.text("go-max-procs"),
        log_level=reader.value("log-level", _optional(_choice(LOG_LEVELS)), None) or settings.log_level,
        log_format=reader.value("log-format", _optional(_choice(LOG_FORMATS)), None) or settings.log_format,
        not_ready_after=values.parse_duration_or_seconds(settings.not_ready_after),
        warnings=tuple(reader.warnings),
    )


def _telemetry(reader: _Reader) -> Mapping[str, object]:
    found: dict[str, object] = {}
    for suffix, key, raw in reader.keys_with_prefix("agent-telemetry-"):
        found[suffix.replace("-", "_")] = reader.parse(key, raw, values.parse_json_value, None)
    return frozen_mapping(found)


def _check_unknown_keys(reader: _Reader) -> None:
    for key in reader.sorted_keys:
        if key.startswith(VAULTINJECT_PREFIX) and key[len(VAULTINJECT_PREFIX) :] not in EXTENSION_KEYS:
            known = ", ".join(VAULTINJECT_PREFIX + name for name in sorted(EXTENSION_KEYS))
            reader.fail(key, f"unknown vaultinject annotation; the known ones are {known}")
        elif key.startswith(VAULT_PREFIX):
            suffix = key[len(VAULT_PREFIX) :]
            inert = INERT_KEYS.get(suffix) or next(
                (why for prefix, why in INERT_PREFIXES.items() if suffix.startswith(prefix)), None
            )
            if inert:
                reader.warnings.append(f"{key} has no effect: {inert}")
            elif suffix not in KNOWN_KEYS and not suffix.startswith(
                SECRET_PREFIXES + PER_SECRET_PREFIXES + FAMILY_PREFIXES
            ):
                reader.warnings.append(f"{key} is not a known annotation and is ignored; check its spelling")


def _extension(reader: _Reader, name: str) -> str | None:
    return reader.annotations.get(VAULTINJECT_PREFIX + name) or None


def _mode(reader: _Reader, settings: Settings) -> tuple[Mode, bool]:
    """The injection mode, and whether classic mode has an init container."""
    mode_key = VAULTINJECT_PREFIX + "mode"
    explicit = _extension(reader, "mode")
    chosen = reader.parse(mode_key, explicit, _mode_value, None) if explicit else None
    pre_populate = reader.value("agent-pre-populate", values.parse_bool, True)
    pre_populate_only = reader.value("agent-pre-populate-only", values.parse_bool, False)
    native_sidecar = reader.value("agent-native-sidecar", values.parse_bool, False)
    if pre_populate_only and not pre_populate:
        reader.fail(
            "agent-pre-populate-only", "agent-pre-populate is false too, which leaves no agent to inject"
        )
    if chosen is None:
        if pre_populate_only:
            if native_sidecar:
                reader.fail("agent-native-sidecar", "cannot be combined with agent-pre-populate-only: true")
            return Mode.INIT_ONLY, True
        if native_sidecar:
            return Mode.NATIVE, True
        return (Mode(settings.mode), True) if pre_populate else (Mode.CLASSIC, False)
    if pre_populate_only and chosen is not Mode.INIT_ONLY:
        reader.fail("agent-pre-populate-only", f"conflicts with {mode_key}: {chosen}; remove one of them")
    if not pre_populate and chosen is not Mode.CLASSIC:
        reader.fail("agent-pre-populate", f"false only applies to {mode_key}: classic (got {chosen})")
    return chosen, pre_populate


def _mode_value(raw: str) -> Mode:
    try:
        return Mode(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a mode; use one of {', '.join(Mode)}") from None


def _vault_connection(reader: _Reader, settings: Settings) -> VaultConnection:
    address = reader.text("service", settings.vault_addr or None)
    if address is None:
        reader.fail("service", "no Vault address; set this annotation or the injector's --vault-addr")
    else:
        address = reader.parse("service", address, _vault_address, address)
    return VaultConnection(
        address=address or "",
        ca_cert=reader.text("ca-cert"),
        ca_path=reader.text("ca-key"),
        ca_cert_bytes=settings.vault_cacert_bytes or None,
        client_cert=reader.text("client-cert"),
        client_key=reader.text("client-key"),
        tls_server_name=reader.text("tls-server-name"),
        tls_skip_verify=reader.value("tls-skip-verify", values.parse_bool, False),
        tls_secret=reader.value("tls-secret", _object_name, None),
        proxy_address=reader.text("proxy-address", settings.proxy_address or None),
        client_max_retries=reader.value("client-max-retries", _optional(_non_negative_int), None),
        client_timeout=reader.value("client-timeout", _optional(values.parse_duration_or_seconds), None),
    )


def _vault_address(raw: str) -> str:
    try:
        split_url(raw)
    except ValueError:
        raise ValueError(
            f"{raw!r} is not a Vault address; use a URL such as https://vault.vault.svc:8200"
        ) from None
    return raw.rstrip("/")


def _auth(reader: _Reader, settings: Settings) -> AuthSpec:
    auth_type = reader.value("auth-type", _choice(SUPPORTED_AUTH_TYPES, "auth type"), settings.auth_type)
    path = reader.text("auth-path", settings.auth_path) or ""
    if not path.strip("/"):
        reader.fail("auth-path", "no auth path; use the auth method's mount, e.g. auth/kubernetes")
    elif not path.strip("/").startswith("auth/"):
        reader.warnings.append(
            f"{VAULT_PREFIX}auth-path {path!r} does not start with auth/; Vault mounts auth there"
        )
    config = {key.replace("-", "_"): raw for key, _, raw in reader.keys_with_prefix("auth-config-")}
    role = reader.text("role") or config.get("role")
    if auth_type in {"kubernetes", "jwt"} and not role:
        reader.fail("role", "no Vault role; set it to the Vault role this pod logs in with, e.g. my-app")
    if auth_type == "approle" and not config.get("role_id_file_path"):
        reader.fail(
            "auth-config-role-id-file-path",
            "approle needs the file holding the role id, e.g. /vault/custom/role-id",
        )
    token_path = config.get("path" if auth_type == "jwt" else "token_path") or settings.token_path
    # Empty means the agent's own default, not the setting: upstream applies its flag only when absent.
    min_backoff = reader.value(
        "auth-min-backoff", _optional(values.parse_duration), _optional_duration(settings.auth_min_backoff)
    )
    max_backoff = reader.value(
        "auth-max-backoff", _optional(values.parse_duration), _optional_duration(settings.auth_max_backoff)
    )
    if min_backoff is not None and max_backoff is not None and min_backoff > max_backoff:
        reader.fail("auth-min-backoff", f"{min_backoff:g}s is longer than auth-max-backoff {max_backoff:g}s")
    return AuthSpec(
        type=auth_type,
        path=path.strip("/"),
        role=role,
        config=frozen_mapping(config),
        token_path=token_path,
        vault_namespace=reader.text("namespace", settings.vault_namespace or None),
        min_backoff=min_backoff,
        max_backoff=max_backoff,
        exit_on_err=reader.value("agent-auto-auth-exit-on-err", values.parse_bool, False),
    )


def _optional_duration(raw: str) -> float | None:
    return values.parse_duration(raw) if raw else None


def _secrets(
    reader: _Reader, volume_path: str, default_template: str, inject_token: bool
) -> tuple[SecretSpec, ...]:
    keys = _secret_keys(reader)
    secrets = tuple(_secret(reader, key, volume_path, default_template) for key in keys)
    _check_destinations(reader, secrets, paths.join(volume_path, "token") if inject_token else None)
    _warn_orphans(reader, set(keys))
    return secrets


def _secret_keys(reader: _Reader) -> list[str]:
    """Every raw secret name, in a stable order: created by a non-blank secret, template or template file."""
    keys: dict[str, None] = {}
    for key in reader.sorted_keys:
        if not key.startswith(VAULT_PREFIX) or not reader.annotations[key].strip():
            continue
        suffix = key[len(VAULT_PREFIX) :]
        for prefix in SECRET_PREFIXES:
            if suffix.startswith(prefix) and suffix[len(prefix) :]:
                keys.setdefault(suffix[len(prefix) :], None)
                break
    return list(keys)


def _secret(reader: _Reader, key: str, volume_path: str, default_template: str) -> SecretSpec:
    preserve = reader.value(f"preserve-secret-case-{key}", values.parse_bool, None)
    if preserve is None:
        preserve = reader.value("preserve-secret-case", values.parse_bool, False)
    name = key if preserve else key.lower()
    mount_path = reader.value(f"secret-volume-path-{key}", _mount_path, volume_path)
    file_name = reader.raw(f"agent-inject-file-{key}")
    destination = _destination(reader, key, mount_path, name, file_name)
    template = reader.text(f"agent-inject-template-{key}")
    return SecretSpec(
        name=name,
        key=key,
        vault_path=reader.text(f"agent-inject-secret-{key}"),
        template=template,
        template_file=None if template else reader.text(f"agent-inject-template-file-{key}"),
        default_template=default_template,
        mount_path=mount_path,
        destination=destination,
        perms=reader.value(f"agent-inject-perms-{key}", _optional(values.parse_file_mode), None),
        command=reader.text(f"agent-inject-command-{key}"),
        left_delim=reader.value(f"agent-template-left-delim-{key}", _delimiter("{{"), "{{"),
        right_delim=reader.value(f"agent-template-right-delim-{key}", _delimiter("}}"), "}}"),
        error_on_missing_key=reader.value(f"error-on-missing-key-{key}", values.parse_bool, False),
    )


def _destination(reader: _Reader, key: str, mount_path: str, name: str, file_name: str | None) -> str:
    """Upstream joins the file annotation onto the mount (a leading / stays inside); it must not escape."""
    annotation, relative = (
        (f"agent-inject-file-{key}", file_name) if file_name else (f"agent-inject-secret-{key}", name)
    )
    destination = paths.join(mount_path, relative)
    if "\0" in relative or not paths.is_inside(destination, mount_path):
        reader.fail(
            annotation,
            f"{relative!r} would be written outside {mount_path}; use a file name or a relative path "
            "inside the secrets volume, e.g. config/app.env",
        )
    return destination


def _check_destinations(reader: _Reader, secrets: tuple[SecretSpec, ...], token_file: str | None) -> None:
    seen: dict[str, str] = {token_file: "agent-inject-token"} if token_file else {}
    for secret in secrets:
        other = seen.setdefault(secret.destination, secret.key)
        if other != secret.key:
            reader.fail(
                f"agent-inject-secret-{secret.key}",
                f"writes {secret.destination}, which {other!r} writes too; give one of them its own "
                f"agent-inject-file-{secret.key}",
            )


def _warn_orphans(reader: _Reader, keys: set[str]) -> None:
    for prefix in PER_SECRET_PREFIXES:
        for suffix, full_key, _ in reader.keys_with_prefix(prefix):
            if suffix not in keys:
                reader.warnings.append(
                    f"{full_key} names no secret (no agent-inject-secret-{suffix}) and is ignored"
                )


def _security(reader: _Reader, settings: Settings) -> SecuritySpec:
    set_context_default = settings.set_security_context or any(
        reader.has(key) for key in ("agent-run-as-user", "agent-run-as-group", "agent-run-as-same-user")
    )
    return SecuritySpec(
        set_security_context=reader.value(
            "agent-set-security-context", values.parse_bool, set_context_default
        ),
        run_as_user=reader.value("agent-run-as-user", _id, settings.run_as_user),
        run_as_group=reader.value("agent-run-as-group", _id, settings.run_as_group),
        run_as_same_user=reader.value("agent-run-as-same-user", values.parse_bool, settings.run_as_same_user),
    )


def _id(raw: str) -> int:
    if not raw:
        # Upstream's ParseInt reads "" as 0, silently running the agents as root.
        raise ValueError(
            "is empty (upstream would run the agents as root); give an id, e.g. 1000, or remove it"
        )
    value = values.parse_int(raw)
    if value < 0:
        raise ValueError(f"{raw!r} is negative; use a user or group id, e.g. 1000")
    return value


_RESOURCE_ANNOTATIONS = (
    ("agent-requests-cpu", "cpu_request", "requests", "cpu"),
    ("agent-requests-mem", "mem_request", "requests", "memory"),
    ("agent-requests-ephemeral", "ephemeral_request", "requests", "ephemeral-storage"),
    ("agent-limits-cpu", "cpu_limit", "limits", "cpu"),
    ("agent-limits-mem", "mem_limit", "limits", "memory"),
    ("agent-limits-ephemeral", "ephemeral_limit", "limits", "ephemeral-storage"),
)


def _resources(reader: _Reader, settings: Settings) -> Resources:
    lists: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
    for annotation, setting, kind, resource in _RESOURCE_ANNOTATIONS:
        quantity = reader.value(
            annotation, _optional(values.parse_quantity), getattr(settings, setting) or None
        )
        if quantity:
            lists[kind][resource] = quantity
    return Resources(requests=frozen_mapping(lists["requests"]), limits=frozen_mapping(lists["limits"]))


def _cache(reader: _Reader) -> CacheSpec:
    return CacheSpec(
        enable=reader.value("agent-cache-enable", values.parse_bool, False),
        use_auto_auth_token=reader.value("agent-cache-use-auto-auth-token", _auto_auth_token, "true"),
        listener_port=reader.value("agent-cache-listener-port", _optional(_port), None) or 8200,
        exit_on_err=reader.value("agent-cache-exit-on-err", values.parse_bool, False),
    )


def _template_config(reader: _Reader, settings: Settings) -> TemplateConfig:
    interval_default = settings.static_secret_render_interval
    threshold_default = settings.lease_renewal_threshold
    return TemplateConfig(
        exit_on_retry_failure=reader.value(
            "template-config-exit-on-retry-failure", values.parse_bool, settings.exit_on_retry_failure
        ),
        static_secret_render_interval=reader.value(
            "template-static-secret-render-interval",
            _optional(_positive_seconds),
            values.parse_duration_or_seconds(interval_default) if interval_default else None,
        ),
        max_connections_per_host=reader.value(
            "template-max-connections-per-host", values.parse_int_auto, settings.max_connections_per_host
        ),
        lease_renewal_threshold=reader.value(
            "template-lease-renewal-threshold",
            _fraction,
            _fraction(threshold_default) if threshold_default else None,
        ),
    )


def _features(reader: _Reader, suffix: str, default: str) -> tuple[str, ...]:
    def parse(raw: str) -> tuple[str, ...]:
        items = values.split_list(raw)
        unknown = [item for item in items if item not in CONNECTION_FEATURES]
        if unknown:
            raise ValueError(
                f"{', '.join(values.shown(item) for item in unknown)} unknown; "
                f"use a comma list of {', '.join(CONNECTION_FEATURES)}"
            )
        return items

    return reader.value(suffix, parse, values.split_list(default))


# Small parsers used above. Each raises ValueError saying what a valid value looks like.


def _optional(parser: Callable[[str], T]) -> Callable[[str], T | None]:
    return lambda raw: parser(raw) if raw else None


def _choice(allowed: tuple[str, ...], what: str = "value") -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw.lower() not in allowed:
            raise ValueError(f"{raw!r} is not a supported {what}; use one of {', '.join(allowed)}")
        return raw.lower()

    return parse


def _default_template(raw: str) -> str:
    if raw.lower() not in DEFAULT_TEMPLATES:
        raise ValueError(f"invalid default template type {raw!r}; use map or json")
    return raw.lower()


def _mount_path(raw: str) -> str:
    """An absolute directory, judged as the runtime mounts it: cleaned (`//home/vault` is `/home/vault`)."""
    path = paths.clean(raw)
    hint = "use an absolute directory such as /vault/secrets"
    if not path.startswith("/") or path == "/" or "\0" in raw:
        raise ValueError(f"{raw!r} is not a usable mount path; {hint}")
    for reserved in RESERVED_AGENT_PATHS:
        if paths.overlaps(path, reserved):
            raise ValueError(f"{raw!r} overlaps the agent's own {reserved}; {hint}")
    return path


def _image(raw: str) -> str:
    if not raw:
        raise ValueError("no Vault image found; remove the empty annotation to use the injector's image")
    return raw


def _object_name(raw: str) -> str | None:
    if not raw:
        return None
    if len(raw) > 253 or not _DNS_SUBDOMAIN.fullmatch(raw):
        raise ValueError(f"{raw!r} is not a Kubernetes object name; use lower-case letters, digits, - and .")
    return raw


def _non_negative_int(raw: str) -> int:
    value = values.parse_int(raw)
    if value < 0:
        raise ValueError(f"{raw!r} is negative; use 0 or more")
    return value


def _positive_seconds(raw: str) -> float:
    seconds = values.parse_duration_or_seconds(raw)
    if seconds <= 0:
        raise ValueError(f"{raw!r} is not positive; use a duration such as 5m")
    return seconds


def _fraction(raw: str) -> float | None:
    value = values.parse_float(raw)
    if not 0 <= value <= 1:
        raise ValueError(f"{raw!r} is not a fraction of the lease; use a number between 0 and 1, e.g. 0.66")
    return value or None


def _port(raw: str) -> int:
    port = values.parse_int_auto(raw)
    if not 1 <= port <= 65535:
        raise ValueError(f"{raw!r} is not a TCP port; use 1 to 65535")
    return port


def _auto_auth_token(raw: str) -> str:
    if raw.lower() == "force":
        return "force"
    return "true" if values.parse_bool(raw) else "false"


def _delimiter(default: str) -> Callable[[str], str]:
    """An empty delimiter means the default, as consul-template reads it."""

    def parse(raw: str) -> str:
        if raw and raw.strip() != raw:
            raise ValueError(f"{raw!r} is not a template delimiter; use text without spaces, e.g. [[")
        return raw or default

    return parse
