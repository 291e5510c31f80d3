"""The Kubernetes auth mount and its config: present, written, no stored reviewer token in the
cluster, the cluster's CA, a reachable `kubernetes_host`, the cluster's issuer."""

from __future__ import annotations

import re
from collections.abc import Iterator

from vaultinject.diagnosis.evidence import AuthConfig, Evidence
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
    unread,
)

# The hazard's explanation, word for word as issue 12 and the runbook's analysis give it.
REVIEWER_HAZARD = (
    "breaks when the Vault pod it came from is deleted or rescheduled; on EKS it also expires after 90 days"
)
_PEM_BODY = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.DOTALL)


def _config(evidence: Evidence, what: str) -> AuthConfig | Verdict:
    """The written config, or the unknown verdict that stands in for it."""
    config = evidence.auth_config
    if config is None or config.error is not None:
        return missing(what, config)
    if not config.written:
        return unknown(f"{what}: not checked, the config was never written", config)
    return config


@rule(Area.AUTH_CONFIG)
def auth_mount_present(evidence: Evidence, context: Context) -> Iterator[Verdict]:
    mount = evidence.auth_mount
    path = f"auth/{context.settings.mount}/"
    if mount is None or mount.error is not None:
        yield missing(f"the {path} mount", mount)
    elif not mount.present:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"no auth method is enabled at {path}",
            cause="every Kubernetes login fails: the mount the agents log in at does not exist",
            fix="enable and configure it",
            command=SETUP_COMMAND,
            evidence=refs(mount),
        )
    elif mount.type != "kubernetes":
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"{path} is a {mount.type!r} auth method, not kubernetes",
            cause="the agents log in with Kubernetes service-account tokens, which this method does not take",
            fix="point the pods' vault.hashicorp.com/auth-path at the Kubernetes mount, or fix the mount",
            evidence=refs(mount),
        )
    else:
        yield ok(f"the Kubernetes auth method is enabled at {path}", mount)


@rule(Area.AUTH_CONFIG)
def auth_config_written(evidence: Evidence, context: Context) -> Iterator[Verdict]:
    config = evidence.auth_config
    path = f"auth/{context.settings.mount}/config"
    if config is None or config.error is not None:
        yield missing(path, config)
    elif not config.written:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"{path} was never written",
            cause="Vault cannot review tokens without it (could not load backend configuration)",
            fix="write it with kubernetes_host only (Vault then uses its own pod's token and CA)",
            command=SETUP_COMMAND,
            evidence=refs(config),
        )
    else:
        yield ok(f"{path} is written (kubernetes_host {config.kubernetes_host or '?'})", config)


@rule(Area.AUTH_CONFIG)
def stored_reviewer_token(evidence: Evidence, context: Context) -> Iterator[Verdict]:
    config = _config(evidence, "the stored reviewer token")
    if isinstance(config, Verdict):
        yield config
        return
    placement = evidence.placement
    in_cluster = placement.in_cluster if placement is not None and placement.known else None
    path = f"auth/{context.settings.mount}/config"
    if config.token_reviewer_jwt_set is None:
        if in_cluster is False:
            yield ok(f"Vault runs outside the cluster; {path} needs a reviewer token", config, placement)
            return
        yield unknown(
            f"this Vault does not report token_reviewer_jwt_set (it came with Vault 1.16), so whether {path} "
            "stores a reviewer token is unknown",
            config,
            placement,
            fix="write the config again with kubernetes_host only: that clears any stored token",
        )
        return
    if not config.token_reviewer_jwt_set:
        yield ok(f"{path} stores no reviewer token: Vault reviews with its own pod's token", config)
        return
    if in_cluster is False:
        yield ok(
            f"{path} stores a reviewer token, as a Vault outside the cluster needs (keep it a long-lived "
            "Secret token, not a pod's)",
            config,
            placement,
        )
        return
    yield Verdict(
        severity=Severity.WARNING,
        summary=f"{path} stores a reviewer token (token_reviewer_jwt) while Vault runs in the cluster"
        if in_cluster
        else f"{path} stores a reviewer token (token_reviewer_jwt), and where Vault runs is unknown",
        cause=f"a copied pod token {REVIEWER_HAZARD}; then every login fails with 403 permission denied",
        fix="rewrite the config without it: Vault then reads its own pod's token, re-read every minute",
        command=SETUP_COMMAND,
        evidence=refs(config, placement),
    )


def certificates(pem: str) -> frozenset[str]:
    """The certificates of a PEM bundle, as their base64 bodies without whitespace."""
    return frozenset("".join(body.split()) for body in _PEM_BODY.findall(pem))


@rule(Area.AUTH_CONFIG)
def stored_ca(evidence: Evidence, context: Context) -> Iterator[Verdict]:
    config = _config(evidence, "the stored CA")
    if isinstance(config, Verdict):
        yield config
        return
    path = f"auth/{context.settings.mount}/config"
    if not config.kubernetes_ca_cert:
        yield ok(f"{path} stores no CA: Vault uses its own pod's ca.crt, re-read every hour", config)
        return
    cluster = evidence.cluster
    if cluster is None or cluster.error is not None or not cluster.ca_pem:
        yield unread("the cluster's CA", cluster) or unknown(
            f"{path} stores a CA, and the cluster's CA is unknown, so whether they match is unknown",
            config,
            cluster,
        )
        return
    if not certificates(config.kubernetes_ca_cert) & certificates(cluster.ca_pem):
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"the CA stored in {path} is not the cluster's CA",
            cause="Vault's TokenReview calls fail with x509: certificate signed by unknown authority, and "
            "clients get a bare 403 permission denied",
            fix="rewrite the config without kubernetes_ca_cert (in the cluster) or with the cluster's CA",
            command=SETUP_COMMAND,
            evidence=refs(config, cluster),
        )
        return
    placement = evidence.placement
    if placement is not None and placement.in_cluster:
        yield Verdict(
            severity=Severity.WARNING,
            summary=f"{path} stores the cluster's CA while Vault runs in the cluster",
            cause="a stored CA goes stale when the cluster's CA rotates; without it Vault re-reads its pod's "
            "ca.crt every hour",
            fix="rewrite the config without kubernetes_ca_cert",
            command=SETUP_COMMAND,
            evidence=refs(config, cluster, placement),
        )
        return
    yield ok(f"the CA stored in {path} is the cluster's", config, cluster)


@rule(Area.AUTH_CONFIG)
def kubernetes_host_reachable(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    reach = evidence.host_reach
    if reach is None or reach.error is not None:
        yield missing("whether Vault reaches kubernetes_host", reach)
    elif reach.reachable is None:
        yield unknown(
            f"whether Vault reaches {reach.host or 'kubernetes_host'} is unknown"
            + (f" ({reach.detail})" if reach.detail else ""),
            reach,
        )
    elif not reach.reachable:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"Vault cannot reach kubernetes_host {reach.host}"
            + (f": {reach.detail}" if reach.detail else ""),
            cause="Vault's TokenReview calls fail to connect, and clients get a bare 403 permission denied",
            fix="set kubernetes_host to an address Vault reaches (in the cluster: https://kubernetes.default.svc)",
            command=SETUP_COMMAND,
            evidence=refs(reach),
        )
    else:
        yield ok(f"Vault reaches kubernetes_host {reach.host}", reach)


@rule(Area.AUTH_CONFIG)
def issuer_matches(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    config = _config(evidence, "the issuer check")
    if isinstance(config, Verdict):
        yield config
        return
    if config.disable_iss_validation is not False:
        yield ok("Vault does not validate the tokens' issuer (disable_iss_validation, the default)", config)
        return
    cluster = evidence.cluster
    if cluster is None or cluster.error is not None or cluster.issuer is None:
        yield unread("the cluster's issuer", cluster) or unknown(
            "Vault validates the issuer, and the cluster's issuer is unknown", config, cluster
        )
        return
    wanted = config.issuer or "kubernetes/serviceaccount"  # the plugin's fallback
    if wanted != cluster.issuer:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"Vault validates the issuer {wanted!r}, but the cluster issues tokens as "
            f"{cluster.issuer!r}",
            cause="every login fails with 403 and the JWT validator's issuer message",
            fix="rewrite the config with disable_iss_validation=true (the default since Vault 1.9)",
            command=SETUP_COMMAND,
            evidence=refs(config, cluster),
        )
        return
    yield ok(f"the issuer Vault validates is the cluster's ({cluster.issuer})", config, cluster)


RULES = (
    auth_mount_present,
    auth_config_written,
    stored_reviewer_token,
    stored_ca,
    kubernetes_host_reachable,
    issuer_matches,
)
