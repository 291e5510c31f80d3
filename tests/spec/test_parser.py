"""Every annotation of the Vault Agent Injector, its default, its effect and its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from vaultinject.spec import InjectionSpec, Mode, Settings, SpecError, parse

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault.vault.svc:8200")


def pod_annotations(**suffixes: str) -> dict[str, str]:
    """`vault.hashicorp.com/` annotations from keyword suffixes (underscores become dashes)."""
    base = {VAULT + "agent-inject": "true", VAULT + "role": "app"}
    base.update({VAULT + key.replace("_", "-"): value for key, value in suffixes.items()})
    return base


def spec_of(
    extra: dict[str, str] | None = None, settings: Settings = SETTINGS, **suffixes: str
) -> InjectionSpec:
    return parse({**pod_annotations(**suffixes), **(extra or {})}, settings)


def error_of(
    extra: dict[str, str] | None = None, settings: Settings = SETTINGS, **suffixes: str
) -> SpecError:
    with pytest.raises(SpecError) as caught:
        spec_of(extra, settings, **suffixes)
    return caught.value


def test_defaults_come_from_upstream_and_the_settings() -> None:
    spec = spec_of()
    assert spec.mode is Mode.NATIVE
    assert spec.vault.address == "https://vault.vault.svc:8200"
    assert (spec.auth.type, spec.auth.path, spec.auth.role) == ("kubernetes", "auth/kubernetes", "app")
    assert spec.auth.token_path == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    assert spec.secret_volume_path == "/vault/secrets"
    assert spec.secrets == ()
    assert (spec.security.run_as_user, spec.security.run_as_group, spec.security.set_security_context) == (
        100,
        1000,
        True,
    )
    assert dict(spec.resources.requests) == {"cpu": "5m", "memory": "32Mi"}
    assert dict(spec.resources.limits) == {"memory": "64Mi"}
    assert spec.revoke_grace == 5
    assert spec.template_config.exit_on_retry_failure is True
    assert (spec.log_level, spec.log_format) == ("info", "standard")
    assert spec.warnings == ()


# (annotation suffix, value, accessor, expected)
VALID: list[tuple[str, str, Callable[[InjectionSpec], Any], Any]] = [
    ("agent-pre-populate", "false", lambda s: (s.mode, s.pre_populate), (Mode.CLASSIC, False)),
    ("agent-pre-populate-only", "true", lambda s: s.mode, Mode.INIT_ONLY),
    ("agent-native-sidecar", "true", lambda s: s.mode, Mode.NATIVE),
    ("agent-init-first", "true", lambda s: s.init_first, True),
    ("agent-inject-containers", "app, worker", lambda s: s.inject_containers, ("app", "worker")),
    ("agent-inject-containers", "", lambda s: s.inject_containers, ()),
    ("agent-image", "registry.local/agent:1", lambda s: s.image, "registry.local/agent:1"),
    ("agent-request-namespace", "demo", lambda s: s.warnings, ()),
    ("secret-volume-path", "/etc/secrets/", lambda s: s.secret_volume_path, "/etc/secrets"),
    ("agent-inject-token", "true", lambda s: (s.inject_token, s.token_file), (True, "/vault/secrets/token")),
    ("agent-limits-cpu", "500m", lambda s: s.resources.limits["cpu"], "500m"),
    ("agent-limits-cpu", "", lambda s: "cpu" in s.resources.limits, False),
    ("agent-limits-mem", "128Mi", lambda s: s.resources.limits["memory"], "128Mi"),
    ("agent-limits-mem", "", lambda s: "memory" in s.resources.limits, False),
    ("agent-limits-ephemeral", "1Gi", lambda s: s.resources.limits["ephemeral-storage"], "1Gi"),
    ("agent-requests-cpu", "250m", lambda s: s.resources.requests["cpu"], "250m"),
    ("agent-requests-mem", "64Mi", lambda s: s.resources.requests["memory"], "64Mi"),
    ("agent-requests-ephemeral", "128Mi", lambda s: s.resources.requests["ephemeral-storage"], "128Mi"),
    ("agent-run-as-user", "1001", lambda s: s.security.run_as_user, 1001),
    ("agent-run-as-group", "0", lambda s: s.security.run_as_group, 0),
    ("agent-run-as-same-user", "true", lambda s: s.security.run_as_same_user, True),
    ("agent-set-security-context", "false", lambda s: s.security.set_security_context, False),
    ("agent-share-process-namespace", "true", lambda s: s.share_process_namespace, True),
    ("agent-copy-volume-mounts", "app", lambda s: s.copy_volume_mounts, "app"),
    ("agent-extra-secret", "agent-extra", lambda s: s.extra_secret, "agent-extra"),
    ("agent-service-account-token-volume-name", "token-vol", lambda s: s.service_account_token_volume, "token-vol"),
    ("agent-json-patch", '[{"op":"add","path":"/env/-","value":{"name":"A","value":"1"}}]',
     lambda s: s.agent_json_patch[0]["op"], "add"),
    ("agent-init-json-patch", "null", lambda s: s.init_json_patch, ()),
    ("go-max-procs", "2", lambda s: s.go_max_procs, "2"),
    ("agent-cache-enable", "true", lambda s: s.cache.enable, True),
    ("agent-cache-use-auto-auth-token", "force", lambda s: s.cache.use_auto_auth_token, "force"),
    ("agent-cache-listener-port", "8080", lambda s: s.cache.listener_port, 8080),
    ("agent-cache-exit-on-err", "true", lambda s: s.cache.exit_on_err, True),
    ("agent-enable-quit", "true", lambda s: s.enable_quit, True),
    ("agent-revoke-on-shutdown", "true", lambda s: s.revoke_on_shutdown, True),
    ("agent-revoke-grace", "01", lambda s: s.revoke_grace, 1),
    ("template-config-exit-on-retry-failure", "false", lambda s: s.template_config.exit_on_retry_failure, False),
    ("template-static-secret-render-interval", "10m", lambda s: s.template_config.static_secret_render_interval, 600.0),
    ("template-static-secret-render-interval", "30", lambda s: s.template_config.static_secret_render_interval, 30.0),
    ("template-max-connections-per-host", "0x10", lambda s: s.template_config.max_connections_per_host, 16),
    ("template-lease-renewal-threshold", "0.5", lambda s: s.template_config.lease_renewal_threshold, 0.5),
    ("agent-disable-idle-connections", "auto-auth,templating", lambda s: s.disable_idle_connections,
     ("auto-auth", "templating")),
    ("agent-disable-keep-alives", "caching", lambda s: s.disable_keep_alives, ("caching",)),
    ("agent-auto-auth-exit-on-err", "true", lambda s: s.auth.exit_on_err, True),
    ("auth-min-backoff", "2s", lambda s: s.auth.min_backoff, 2.0),
    ("auth-max-backoff", "1m", lambda s: s.auth.max_backoff, 60.0),
    ("service", "http://127.0.0.1:8200/", lambda s: s.vault.address, "http://127.0.0.1:8200"),
    ("role", "web", lambda s: s.auth.role, "web"),
    ("auth-type", "JWT", lambda s: s.auth.type, "jwt"),
    ("auth-path", "/auth/k8s-prod/", lambda s: s.auth.path, "auth/k8s-prod"),
    ("namespace", "team-a", lambda s: s.auth.vault_namespace, "team-a"),
    ("proxy-address", "http://proxy:3128", lambda s: s.vault.proxy_address, "http://proxy:3128"),
    ("tls-skip-verify", "true", lambda s: s.vault.tls_skip_verify, True),
    ("tls-secret", "vault-tls", lambda s: s.vault.tls_secret, "vault-tls"),
    ("tls-server-name", "vault.internal", lambda s: s.vault.tls_server_name, "vault.internal"),
    ("ca-cert", "/vault/tls/ca.crt", lambda s: s.vault.ca_cert, "/vault/tls/ca.crt"),
    ("ca-key", "/vault/tls/cas", lambda s: s.vault.ca_path, "/vault/tls/cas"),
    ("client-cert", "/vault/tls/client.crt", lambda s: s.vault.client_cert, "/vault/tls/client.crt"),
    ("client-key", "/vault/tls/client.key", lambda s: s.vault.client_key, "/vault/tls/client.key"),
    ("client-max-retries", "3", lambda s: s.vault.client_max_retries, 3),
    ("client-timeout", "30s", lambda s: s.vault.client_timeout, 30.0),
    ("log-level", "DEBUG", lambda s: s.log_level, "debug"),
    ("log-format", "json", lambda s: s.log_format, "json"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("suffix", "value", "accessor", "expected"), VALID, ids=[f"{v[0]}={v[1]}" for v in VALID]
)
def test_each_annotation_has_its_upstream_meaning(
    suffix: str, value: str, accessor: Callable[[InjectionSpec], Any], expected: Any
) -> None:
    assert accessor(parse(pod_annotations(**{suffix: value}), SETTINGS)) == expected


# (annotation suffix, value, fragment of the message)
INVALID: list[tuple[str, str, str]] = [
    ("agent-pre-populate", "yes", "not a boolean"),
    ("agent-pre-populate-only", "tRuE", "not a boolean"),
    ("agent-init-first", "on", "not a boolean"),
    ("agent-inject-token", "maybe", "not a boolean"),
    ("agent-configmap", "my-config", "cannot run on the vaultinject agent"),
    ("secret-volume-path", "relative/path", "not a usable mount path"),
    ("secret-volume-path", "/", "not a usable mount path"),
    ("secret-volume-path", "/vault/x/../..", "not a usable mount path"),
    ("secret-volume-path", "/home/vault", "overlaps the agent's own /home/vault"),
    ("secret-volume-path", "/vault", "overlaps the agent's own"),
    ("agent-inject-default-template", "yaml", "invalid default template type 'yaml'"),
    ("agent-inject-default-template", "", "invalid default template type"),
    ("agent-limits-cpu", "500mi", "not a Kubernetes quantity"),
    ("agent-limits-mem", "128mb", "not a Kubernetes quantity"),
    ("agent-requests-mem", "128gi", "not a Kubernetes quantity"),
    ("agent-requests-cpu", "lots", "not a Kubernetes quantity"),
    ("agent-limits-ephemeral", "1GB", "not a Kubernetes quantity"),
    ("agent-requests-ephemeral", "x", "not a Kubernetes quantity"),
    ("agent-run-as-user", "root", "not an integer"),
    ("agent-run-as-user", "", "upstream would run the agents as root"),
    ("agent-run-as-user", "-1", "negative"),
    ("agent-run-as-group", "wheel", "not an integer"),
    ("agent-run-as-same-user", "sure", "not a boolean"),
    ("agent-set-security-context", "nope", "not a boolean"),
    ("agent-share-process-namespace", "share", "not a boolean"),
    ("agent-extra-secret", "Not_A_Name", "not a Kubernetes object name"),
    ("agent-json-patch", "abc", "not valid JSON"),
    ("agent-init-json-patch", '[{"op":"invalid"}]', "has op 'invalid'"),
    ("agent-cache-enable", "enable", "not a boolean"),
    ("agent-cache-use-auto-auth-token", "always", "not a boolean"),
    ("agent-cache-listener-port", "99999", "not a TCP port"),
    ("agent-cache-listener-port", "http", "not an integer"),
    ("agent-cache-exit-on-err", "x", "not a boolean"),
    ("agent-enable-quit", "x", "not a boolean"),
    ("agent-revoke-on-shutdown", "x", "not a boolean"),
    ("agent-revoke-grace", "-1", "non-negative integer"),
    ("agent-revoke-grace", "foo", "non-negative integer"),
    ("template-config-exit-on-retry-failure", "x", "not a boolean"),
    ("template-static-secret-render-interval", "soon", "invalid duration"),
    ("template-static-secret-render-interval", "0s", "not positive"),
    ("template-max-connections-per-host", "many", "not an integer"),
    ("template-lease-renewal-threshold", "one-third", "not a number"),
    ("template-lease-renewal-threshold", "2", "between 0 and 1"),
    ("agent-disable-idle-connections", "auto-auth,everything", "'everything' unknown"),
    ("agent-disable-keep-alives", "all", "'all' unknown"),
    ("agent-auto-auth-exit-on-err", "x", "not a boolean"),
    ("auth-min-backoff", "x", "invalid duration"),
    ("auth-max-backoff", "10", "missing unit"),
    ("service", "vault:8200", "not a Vault address"),
    ("service", "ftp://vault", "not a Vault address"),
    ("role", "", "no Vault role"),
    ("auth-type", "aws", "'aws' is not a supported auth type"),
    ("auth-path", "/", "no auth path"),
    ("tls-skip-verify", "x", "not a boolean"),
    ("tls-secret", "UPPER", "not a Kubernetes object name"),
    ("client-max-retries", "-3", "negative"),
    ("client-timeout", "forever", "invalid duration"),
    ("log-level", "verbose", "'verbose' is not a supported value"),
    ("log-format", "xml", "'xml' is not a supported value"),
]


@pytest.mark.parametrize(("suffix", "value", "fragment"), INVALID, ids=[f"{v[0]}={v[1]}" for v in INVALID])
def test_each_invalid_value_is_a_spec_error_naming_the_annotation(
    suffix: str, value: str, fragment: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse(pod_annotations(**{suffix: value}), SETTINGS)
    error = caught.value
    assert error.annotation == VAULT + suffix
    assert fragment in error.message
    assert str(error) == f"{VAULT}{suffix}: {error.message}"


def test_every_error_is_collected_and_the_first_is_raised() -> None:
    error = error_of(agent_run_as_user="root", log_format="xml", agent_limits_cpu="lots")
    assert sorted(e.annotation for e in error.errors) == [
        VAULT + "agent-limits-cpu",
        VAULT + "agent-run-as-user",
        VAULT + "log-format",
    ]
    assert error is error.errors[0]


def test_address_is_required_from_the_annotation_or_the_settings() -> None:
    error = error_of(settings=Settings())
    assert error.annotation == VAULT + "service"
    assert "--vault-addr" in error.message
    assert spec_of(settings=Settings(), service="https://vault:8200").vault.address == "https://vault:8200"


def test_role_falls_back_to_auth_config_role_and_role_wins() -> None:
    assert spec_of(role="", auth_config_role="from-config").auth.role == "from-config"
    assert spec_of(role="web", auth_config_role="from-config").auth.role == "web"


def test_auth_config_keys_turn_dashes_into_underscores_and_stay_strings() -> None:
    spec = spec_of(
        auth_config_token_path="/var/run/x/token", auth_config_ca_cert="/ca", auth_config_max_retries="1"
    )
    assert dict(spec.auth.config) == {"token_path": "/var/run/x/token", "ca_cert": "/ca", "max_retries": "1"}
    assert spec.auth.token_path == "/var/run/x/token"


def test_jwt_auth_reads_its_token_from_auth_config_path() -> None:
    spec = spec_of(auth_type="jwt", auth_path="auth/jwt", auth_config_path="/var/run/jwt/token")
    assert (spec.auth.type, spec.auth.token_path) == ("jwt", "/var/run/jwt/token")


def test_approle_needs_its_role_id_file_but_not_a_role() -> None:
    error = error_of(auth_type="approle", role="")
    assert error.annotation == VAULT + "auth-config-role-id-file-path"
    spec = spec_of(auth_type="approle", role="", auth_config_role_id_file_path="/vault/custom/role-id")
    assert spec.auth.role is None


def test_min_backoff_cannot_exceed_max_backoff() -> None:
    assert "longer than auth-max-backoff" in error_of(auth_min_backoff="10s", auth_max_backoff="1s").message


def test_auth_path_outside_auth_is_accepted_with_a_warning() -> None:
    assert any("does not start with auth/" in w for w in spec_of(auth_path="kubernetes").warnings)


def test_set_security_context_flips_on_when_ids_are_given_and_the_setting_is_off() -> None:
    off = Settings(vault_addr="https://v:8200", set_security_context=False)
    assert spec_of(settings=off).security.set_security_context is False
    assert spec_of(settings=off, agent_run_as_user="1000").security.set_security_context is True
    assert spec_of(settings=off, agent_run_as_group="1000").security.set_security_context is True
    assert spec_of(settings=off, agent_run_as_same_user="true").security.set_security_context is True
    explicit = spec_of(settings=off, agent_run_as_user="1000", agent_set_security_context="false")
    assert explicit.security.set_security_context is False


def test_telemetry_params_are_json_decoded_when_they_parse() -> None:
    spec = spec_of(agent_telemetry_prometheus_retention_time="24h", agent_telemetry_disable_hostname="true")
    assert dict(spec.telemetry) == {"prometheus_retention_time": "24h", "disable_hostname": True}


@pytest.mark.parametrize(
    "suffix",
    [
        "agent-enable-quit",
        "agent-revoke-grace",
        "agent-cache-exit-on-err",
        "agent-telemetry-prometheus-retention-time",
    ],
)
def test_annotations_our_agent_cannot_honour_warn_but_are_accepted(suffix: str) -> None:
    warnings = parse({**pod_annotations(), VAULT + suffix: "1"}, SETTINGS).warnings
    assert any(f"{VAULT}{suffix} has no effect" in warning for warning in warnings)


def test_inert_annotations_are_accepted_with_a_warning() -> None:
    warnings = spec_of(go_max_procs="2", agent_cache_listener_port="8080").warnings
    assert any("go-max-procs has no effect" in w for w in warnings)
    assert any("agent-cache-listener-port has no effect" in w for w in warnings)


def test_unknown_vault_annotations_are_ignored_with_a_warning() -> None:
    warnings = spec_of(agent_inject_TEMPLATE_foo="x", agent_inject_templat_foo="x").warnings
    assert any("agent-inject-TEMPLATE-foo is not a known annotation" in w for w in warnings)
    assert any("agent-inject-templat-foo is not a known annotation" in w for w in warnings)


# Modes


def test_mode_extension_annotation_chooses_the_mode() -> None:
    for mode in Mode:
        assert spec_of({"vaultinject.io/mode": mode.value}).mode is mode


def test_mode_defaults_to_the_settings() -> None:
    assert spec_of(settings=SETTINGS._replace(mode=Mode.CLASSIC)).mode is Mode.CLASSIC


@pytest.mark.parametrize(
    ("extra", "suffixes", "annotation", "fragment"),
    [
        ({"vaultinject.io/mode": "sidecar"}, {}, "vaultinject.io/mode", "'sidecar' is not a mode"),
        ({"vaultinject.io/mode": "native"}, {"agent_pre_populate_only": "true"}, VAULT + "agent-pre-populate-only",
         "conflicts with vaultinject.io/mode: native"),
        ({"vaultinject.io/mode": "native"}, {"agent_pre_populate": "false"}, VAULT + "agent-pre-populate",
         "only applies to vaultinject.io/mode: classic"),
        ({}, {"agent_native_sidecar": "true", "agent_pre_populate_only": "true"}, VAULT + "agent-native-sidecar",
         "cannot be combined with agent-pre-populate-only"),
        ({}, {"agent_pre_populate": "false", "agent_pre_populate_only": "true"}, VAULT + "agent-pre-populate-only",
         "leaves no agent"),
        ({"vaultinject.io/frobnicate": "1"}, {}, "vaultinject.io/frobnicate", "unknown vaultinject annotation"),
    ],
)  # fmt: skip
def test_conflicting_mode_annotations_are_rejected(
    extra: dict[str, str], suffixes: dict[str, str], annotation: str, fragment: str
) -> None:
    with pytest.raises(SpecError) as caught:
        parse({**pod_annotations(**suffixes), **extra}, SETTINGS)
    error = caught.value
    assert error.annotation == annotation
    assert fragment in error.message


def test_classic_mode_can_keep_or_drop_the_init_container() -> None:
    classic = {"vaultinject.io/mode": "classic"}
    assert spec_of(classic).pre_populate is True
    assert spec_of(classic, agent_pre_populate="false").pre_populate is False


def test_token_audience_comes_from_the_extension_or_the_settings() -> None:
    assert spec_of().token_audience is None
    assert spec_of(settings=SETTINGS._replace(token_audience="vault")).token_audience == "vault"
    assert spec_of({"vaultinject.io/token-audience": "vault-prod"}).token_audience == "vault-prod"
