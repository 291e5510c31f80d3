"""Automatic TLS: the webhook's own CA, kept in a Secret and published as the webhooks' `caBundle`.

One replica (the holder of a Lease) keeps the Secret and the bundle; every replica serves what the Secret
holds. A serving certificate is never unknown to the API server, by the order of the leader's steps:

1. a new CA is stored in the Secret beside the old one, both in its bundle (`ca.crt`);
2. that bundle is written to every webhook of the MutatingWebhookConfiguration;
3. only then is a serving certificate signed by the new CA written to the Secret.

The previous CA stays in the bundle until the next CA rotation, so replicas still serving the previous
certificate stay trusted while they reload. Each replica also checks, before serving a certificate from the
Secret, that the bundle the API server has right now trusts it, so not even a manual edit of the Secret or
a leader of another version can make a replica serve a certificate the API server would refuse.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import logging
from typing import NamedTuple

from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.admissionregistration_v1 import MutatingWebhookConfiguration
from lightkube.resources.core_v1 import Secret

from vaultinject.kube import Conflict, Kube, KubeError, LeaderElector, NotFound
from vaultinject.webhook import certs
from vaultinject.webhook.tls import CertificateError, ServingCertificate, trusted_by

log = logging.getLogger("vaultinject.webhook.tls")

# the Secret's keys, in the order of `Held`'s fields
KEYS = ("ca.crt", "ca-signer.crt", "ca-signer.key", "tls.crt", "tls.key")


class Lifetimes(NamedTuple):
    serving: dt.timedelta = dt.timedelta(hours=24)
    ca: dt.timedelta = dt.timedelta(days=365)
    renew_at: float = 2 / 3  # of a certificate's lifetime


class Where(NamedTuple):
    """The Secret that holds the certificates, and the webhook configuration that publishes the bundle."""

    namespace: str
    secret: str
    webhook_config: str
    hosts: list[str]  # the serving certificate's names: the Service's DNS names (or an IP address)


class Held(NamedTuple):
    """What the Secret holds (empty bytes for what it lacks)."""

    bundle: bytes = b""
    signer_cert: bytes = b""
    signer_key: bytes = b""
    cert: bytes = b""
    key: bytes = b""


class AutoTLS:
    """The leader's certificate steps and every replica's serving of their result."""

    def __init__(
        self,
        kube: Kube,
        where: Where,
        identity: str,
        *,
        lifetimes: Lifetimes | None = None,
        sync_every: float = 5.0,
        elector: LeaderElector | None = None,
    ) -> None:
        self.kube = kube
        self.namespace, self.secret, self.webhook_config, self.hosts = where
        self.lifetimes = lifetimes or Lifetimes()
        self.sync_every = sync_every
        self.elector = elector or LeaderElector(kube, f"{self.secret}-leader", self.namespace, identity)

    async def first_certificate(self) -> ServingCertificate:
        """Wait until the Secret holds a certificate the published bundle trusts, leading if elected."""
        leading = asyncio.ensure_future(self.elector.run(self._lead))
        try:
            while True:
                held, published = await self._held_and_published()
                if held.cert and trusted_by(held.cert, published):
                    return ServingCertificate(held.cert, held.key, published, origin=f"Secret {self.secret}")
                log.info("waiting for the serving certificate in Secret %s/%s", self.namespace, self.secret)
                await asyncio.sleep(self.sync_every / 5)
        finally:
            leading.cancel()
            await asyncio.gather(leading, return_exceptions=True)

    async def run(self, serving: ServingCertificate) -> None:
        """Until cancelled: lead when elected, and serve the Secret's certificate once it is trusted."""
        await asyncio.gather(self.elector.run(self._lead), self._follow(serving))

    async def _follow(self, serving: ServingCertificate) -> None:
        while True:
            try:
                held, published = await self._held_and_published()
                serving.bundle_pem = published
                if held.cert and trusted_by(held.cert, published):
                    serving.install(held.cert, held.key)
                elif held.cert:
                    log.info("the Secret's certificate is not trusted by the published bundle yet; waiting")
            except (KubeError, CertificateError) as error:
                log.warning("cannot refresh the serving certificate: %s", error)
            await asyncio.sleep(self.sync_every)

    async def _lead(self) -> None:
        while True:
            try:
                await self.reconcile()
            except KubeError as error:
                log.warning("certificate upkeep failed, retrying: %s", error)
            await asyncio.sleep(self.sync_every)

    async def reconcile(self, now: dt.datetime | None = None) -> None:
        """One round of the leader's steps; each is safe to repeat and to interrupt."""
        now = now or dt.datetime.now(dt.UTC)
        held = await self._read()
        if self._needs_ca(held, now):
            held = await self._rotate_ca(held, now)
        if not await self._publish(held.bundle):
            return
        if self._needs_serving_certificate(held, now):
            pair = certs.issue(
                certs.Pair(held.signer_cert, held.signer_key), self.hosts, self.lifetimes.serving, now
            )
            await self._write(held._replace(cert=pair.cert_pem, key=pair.key_pem))
            log.info("issued a serving certificate for %s", ", ".join(self.hosts))

    async def _rotate_ca(self, held: Held, now: dt.datetime) -> Held:
        ca = certs.create_ca(self.lifetimes.ca, now)
        rotated = held._replace(
            bundle=certs.bundle(held.signer_cert, ca.cert_pem), signer_cert=ca.cert_pem, signer_key=ca.key_pem
        )
        await self._write(rotated)
        log.info("created a new CA; the bundle now holds it and the previous one")
        return rotated

    def _needs_ca(self, held: Held, now: dt.datetime) -> bool:
        """A new CA at two thirds of the old one's life, and while it still outlives two serving certificates
        (a certificate never outlives its CA, so a CA near its end would make them short-lived)."""
        if not held.signer_cert:
            return True
        lifetimes = self.lifetimes
        return certs.due(held.signer_cert, now, lifetimes.renew_at) or not certs.outlives(
            held.signer_cert, now, 2 * lifetimes.serving
        )

    def _needs_serving_certificate(self, held: Held, now: dt.datetime) -> bool:
        if not held.cert or not trusted_by(held.cert, held.signer_cert):
            return True
        return certs.due(held.cert, now, self.lifetimes.renew_at)

    async def _publish(self, bundle: bytes) -> bool:
        """Make `bundle` the caBundle of every webhook of the configuration; True once they all hold it."""
        try:
            config = await self.kube.get(MutatingWebhookConfiguration, self.webhook_config)
        except NotFound:
            log.warning(
                "MutatingWebhookConfiguration %s does not exist: nothing to publish to", self.webhook_config
            )
            return False
        encoded = base64.b64encode(bundle).decode()
        stale = [hook for hook in config.webhooks or [] if hook.clientConfig.caBundle != encoded]
        if not stale:
            return True
        for hook in stale:
            hook.clientConfig.caBundle = encoded
        try:
            await self.kube.replace(config)
        except Conflict:
            return False  # changed meanwhile: the next round reads it again
        log.info("published the CA bundle to %d webhook(s) of %s", len(stale), self.webhook_config)
        return True

    async def _held_and_published(self) -> tuple[Held, bytes]:
        held = await self._read()
        try:
            config = await self.kube.get(MutatingWebhookConfiguration, self.webhook_config)
        except NotFound:
            return held, b""
        hooks = config.webhooks or []
        bundles = {base64.b64decode(hook.clientConfig.caBundle or "") for hook in hooks}
        # a certificate is served only if every webhook's bundle trusts it: use the one they all share
        return held, bundles.pop() if len(bundles) == 1 else b""

    async def _read(self) -> Held:
        try:
            secret = await self.kube.get(Secret, self.secret, self.namespace)
        except NotFound:
            return Held()
        data = secret.data or {}
        return Held(*(base64.b64decode(data.get(key, "")) for key in KEYS))

    async def _write(self, held: Held) -> None:
        data = {key: base64.b64encode(value).decode() for key, value in zip(KEYS, held, strict=True) if value}
        secret = Secret(
            metadata=ObjectMeta(name=self.secret, namespace=self.namespace), type="Opaque", data=data
        )
        try:
            current = await self.kube.get(Secret, self.secret, self.namespace)
        except NotFound:
            await self.kube.create(secret)
            return
        current.data = data
        await self.kube.replace(current)
