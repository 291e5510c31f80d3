"""The rules, by area, in the order a report lists them."""

from vaultinject.diagnosis.rules import auth_config, canary, injector, pods, rbac, vault_server
from vaultinject.diagnosis.rules.base import Context, Rule

ALL_RULES: tuple[Rule, ...] = (
    *vault_server.RULES,
    *auth_config.RULES,
    *canary.RULES,
    *rbac.RULES,
    *pods.RULES,
    *injector.RULES,
)

__all__ = ["ALL_RULES", "Context", "Rule"]
