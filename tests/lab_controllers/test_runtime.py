"""The controller runtime: the work queue's guarantees, the event recorder's counting, change routing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from vaultinject.lab.controllers.base import Context, Controller, Key, Manager
from vaultinject.lab.controllers.client import Client, controller_user
from vaultinject.lab.controllers.events import Recorder
from vaultinject.lab.controllers.queue import WorkQueue
from vaultinject.lab.controllers.settings import ControllerSettings
from vaultinject.lab.kube.harness import LabKube, in_process_kube, wait_for


def test_a_key_is_queued_once_and_never_handed_out_twice_at_a_time() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    queue.add("a")
    queue.add("b")
    assert len(queue) == 2
    assert queue.get(0) == "a"
    queue.add("a")  # changed while being worked on: comes back only after done
    assert queue.get(0) == "b"
    assert queue.get(0.01) is None
    queue.done("a")
    assert queue.get(0) == "a"


def test_delayed_and_rate_limited_keys_come_back_when_due() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("later", 0.05)
    assert queue.get(0) is None
    started = time.monotonic()
    assert queue.get(1) == "later"
    assert time.monotonic() - started >= 0.04
    queue.done("later")
    delays = [queue.add_rate_limited("x") for _ in range(3)]
    assert delays == sorted(delays)
    assert delays[2] == 4 * delays[0]
    queue.forget("x")
    assert queue.add_rate_limited("x") == delays[0]


def test_close_wakes_a_waiting_worker() -> None:
    queue: WorkQueue[str] = WorkQueue()
    got: list[str | None] = []
    worker = threading.Thread(target=lambda: got.append(queue.get()))
    worker.start()
    queue.close()
    worker.join(2)
    assert got == [None]


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    with in_process_kube(tmp_path / "kube") as server:
        yield server


def test_repeated_events_are_one_event_with_a_count(kube: LabKube) -> None:
    assert kube.server is not None
    cluster = kube.server.cluster
    kube.ensure_namespace("ev")
    pod = kube.create_pod("ev", "p")
    recorder = Recorder(Client(cluster, controller_user("test-controller")), cluster.clock, "test-controller")
    for _ in range(3):
        recorder.warning(pod, "BackOff", "Back-off restarting failed container")
    recorder.normal(pod, "Pulled", "other")
    events = kube.call("GET", "/api/v1/namespaces/ev/events")["items"]
    by_reason = {e["reason"]: e for e in events}
    assert by_reason["BackOff"]["count"] == 3
    assert by_reason["BackOff"]["type"] == "Warning"
    assert by_reason["BackOff"]["involvedObject"]["uid"] == pod["metadata"]["uid"]
    assert by_reason["BackOff"]["source"] == {"component": "test-controller"}
    assert by_reason["Pulled"]["count"] == 1


class _Echo(Controller):
    """Copies each ConfigMap's `data.want` into an annotation, as its controller's user."""

    name = "echo-controller"
    watches: ClassVar[tuple[str, ...]] = ("configmaps",)
    seen: ClassVar[list[Key]] = []

    def reconcile(self, key: Key) -> float | None:
        self.seen.append(key)
        cm = self.client.get("configmaps", *key)
        if cm is None or not (cm.get("data") or {}).get("want"):
            return None
        want = cm["data"]["want"]
        if (cm["metadata"].get("annotations") or {}).get("echo") != want:
            self.client.patch("configmaps", *key, {"metadata": {"annotations": {"echo": want}}})
        return None


def test_the_manager_routes_changes_to_a_controller_that_writes_through_the_api(kube: LabKube) -> None:
    assert kube.server is not None
    context = Context(kube.server.cluster, kube.server.clock, ControllerSettings(resync_period=0.2))
    manager = Manager(context, [_Echo(context)])
    manager.start()
    try:
        kube.ensure_namespace("echo")
        kube.call(
            "POST", "/api/v1/namespaces/echo/configmaps", {"metadata": {"name": "c"}, "data": {"want": "1"}}
        )
        path = "/api/v1/namespaces/echo/configmaps/c"
        wait_for(lambda: kube.call("GET", path)["metadata"].get("annotations", {}).get("echo") == "1")
        seen = len(_Echo.seen)
        wait_for(lambda: len(_Echo.seen) > seen + 1, timeout=3)  # resync brings it back with no change
    finally:
        manager.stop()
