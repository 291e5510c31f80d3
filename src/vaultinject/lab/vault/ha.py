"""High availability: one active node per shared storage, chosen by an exclusive lock; the others stand by.

The lock is an exclusive `flock` on `<data-dir>/ha.lock`. The kernel releases it the moment the holder's
process dies, so a standby, which tries for it every `ha_poll_interval`, takes over at once. The holder
writes its advertisement (API and cluster address) into the file: it is the leader address that standbys
report in `sys/leader` and forward requests to.

Only the active node loads state from storage and serves it (Vault's postUnseal, run on winning the lock);
a standby keeps nothing but its seal state, so no node ever answers from a stale copy of the storage.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vaultinject.lab.vault.durations import rfc3339

if TYPE_CHECKING:
    from vaultinject.lab.vault.core import Core

LOCK_FILE = "ha.lock"
FORWARDING_KEY = "core/ha/forwarding-key"
STANDBY, ACTIVATING, ACTIVE = "standby", "activating", "active"
LogSink = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Advertisement:
    """What the active node publishes: where clients (`api_addr`) and peers (`cluster_addr`) reach it."""

    api_addr: str
    cluster_addr: str


def default_cluster_addr(api_addr: str) -> str:
    """Vault's default: the API address's host on the next port, always https."""
    rest = api_addr.split("://", 1)[-1].split("/", 1)[0]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return f"https://{rest}:8201"
    return f"https://{host}:{int(port) + 1}"


class HALock:
    """An exclusive `flock` on a file in the storage directory; the file holds the holder's advertisement."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.held = False

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never blocks."""
        if self.held:
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.held = True
        return True

    def advertise(self, advertisement: Advertisement) -> None:
        """Write the holder's addresses into the lock file (only while holding it)."""
        data = json.dumps({"api_addr": advertisement.api_addr, "cluster_addr": advertisement.cluster_addr})
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, (data + "\n").encode(), 0)
        os.fsync(self._fd)

    def read(self) -> Advertisement | None:
        """The current holder's advertisement; None while the file is empty or half written."""
        raw = os.pread(self._fd, 65536, 0)
        if not raw.endswith(b"\n"):
            return None
        try:
            document = json.loads(raw)
            return Advertisement(str(document["api_addr"]), str(document.get("cluster_addr", "")))
        except (ValueError, KeyError, TypeError):
            return None

    def release(self) -> None:
        if not self.held:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self.held = False

    def close(self) -> None:
        self.release()
        os.close(self._fd)


class HANode:
    """This node's part in HA: it stands by, takes the lock when it is free, serves while it holds it.

    A background thread unseals the node by itself once the storage is initialized (with `--auto-unseal`),
    then tries for the lock. On winning it: advertise, emit `active` (the pod label, before post-unseal as
    Vault's advertiseLeader), load state, serve. Seal, step-down and shutdown give the lock back.
    """

    def __init__(self, core: Core, lock: HALock, log: LogSink) -> None:
        self.core = core
        self.lock = lock
        self.log = log
        self.advertisement = Advertisement("", "")
        self.active_since = 0.0
        self.forwarding_key = _forwarding_key(core)
        self._state = STANDBY
        self._changed = threading.Condition()
        self._transition = threading.RLock()
        self._stop = threading.Event()
        self._step_down = threading.Event()
        self._hold_off_until = 0.0
        self._thread: threading.Thread | None = None
        core.ha = self
        core.ha_enabled = True
        core.ha_mode = "standby"
        core.listeners.append(self._on_core_event)

    # -- what the rest of the server asks ----------------------------------------------------------

    def is_active(self) -> bool:
        return self._state == ACTIVE

    def wait_settled(self, timeout: float = 10.0) -> bool:
        """Wait while the node is taking over; returns whether it is active."""
        with self._changed:
            self._changed.wait_for(lambda: self._state != ACTIVATING, timeout)
            return self._state == ACTIVE

    def leader(self) -> Advertisement | None:
        """The active node's advertisement (this node's own when active); None when no leader is known."""
        if self._state != STANDBY:
            return self.advertisement
        value = self.lock.read()
        if value is None or value.api_addr == self.advertisement.api_addr:
            return None
        return value

    def active_time(self) -> str:
        return rfc3339(self.active_since) if self.is_active() else "0001-01-01T00:00:00Z"

    def request_step_down(self) -> None:
        """`sys/step-down`: give up active duty on the HA thread, as Vault does, once the answer is sent."""
        self._step_down.set()

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self, advertisement: Advertisement, poll_interval: float, step_down_wait: float) -> None:
        self.advertisement = advertisement
        self._thread = threading.Thread(
            target=self._run, args=(poll_interval, step_down_wait), name="vault-ha", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Leave active duty (label `vault-active=false`) and give the lock back."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._transition:
            if self._state != STANDBY:
                self._leave_active("shutting down")
        self.lock.close()

    def _run(self, poll_interval: float, step_down_wait: float) -> None:
        while not self._stop.wait(poll_interval):
            try:
                self._tick(step_down_wait)
            except Exception as error:
                self._log("error", f"HA loop failed: {error!r}")

    def _tick(self, step_down_wait: float) -> None:
        core = self.core
        if self._step_down.is_set():
            self._step_down.clear()
            with self._transition:
                if self._state == ACTIVE:
                    self._leave_active("stepping down from active operation to standby")
                    self._hold_off_until = time.monotonic() + step_down_wait
        if core.seal.sealed:
            if core.config.auto_unseal and core.seal.initialized:
                core.seal.unseal_automatically()
                core.unsealed()
            return
        if self._state == STANDBY and time.monotonic() >= self._hold_off_until and self.lock.try_acquire():
            self._become_active()

    def _become_active(self) -> None:
        core = self.core
        with self._transition:
            if core.seal.sealed or self._stop.is_set():
                self.lock.release()
                return
            self._set_state(ACTIVATING)
            self.lock.advertise(self.advertisement)
            self._log("info", "acquired lock, enabling active operation")
            core.emit("active")
            try:
                core.post_unseal()
            except Exception as error:
                self._log("error", f"post-unseal setup failed: {error!r}")
                self._leave_active("leadership lost, stopping active operation")
                return
            self.active_since = time.time()
            core.ha_mode = "active"
            self._set_state(ACTIVE)

    def _leave_active(self, message: str) -> None:
        self._set_state(STANDBY)
        self.core.ha_mode = "standby"
        self.core.pre_seal()
        self.lock.release()
        self._log("info", message)
        self.core.emit("standby")

    def _on_core_event(self, event: str) -> None:
        if event == "sealed":
            with self._transition:
                if self._state != STANDBY:
                    self._leave_active("sealing: leaving active operation")

    def _set_state(self, state: str) -> None:
        with self._changed:
            self._state = state
            self._changed.notify_all()

    def _log(self, level: str, message: str) -> None:
        self.log({"time": rfc3339(time.time()), "level": level, "msg": message})


def _forwarding_key(core: Core) -> str:
    """The secret that lets the active node trust a standby's `X-Vault-Lab-Forwarded-For` (real Vault
    forwards over mutually authenticated TLS on the cluster port; every lab node can read the storage)."""
    store = core.store
    with store.transaction():
        key = store.get(FORWARDING_KEY)
        if not isinstance(key, str):
            key = secrets.token_hex(32)
            store.put(FORWARDING_KEY, key)
    return key
