"""Names of everything the injector adds: the same as upstream where upstream has one."""

INIT_CONTAINER = "vault-agent-init"
SIDECAR = "vault-agent"
SECRETS_VOLUME = "vault-secrets"
CUSTOM_SECRETS_VOLUME = "vault-secrets-custom-{index}"
EXTRA_SECRET_VOLUME = "extra-secrets"
TLS_SECRET_VOLUME = "vault-tls-secrets"
STATE_VOLUME = "vault-agent-state"  # replaces upstream's home-init, home-sidecar and vault-agent-cache
PODINFO_VOLUME = "vault-agent-podinfo"
TOKEN_VOLUME = "vault-agent-token"  # added only when no app container mounts a service-account token

AGENT_CONTAINERS = (INIT_CONTAINER, SIDECAR)
FIXED_VOLUMES = (
    SECRETS_VOLUME,
    EXTRA_SECRET_VOLUME,
    TLS_SECRET_VOLUME,
    STATE_VOLUME,
    PODINFO_VOLUME,
    TOKEN_VOLUME,
)


def is_injected_volume(name: str) -> bool:
    """Whether a volume name is one the injector adds."""
    return name in FIXED_VOLUMES or name.startswith("vault-secrets-custom-")
