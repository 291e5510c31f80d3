"""The controller runtime: each controller names the storages it watches and maps a change to the keys
it must reconcile; the manager routes every committed change; each controller reconciles on its thread."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from vaultinject.lab.controllers.client import ApiError, Client, controller_user
from vaultinject.lab.controllers.events import Recorder
from vaultinject.lab.controllers.queue import WorkQueue
from vaultinject.lab.controllers.settings import ControllerSettings
from vaultinject.lab.kube.clock import Clock
from vaultinject.lab.kube.cluster import Cluster
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
Key = tuple[str, str]
"""(namespace, name) of the object a controller reconciles; namespace is "" for cluster-scoped ones."""
log = logging.getLogger(__name__)


@dataclass
class Context:
    """What every controller gets: the cluster, its clock and the timing settings."""

    cluster: Cluster
    clock: Clock
    settings: ControllerSettings


def key_of(obj: JSON) -> Key:
    metadata = obj["metadata"]
    return metadata.get("namespace", ""), metadata["name"]


def controller_owner(obj: JSON) -> JSON | None:
    """The owner reference with `controller: true`, if any."""
    return next((r for r in obj["metadata"].get("ownerReferences") or [] if r.get("controller")), None)


class Controller:
    """One reconcile loop. Subclasses set `name`, `watches` and implement `reconcile`; `keys_for` maps a
    change to keys (by default: the changed object itself, for the first storage in `watches`)."""

    name: ClassVar[str]
    """The controller's service account in kube-system, e.g. `replicaset-controller`."""
    component: ClassVar[str] = ""
    """The event source component; defaults to `name`."""
    watches: ClassVar[tuple[str, ...]]

    def __init__(self, context: Context) -> None:
        self.context = context
        self.cluster = context.cluster
        self.clock = context.clock
        self.settings = context.settings
        self.client = Client(context.cluster, controller_user(self.name))
        self.events = Recorder(self.client, context.clock, self.component or self.name)
        self.queue: WorkQueue[Key] = WorkQueue()
        self._thread: threading.Thread | None = None

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == self.watches[0]:
            return [key_of(change.obj)]
        return []

    def reconcile(self, key: Key) -> float | None:
        """Bring the object at `key` towards its desired state; return seconds after which to look again."""
        raise NotImplementedError

    def resync(self) -> None:
        """Queue every object of the primary storage (at start, and every resync period)."""
        for obj in self.client.store.list_objects(self.watches[0])[0]:
            self.queue.add(key_of(obj))

    # --- running ---

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"lab-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.queue.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while (key := self.queue.get()) is not None:
            try:
                again = self.reconcile(key)
            except ApiError as error:
                delay = self.queue.add_rate_limited(key)
                log.debug("%s: %s/%s: %s (again in %.2fs)", self.name, *key, error.message, delay)
            except Exception:
                delay = self.queue.add_rate_limited(key)
                log.exception("%s: reconciling %s/%s failed (again in %.2fs)", self.name, *key, delay)
            else:
                self.queue.forget(key)
                if again is not None:
                    self.queue.add_after(key, again)
            finally:
                self.queue.done(key)


class Manager:
    """Starts controllers, feeds them every committed change, and resyncs them periodically."""

    def __init__(self, context: Context, controllers: Iterable[Controller]) -> None:
        self.context = context
        self.controllers = list(controllers)
        self._changes: queue.SimpleQueue[Change | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._router = threading.Thread(target=self._route, name="lab-controller-router", daemon=True)
        context.cluster.store.subscribe(self._changes.put)

    def start(self) -> None:
        for controller in self.controllers:
            controller.resync()
            controller.start()
        self._router.start()

    def stop(self) -> None:
        self._stopping.set()
        self._changes.put(None)
        if self._router.is_alive():
            self._router.join(timeout=5)
        for controller in self.controllers:
            controller.stop()

    def _route(self) -> None:
        period = self.context.settings.resync_period
        next_resync = time.monotonic() + period
        while not self._stopping.is_set():
            try:
                change = self._changes.get(timeout=max(next_resync - time.monotonic(), 0.0))
            except queue.Empty:
                change = None
            if time.monotonic() >= next_resync:
                next_resync = time.monotonic() + period
                for controller in self.controllers:
                    controller.resync()
            if change is None:
                continue
            for controller in self.controllers:
                if change.storage in controller.watches:
                    try:
                        for key in controller.keys_for(change):
                            controller.queue.add(key)
                    except Exception:
                        log.exception("%s: routing a change to %s failed", controller.name, change.storage)
