"""Automatic TLS against the lab API server: the leader's steps, their order, and the replicas' guard."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import trustme
from lightkube.resources.admissionregistration_v1 import MutatingWebhookConfiguration

from vaultinject.kube import Kube, load_config
from vaultinject.lab.kube.harness import LabKube, in_process_kube
from vaultinject.webhook.autotls import AutoTLS, Held, Lifetimes, Where
from vaultinject.webhook.tls import ServingCertificate, trusted_by

T = TypeVar("T")
LIFETIMES = Lifetimes(serving=dt.timedelta(hours=1), ca=dt.timedelta(hours=30))
CONFIG = "vaultinject"


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def registration(name: str, hooks: int = 2) -> dict[str, Any]:
    webhook = {
        "clientConfig": {"url": "https://127.0.0.1:9/mutate"},
        "rules": [
            {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
        ],
        "namespaceSelector": {"matchLabels": {"never": "matches"}},
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{**webhook, "name": f"hook-{i}.vaultinject.io"} for i in range(hooks)],
    }


@pytest.fixture
def kube_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabKube]:
    with in_process_kube(tmp_path_factory.mktemp("kube")) as server:
        server.ensure_namespace("vaultinject")
        path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
        server.call("POST", path, registration(CONFIG))
        yield server


def auto(kube: Kube, identity: str = "a", config: str = CONFIG) -> AutoTLS:
    where = Where(
        "vaultinject", "vaultinject-webhook-tls", config, ["127.0.0.1", "vaultinject.vaultinject.svc"]
    )
    return AutoTLS(kube, where, identity, lifetimes=LIFETIMES, sync_every=0.1)


async def published(kube: Kube, config: str = CONFIG) -> list[bytes]:
    mwc = await kube.get(MutatingWebhookConfiguration, config)
    return [base64.b64decode(hook.clientConfig.caBundle or "") for hook in mwc.webhooks or []]


def test_from_nothing_the_bundle_is_published_to_every_webhook_then_the_certificate_issued(
    kube_server: LabKube,
) -> None:
    async def scenario() -> None:
        async with Kube(load_config(kube_server.kubeconfig)) as kube:
            tls = auto(kube)
            await tls.reconcile()
            held = await tls._read()
            bundles = await published(kube)
            assert bundles == [held.bundle, held.bundle]
            assert trusted_by(held.cert, held.bundle)
            assert trusted_by(held.cert, held.signer_cert)
            await tls.reconcile()
            assert await tls._read() == held  # nothing due: a second round changes nothing

    run(scenario())


def test_no_certificate_is_issued_while_the_bundle_cannot_be_published(kube_server: LabKube) -> None:
    async def scenario() -> None:
        async with Kube(load_config(kube_server.kubeconfig)) as kube:
            tls = auto(kube, config="missing")
            await tls.reconcile()
            held = await tls._read()
            assert held.signer_cert
            assert held.cert == b""

    run(scenario())


def test_ca_rotation_keeps_the_old_ca_and_publishes_before_issuing(kube_server: LabKube) -> None:
    async def scenario() -> None:
        async with Kube(load_config(kube_server.kubeconfig)) as kube:
            tls = auto(kube)
            await tls.reconcile()
            before = await tls._read()
            later = dt.datetime.now(dt.UTC) + LIFETIMES.ca * 0.7
            await tls.reconcile(now=later)
            after = await tls._read()
            assert after.signer_cert != before.signer_cert
            assert before.signer_cert in after.bundle
            assert after.signer_cert in after.bundle
            assert trusted_by(before.cert, after.bundle)  # replicas still serving the old one stay trusted
            assert trusted_by(after.cert, after.signer_cert)
            assert await published(kube) == [after.bundle, after.bundle]

    run(scenario())


def test_a_new_leader_finishes_a_rotation_the_old_one_died_in(kube_server: LabKube) -> None:
    """The old leader stored a new CA and died before publishing it: nothing it left is served untrusted."""

    async def scenario() -> None:
        async with Kube(load_config(kube_server.kubeconfig)) as kube:
            old_leader = auto(kube, "a")
            await old_leader.reconcile()
            first = await old_leader._read()
            halfway = await old_leader._rotate_ca(first, dt.datetime.now(dt.UTC))  # step 1 only
            assert await published(kube) == [first.bundle, first.bundle]
            assert halfway.cert == first.cert  # the served certificate is still the old, published one
            assert trusted_by(halfway.cert, first.bundle)
            await auto(kube, "b").reconcile()
            done = await old_leader._read()
            assert await published(kube) == [halfway.bundle, halfway.bundle]
            assert (
                done.signer_cert == halfway.signer_cert
            )  # it finished this rotation rather than starting over
            assert trusted_by(done.cert, halfway.signer_cert)

    run(scenario())


def test_a_replica_never_serves_a_certificate_the_published_bundle_does_not_trust(
    kube_server: LabKube,
) -> None:
    async def scenario() -> None:
        async with Kube(load_config(kube_server.kubeconfig)) as kube:
            leader = auto(kube)
            await leader.reconcile()
            held = await leader._read()
            serving = ServingCertificate(held.cert, held.key, held.bundle)
            stranger = trustme.CA().issue_cert("127.0.0.1")
            forged = Held(held.bundle, held.signer_cert, held.signer_key,
                          stranger.cert_chain_pems[0].bytes(), stranger.private_key_pem.bytes())  # fmt: skip
            await leader._write(forged)
            follower = auto(kube, "b")
            following = asyncio.ensure_future(follower._follow(serving))
            await asyncio.sleep(0.5)
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
            assert trusted_by(serving.current.chain[0].public_bytes(_pem()), held.bundle)
            assert serving.trusted()[0]

    run(scenario())


def _pem() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.PEM
