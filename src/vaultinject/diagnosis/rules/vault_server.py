"""The Vault server: reachable, initialized, unsealed, an active node, a version with the token reload."""

from __future__ import annotations

import re
from collections.abc import Iterator

from vaultinject.diagnosis.evidence import Evidence, VaultHealth
from vaultinject.diagnosis.findings import Area, Severity
from vaultinject.diagnosis.rules.base import (
    SETUP_COMMAND,
    Context,
    Verdict,
    missing,
    ok,
    refs,
    rule,
    unknown,
)


def _health(evidence: Evidence, what: str) -> VaultHealth | Verdict:
    """The health answer, or the unknown verdict that stands in for it."""
    health = evidence.vault_health
    if health is None:
        return unknown(f"{what}: not gathered")
    if not health.reachable:
        return unknown(f"{what}: not checked, Vault is unreachable", health)
    return health


@rule(Area.VAULT)
def vault_reachable(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    health = evidence.vault_health
    if health is None:
        yield Verdict(severity=Severity.UNKNOWN, summary="Vault's health: not gathered")
    elif not health.reachable:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"Vault at {health.address or '?'} is unreachable: {health.error or 'no answer'}",
            cause="no HTTP answer from Vault: it is down, or the address, network path or TLS is wrong",
            fix="check the Vault address and that Vault's pods run and are Ready",
            command="kubectl -n vault get pods -l app.kubernetes.io/name=vault -o wide",
            evidence=refs(health),
        )
    else:
        yield ok(f"Vault at {health.address or '?'} answers (HTTP {health.status})", health)


@rule(Area.VAULT)
def vault_initialized(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    health = _health(evidence, "Vault initialized")
    if isinstance(health, Verdict):
        yield health
    elif health.initialized is None:
        yield unknown("Vault's health answer does not say whether it is initialized", health)
    elif not health.initialized:
        yield Verdict(
            severity=Severity.BROKEN,
            summary="Vault is not initialized",
            cause="no login or secret read can succeed before Vault is initialized",
            fix="initialize Vault (keep the unseal keys and root token safe)",
            command="vault operator init",
            evidence=refs(health),
        )
    else:
        yield ok("Vault is initialized", health)


@rule(Area.VAULT)
def vault_unsealed(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    health = _health(evidence, "Vault sealed")
    if isinstance(health, Verdict):
        yield health
    elif health.sealed is None:
        yield unknown("Vault's health answer does not say whether it is sealed", health)
    elif health.sealed:
        yield Verdict(
            severity=Severity.BROKEN,
            summary="Vault is sealed",
            cause="a sealed Vault answers every request with 503 Vault is sealed; a restarted pod without "
            "auto-unseal comes back sealed",
            fix="unseal each sealed replica (or configure auto-unseal); heal never acts on a sealed Vault",
            command="vault operator unseal",
            evidence=refs(health),
        )
    else:
        yield ok("Vault is unsealed", health)


@rule(Area.VAULT)
def vault_active_node(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    leader = evidence.vault_leader
    if leader is None or leader.error is not None:
        yield missing("Vault's active node", leader)
    elif leader.ha_enabled is False:
        yield ok("Vault runs without HA: the node that answers is the active one", leader)
    elif leader.active_present is None:
        yield unknown("sys/leader does not say which node is active", leader)
    elif not leader.active_present:
        yield Verdict(
            severity=Severity.BROKEN,
            summary="Vault has no active node",
            cause="standbys cannot forward requests (500 local node not active but active cluster node not "
            "found): quorum is lost or an election is running",
            fix="check that a majority of Vault's replicas run and are unsealed",
            command="vault operator raft list-peers",
            evidence=refs(leader),
        )
    else:
        yield ok(f"Vault's active node is {leader.leader_address or 'this node'}", leader)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """`1.17.5`, `v1.9.3+ent`, `1.15.0-rc1` -> (major, minor, patch); None when not a version."""
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


@rule(Area.VAULT)
def vault_version(evidence: Evidence, context: Context) -> Iterator[Verdict]:
    health = _health(evidence, "Vault's version")
    if isinstance(health, Verdict):
        yield health
        return
    minimum = context.settings.minimum_version
    wanted = ".".join(map(str, minimum))
    version = parse_version(health.version or "")
    if version is None:
        yield unknown(f"Vault reports no version I can read ({health.version!r})", health)
        return
    if version >= minimum:
        yield ok(f"Vault {health.version} reloads its own service-account token (>= {wanted})", health)
        return
    placement = evidence.placement
    in_cluster = placement.in_cluster if placement is not None else None
    yield Verdict(
        severity=Severity.BROKEN if in_cluster else Severity.WARNING,
        summary=f"Vault {health.version} is older than {wanted}",
        cause="before 1.9.3 Vault reads its own service-account token once, when the config is written, and "
        "stores it, so the config dies with the Vault pod"
        + ("" if in_cluster else " (this matters when Vault runs in the cluster)"),
        fix=f"upgrade Vault to {wanted} or later, then write the config again",
        command=SETUP_COMMAND,
        evidence=refs(health, placement),
    )


RULES = (vault_reachable, vault_initialized, vault_unsealed, vault_active_node, vault_version)
