"""Pod annotations to a typed, validated injection spec.

One parser, used by the webhook at admission and by the agent at run time. Standard library only.
"""

from vaultinject.spec.downward import parse_downward_annotations
from vaultinject.spec.model import (
    AGENT_STATE_PATH,
    AGENT_TOKEN_MOUNT_PATH,
    DEFAULT_TEMPLATES,
    EXTRA_SECRET_PATH,
    PODINFO_ANNOTATIONS_FILE,
    PODINFO_PATH,
    READY_FILE,
    STARTED_FILE,
    TLS_SECRET_PATH,
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
    vault_key,
)
from vaultinject.spec.parser import parse
from vaultinject.spec.settings import Settings, SettingsError

__all__ = [
    "AGENT_STATE_PATH",
    "AGENT_TOKEN_MOUNT_PATH",
    "DEFAULT_TEMPLATES",
    "EXTRA_SECRET_PATH",
    "PODINFO_ANNOTATIONS_FILE",
    "PODINFO_PATH",
    "READY_FILE",
    "STARTED_FILE",
    "TLS_SECRET_PATH",
    "VAULTINJECT_PREFIX",
    "VAULT_PREFIX",
    "AuthSpec",
    "CacheSpec",
    "InjectionSpec",
    "Mode",
    "Resources",
    "SecretSpec",
    "SecuritySpec",
    "Settings",
    "SettingsError",
    "SpecError",
    "TemplateConfig",
    "VaultConnection",
    "parse",
    "parse_downward_annotations",
    "vault_key",
]
