"""The injector: ready webhook endpoints, a caBundle that trusts the serving certificate, its expiry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from vaultinject.diagnosis.evidence import Evidence
from vaultinject.diagnosis.findings import Area, Severity
from vaultinject.diagnosis.rules.base import Context, Verdict, missing, ok, refs, rule, unknown

DAY = 86400.0
INSTALL_NAME = "vaultinject"  # the namespace, Deployment and app label `vaultinject install` uses


def _namespace(service: str) -> str:
    """The namespace of a `namespace/name` Service ("vaultinject" when it names none)."""
    return service.partition("/")[0] if "/" in service else INSTALL_NAME


def _restart(namespace: str) -> str:
    return f"kubectl -n {namespace} rollout restart deployment/{INSTALL_NAME}"


@rule(Area.INJECTOR)
def webhook_endpoints(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    endpoints = evidence.webhook_endpoints
    if endpoints is None or endpoints.error is not None:
        yield missing("the webhook's endpoints", endpoints)
    elif endpoints.ready is None:
        yield unknown(
            f"how many endpoints of {endpoints.service or 'the webhook'} are ready is unknown", endpoints
        )
    elif endpoints.ready == 0:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"the webhook Service {endpoints.service} has no ready endpoint"
            + (f" ({endpoints.not_ready} not ready)" if endpoints.not_ready else ""),
            cause="pods created now get no agent (failurePolicy Ignore) or are refused (Fail)",
            fix="check the webhook's pods and their logs",
            command=f"kubectl -n {_namespace(endpoints.service)} get pods "
            f"-l app.kubernetes.io/name={INSTALL_NAME}",
            evidence=refs(endpoints),
        )
    else:
        yield ok(
            f"the webhook Service {endpoints.service} has {endpoints.ready} ready endpoint(s)", endpoints
        )


@rule(Area.INJECTOR)
def webhook_ca_bundle(evidence: Evidence, _context: Context) -> Iterator[Verdict]:
    certificate = evidence.webhook_certificate
    if certificate is None or certificate.error is not None:
        yield missing("the webhook's caBundle", certificate)
    elif certificate.trusted is None:
        yield unknown("whether the webhook's caBundle trusts its serving certificate is unknown", certificate)
    elif not certificate.trusted:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"the caBundle of {certificate.configuration} does not trust the webhook's serving "
            "certificate",
            cause="the API server's calls to the webhook fail TLS verification, so pods get no agent "
            "(failurePolicy Ignore) or are refused (Fail)",
            fix="install again so the caBundle and the serving certificate come from the same CA",
            command="vaultinject install | kubectl apply -f -",
            evidence=refs(certificate),
        )
    else:
        yield ok(f"the caBundle of {certificate.configuration} trusts the serving certificate", certificate)


def _date(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@rule(Area.INJECTOR)
def webhook_certificate_expiry(evidence: Evidence, context: Context) -> Iterator[Verdict]:
    certificate = evidence.webhook_certificate
    if certificate is None or certificate.error is not None:
        yield missing("the webhook certificate's expiry", certificate)
        return
    if certificate.not_after is None:
        yield unknown("the webhook certificate's expiry is unknown", certificate)
        return
    left = certificate.not_after - context.now
    when = _date(certificate.not_after)
    if left <= 0:
        yield Verdict(
            severity=Severity.BROKEN,
            summary=f"the webhook's serving certificate expired at {when}",
            cause="the API server refuses the webhook's TLS, so pods get no agent or are refused",
            fix="renew the certificate (automatic certificates renew on the webhook's restart)",
            command=_restart(
                _namespace(evidence.webhook_endpoints.service if evidence.webhook_endpoints else "")
            ),
            evidence=refs(certificate),
        )
    elif left < context.settings.certificate_warning_days * DAY:
        yield Verdict(
            severity=Severity.WARNING,
            summary=f"the webhook's serving certificate expires in {left / DAY:.1f} days ({when})",
            cause="after that the API server refuses the webhook's TLS",
            fix="renew it before then",
            command=_restart(
                _namespace(evidence.webhook_endpoints.service if evidence.webhook_endpoints else "")
            ),
            evidence=refs(certificate),
        )
    else:
        yield ok(f"the webhook's serving certificate is valid until {when}", certificate)


RULES = (webhook_endpoints, webhook_ca_bundle, webhook_certificate_expiry)
