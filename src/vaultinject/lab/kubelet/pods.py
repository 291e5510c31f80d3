"""The kubelet's pod source: list and watch the pods bound to this node and hand each to its worker."""

from __future__ import annotations

import http.client
import logging
import threading
from typing import Any

from vaultinject.lab.kubelet.api import ApiError, Gone
from vaultinject.lab.kubelet.worker import NodeContext, PodWorker

JSON = dict[str, Any]
log = logging.getLogger(__name__)
WATCH_SECONDS = 60


class PodManager:
    """Keeps one `PodWorker` per pod of the node, fed by a list+watch on `spec.nodeName`."""

    def __init__(self, node: NodeContext) -> None:
        self.node = node
        self.selector = f"spec.nodeName={node.name}"
        self.workers: dict[str, PodWorker] = {}
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._list_and_watch(stop)
            except Gone:
                continue
            except (ApiError, OSError, http.client.HTTPException, ValueError) as error:
                log.warning("node %s: pod watch failed: %s", self.node.name, error)
                stop.wait(1.0)

    def _list_and_watch(self, stop: threading.Event) -> None:
        listing = self.node.api.list("/api/v1/pods", self.selector)
        version = str(listing["metadata"]["resourceVersion"])
        present = {str(p["metadata"]["uid"]) for p in listing.get("items") or []}
        with self._lock:
            vanished = [w for uid, w in self.workers.items() if uid not in present]
        for worker in vanished:
            worker.deleted()
        for pod in listing.get("items") or []:
            self.observe(pod)
        for event in self.node.api.watch("/api/v1/pods", version, self.selector, WATCH_SECONDS):
            if stop.is_set():
                return
            obj = event.get("object") or {}
            if event.get("type") == "BOOKMARK":
                continue
            if event.get("type") == "DELETED":
                self.forget(obj)
            elif event.get("type") in ("ADDED", "MODIFIED"):
                self.observe(obj)

    def observe(self, pod: JSON) -> None:
        uid = str(pod["metadata"]["uid"])
        with self._lock:
            self._reap_finished()
            worker = self.workers.get(uid)
            if worker is None:
                worker = self.workers[uid] = PodWorker(self.node, pod)
                worker.start()
                return
        worker.update(pod)

    def forget(self, pod: JSON) -> None:
        with self._lock:
            worker = self.workers.get(str(pod["metadata"]["uid"]))
        if worker is not None:
            worker.deleted()

    def _reap_finished(self) -> None:
        for uid in [uid for uid, w in self.workers.items() if w.done.is_set() and w.gone]:
            del self.workers[uid]

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every pod at once (the node is going away): kill containers, unmount, delete state."""
        with self._lock:
            workers = list(self.workers.values())
        for worker in workers:
            worker.deleted()
        for worker in workers:
            worker.done.wait(timeout)
