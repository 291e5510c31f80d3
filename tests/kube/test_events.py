"""`EventRecorder`: one Event per distinct occurrence, repeated occurrences counted, never raising."""

from __future__ import annotations

from lightkube.resources.core_v1 import Event, Pod

from tests.kube.conftest import admin, run
from vaultinject.kube import EventRecorder
from vaultinject.lab.kube.harness import LabKube


def test_repeats_are_counted_on_one_event(kube_server: LabKube, namespace: str) -> None:
    kube_server.create_pod(namespace, "app")

    async def scenario() -> None:
        async with admin(kube_server) as kube:
            pod = await kube.get(Pod, "app", namespace)
            assert pod.metadata is not None
            recorder = EventRecorder(kube, "vaultinject-healer", host="node-1")
            for _ in range(3):
                await recorder.warning(pod, "VaultLoginFailed", "403 permission denied")
            await recorder.normal(pod, "Recovered", "the pod logged in")
            events, _ = await kube.list(Event, namespace)
            by_reason = {event.reason: event for event in events}
            assert set(by_reason) == {"VaultLoginFailed", "Recovered"}
            failed = by_reason["VaultLoginFailed"]
            assert (failed.count, failed.type, failed.message) == (3, "Warning", "403 permission denied")
            assert failed.involvedObject.uid == pod.metadata.uid
            assert (failed.involvedObject.kind, failed.involvedObject.apiVersion) == ("Pod", "v1")
            assert failed.source is not None
            assert (failed.source.component, failed.source.host) == ("vaultinject-healer", "node-1")
            assert failed.firstTimestamp is not None
            assert failed.lastTimestamp is not None
            assert failed.firstTimestamp <= failed.lastTimestamp
            assert by_reason["Recovered"].count == 1

            # an Event that expired (or was deleted) meanwhile is created anew, not lost
            assert failed.metadata is not None
            await kube.delete(Event, failed.metadata.name or "", namespace)
            again = await recorder.warning(pod, "VaultLoginFailed", "403 permission denied")
            assert again is not None
            assert again.count == 1
            assert again.metadata is not None
            assert again.metadata.name != failed.metadata.name

    run(scenario())


def test_a_refused_event_is_dropped_not_raised(kube_server: LabKube, namespace: str) -> None:
    kube_server.create_pod(namespace, "app")

    async def scenario() -> None:
        async with admin(kube_server) as kube:
            pod = await kube.get(Pod, "app", namespace)
            assert pod.metadata is not None
            pod.metadata.namespace = "no-such-namespace"
            recorder = EventRecorder(kube, "vaultinject-healer")
            assert await recorder.warning(pod, "X", "y") is None
            long = await recorder.normal(await kube.get(Pod, "app", namespace), "Long", "m" * 5000)
            assert long is not None
            assert len(long.message or "") == 1024

    run(scenario())
